"""Demand forecasting domain: sales access, models, ensemble and the model store.

Nothing here imports Flask or Celery or reads the environment: paths, settings
and connections come in as arguments.
"""
