"""Celery side of the service: the app, its tasks and the beat schedule."""
