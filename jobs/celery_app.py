"""The Celery app of the service: its queues, the names of its tasks, and its reliability settings.

Task names are defined here once: the workers register their tasks under them and
`jobs.dispatch` sends by them, so the API never imports the tasks' modules.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Exchange, Queue

from config.settings import Settings, is_redis_url

FORECAST_QUEUE = "forecast"
# Forecasts that must train first (a product's first forecast, or one whose set went stale):
# a worker of their own, so they neither hold up the forecasts of fresh sets nor wait behind
# a bulk retrain on the training queue.
FORECAST_TRAINING_QUEUE = "forecast-training"
TRAINING_QUEUE = "training"
# Queueing a batch's children (a bulk retrain or a bulk forecast of 1,000 products: 14 s on
# SQLite, 24 s on PostgreSQL): a queue of its own, served by the training worker (Procfile), so
# neither the forecasts of fresh sets nor a product's first forecast wait behind it, and a
# batch waits for one training to end, not behind every training already queued.
BATCH_QUEUE = "batch"
QUEUES = (FORECAST_QUEUE, FORECAST_TRAINING_QUEUE, TRAINING_QUEUE, BATCH_QUEUE)

FORECAST_TASK = "forecast.product"
TRAINING_TASK = "training.product"
BATCH_TASK = "batch.dispatch"
SCAN_TASK = "training.scan"
PRUNE_TASK = "jobs.prune"
# Run by beat itself on a thread (workers.reconcile.run_in_beat), so no queue delays it; also a
# task, to run one pass at once: `celery -A workers.entry call jobs.reconcile`.
RECONCILE_TASK = "jobs.reconcile"

#: The task and queue of each kind of job (a forecast that must train first is sent to
#: FORECAST_TRAINING_QUEUE instead: the queue a job was sent to is recorded with it, see
#: jobs.dispatch.submit).
TASKS = {
    "forecast": (FORECAST_TASK, FORECAST_QUEUE),
    "train": (TRAINING_TASK, TRAINING_QUEUE),
    "batch": (BATCH_TASK, BATCH_QUEUE),
}


def broker_transport_options(settings: Settings) -> dict[str, Any]:
    """Return the options of the broker CELERY_BROKER_URL (or REDIS_URL) names: Redis or RabbitMQ."""
    if is_redis_url(settings.broker_url):
        # Unacked messages come back after this; it must outlast the longest task.
        return {"visibility_timeout": settings.task_time_limit + 600}
    # RabbitMQ redelivers an unacked message as soon as its consumer's connection drops (a
    # killed worker), so it needs no visibility timeout. Its limit on how long a message may
    # stay unacked is the *server's* consumer_timeout (30 min by default, below
    # TASK_TIME_LIMIT): set it above TASK_TIME_LIMIT in rabbitmq.conf, as
    # docker-compose.rabbitmq.yml does. Publisher confirms: a job is recorded as queued
    # only once the broker has taken its message.
    return {"confirm_publish": True}


def create_celery(settings: Settings) -> Celery:
    """Return a Celery app configured for long, crash-safe ML tasks."""
    app = Celery("forecasting_service", include=["workers.tasks"])
    app.conf.update(
        broker_url=settings.broker_url,
        task_ignore_result=True,  # job state lives in the database, not in a result backend
        task_queues=tuple(Queue(name, Exchange(name), routing_key=name) for name in QUEUES),
        task_default_queue=FORECAST_QUEUE,
        task_routes={
            "forecast.*": {"queue": FORECAST_QUEUE},
            "training.*": {"queue": TRAINING_QUEUE},
            "batch.*": {"queue": BATCH_QUEUE},
        },
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=settings.task_soft_time_limit,
        task_time_limit=settings.task_time_limit,
        broker_transport_options=broker_transport_options(settings),
        # A child's start on a busy machine can take longer than the default 4 s.
        worker_proc_alive_timeout=60,
        # No worker_max_tasks_per_child here: only the training worker recycles its children
        # (Procfile, WORKER_MAX_TASKS_PER_CHILD). A forecast child replaced every N tasks stalled the
        # forecasts behind it for seconds; the memory limit below still replaces one that grew.
        worker_max_memory_per_child=settings.worker_max_memory_per_child_kb,
        worker_hijack_root_logger=False,
        # Task events stay off (Celery's default): each is one more broker publish per task,
        # on the path of every forecast. Flower switches the workers' events on when it runs.
        broker_connection_retry_on_startup=True,
        beat_schedule={
            "scan-stale-models": {
                "task": SCAN_TASK,
                "schedule": float(settings.retrain_scan_interval_seconds),
                "options": {"queue": TRAINING_QUEUE, "expires": settings.retrain_scan_interval_seconds},
            },
            "prune-ended-jobs": {
                "task": PRUNE_TASK,
                "schedule": float(settings.job_prune_interval_seconds),
                # Housekeeping beside the batches, on the training worker: a large delete never
                # holds up the forecast worker.
                "options": {"queue": BATCH_QUEUE, "expires": settings.job_prune_interval_seconds},
            },
        },
        timezone="UTC",
    )
    app.conf.forecasting_settings = settings
    return app

