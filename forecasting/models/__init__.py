"""The members of a model set, their features and target transform, the ensemble and its training.

Works on series it is handed: it imports nothing from data/, store/ or lifecycle/.
"""
