"""Create a job record and hand it to Celery, by task name (no task import)."""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import Celery
from kombu.exceptions import OperationalError
from sqlalchemy.engine import Engine

from jobs import locks, records
from jobs.celery_app import TASKS

log = logging.getLogger(__name__)


class BrokerUnavailable(RuntimeError):
    """The message broker did not take the job."""


def submit(engine: Engine, celery: Celery, *, kind: str, product_id: int | None, params: dict[str, Any],
           parent_id: str | None = None, job_id: str | None = None, queue: str | None = None) -> dict[str, Any]:
    """Record a queued job (under `job_id` if given) and send its task; on a broker failure the job is marked failed.

    `queue` overrides the kind's queue (:data:`jobs.celery_app.TASKS`).
    """
    job = records.create_job(engine, kind=kind, product_id=product_id, parent_id=parent_id, params=params, job_id=job_id)
    send(engine, celery, job, queue=queue)
    return job


def send(engine: Engine, celery: Celery, job: dict[str, Any], *, queue: str | None = None) -> None:
    """Send the task of an existing queued job, on `queue` or its kind's queue."""
    name, default_queue = TASKS[job["kind"]]
    queue = queue or default_queue
    try:
        celery.send_task(name, args=[job["id"]], task_id=job["id"], queue=queue, retry=True,
                         retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5})
    except (OperationalError, ConnectionError, OSError) as exc:
        # The driver's text names hosts and ports: it goes to the log, the job says what it means.
        records.finish_job(engine, job_id=job["id"], status="failed", error=records.coded_error(
            "broker_unavailable", "The message broker is unavailable; the job was not queued. Retry later."))
        log.error("broker unavailable", extra={"fields": {"job_id": job["id"], "error": str(exc)}})
        raise BrokerUnavailable(str(exc)) from exc


def queue_training(engine: Engine, celery: Celery, client: redis.Redis, *, product_id: int, params: dict[str, Any],
                   expire: int, parent_id: str | None = None) -> tuple[dict[str, Any] | None, bool]:
    """Queue the product's training unless one is queued already; return (job, created)."""
    if not locks.claim_queued(client, product_id, expire=expire):
        existing = locks.queued_job(client, product_id)
        # Empty while another process is between its claim and its job record.
        return (records.get_job(engine, job_id=existing) if existing else None), False
    try:
        job = records.create_job(engine, kind="train", product_id=product_id, parent_id=parent_id, params=params)
        locks.set_queued(client, product_id, job["id"], expire=expire)
        send(engine, celery, job)
    except BaseException:
        locks.clear_queued(client, product_id)
        raise
    return job, True
