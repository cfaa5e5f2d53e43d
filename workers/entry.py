"""Entry point of `celery -A workers.entry worker|beat`."""

from celery.signals import beat_init, setup_logging

from config.logs import configure_logging
from config.settings import load_settings
from jobs import metrics
from jobs.celery_app import create_celery

settings = load_settings()
celery_app = create_celery(settings)
# In the parent, before the pool forks: each child then writes its own samples beside the API's.
metrics.configure(settings.prometheus_multiproc_dir)


@setup_logging.connect
def _configure_logging(**kwargs: object) -> None:
    configure_logging(settings.log_level)


@beat_init.connect
def _start_reconciler(**kwargs: object) -> None:
    from workers.reconcile import run_in_beat

    run_in_beat(settings, celery_app)
