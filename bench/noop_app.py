"""A bench-only Celery app with one no-op task: the floor of a round trip on the broker.

    BENCH_BROKER_URL=redis://... celery -A bench.noop_app worker --queues noop
"""

import os

from celery import Celery

QUEUE = "noop"
app = Celery("bench_noop", broker=os.environ["BENCH_BROKER_URL"], backend=os.environ["BENCH_BROKER_URL"])
# The delivery settings of the service's app (jobs/celery_app.py), so only the task body differs.
app.conf.update(task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
                task_default_queue=QUEUE, broker_connection_retry_on_startup=True, worker_hijack_root_logger=False)


@app.task(name="bench.noop")
def noop() -> None:
    """Do nothing."""
