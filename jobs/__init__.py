"""The service's jobs: their table and records, the Celery app and task names, dispatch, locks, end events.

Used by both api/ and workers/, and importing neither: the API records and sends jobs,
the workers run them, and both read the same records.
"""
