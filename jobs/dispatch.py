"""Create a job record and hand it to Celery, by task name (no task import)."""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import Celery
from kombu.exceptions import OperationalError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from jobs import locks, records
from jobs.celery_app import TASKS

log = logging.getLogger(__name__)


class BrokerUnavailable(RuntimeError):
    """The message broker did not take the job."""


def submit(engine: Engine, celery: Celery, *, kind: str, product_id: int | None, params: dict[str, Any],
           parent_id: str | None = None, job_id: str | None = None, queue: str | None = None,
           keep_unsent: bool = False) -> dict[str, Any]:
    """Record a queued job (under `job_id` if given) and send its task; on a broker failure the job is marked failed.

    The job row is the outbox entry: recorded unpublished in one transaction, then published
    here. Should this process die in between, the reconciler publishes it. `queue` overrides
    the kind's queue (:data:`jobs.celery_app.TASKS`) and is recorded with the job, so every
    later send (the reconciler's) goes where the first one went; `keep_unsent` is :func:`send`'s.
    """
    job = records.create_job(engine, kind=kind, product_id=product_id, parent_id=parent_id, params=params,
                             job_id=job_id, queue=queue or TASKS[kind][1])
    send(engine, celery, job, keep_unsent=keep_unsent)
    return job


def publish(celery: Celery, job: dict[str, Any]) -> None:
    """Hand the job's task message to the broker, on its recorded queue or else its kind's (raises the broker's error)."""
    name, default_queue = TASKS[job["kind"]]
    celery.send_task(name, args=[job["id"]], task_id=job["id"], queue=job.get("queue") or default_queue, retry=True,
                     retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5})


def send(engine: Engine, celery: Celery, job: dict[str, Any], *, keep_unsent: bool = False) -> None:
    """Send the task of an existing queued job and mark it published.

    When the broker does not take it, the job is failed and BrokerUnavailable raised (a
    request is refused, nothing is left half-written); with `keep_unsent` (a worker queueing
    work) it stays queued and unpublished instead, and the reconciler publishes it later.
    """
    try:
        publish(celery, job)
    except (OperationalError, ConnectionError, OSError) as exc:
        if keep_unsent:
            log.warning("job left for the reconciler to publish", extra={"fields": {"job_id": job["id"],
                                                                                     "error": str(exc)}})
            return
        # The driver's text names hosts and ports: it goes to the log, the job says what it means.
        records.finish_job(engine, job_id=job["id"], status="failed", error=records.coded_error(
            "broker_unavailable", "The message broker is unavailable; the job was not queued. Retry later."))
        log.error("broker unavailable", extra={"fields": {"job_id": job["id"], "error": str(exc)}})
        raise BrokerUnavailable(str(exc)) from exc
    try:
        records.mark_published(engine, job_id=job["id"])
    except DBAPIError as exc:
        # The message is out: the job runs. Left unmarked, the reconciler publishes it once more,
        # and that second message finds the job taken (jobs.leases) and does nothing.
        log.warning("job published but not marked", extra={"fields": {"job_id": job["id"], "error": str(exc)}})


def queue_training(engine: Engine, celery: Celery, client: redis.Redis, *, product_id: int, params: dict[str, Any],
                   expire: int, parent_id: str | None = None, keep_unsent: bool = False,
                   ) -> tuple[dict[str, Any] | None, bool]:
    """Queue the product's training unless one is queued already; return (job, created)."""
    if not locks.claim_queued(client, product_id, expire=expire):
        existing = locks.queued_job(client, product_id)
        # Empty while another process is between its claim and its job record.
        return (records.get_job(engine, job_id=existing) if existing else None), False
    try:
        job = records.create_job(engine, kind="train", product_id=product_id, parent_id=parent_id, params=params,
                                 queue=TASKS["train"][1])
        locks.set_queued(client, product_id, job["id"], expire=expire)
        send(engine, celery, job, keep_unsent=keep_unsent)
    except BaseException:
        locks.clear_queued(client, product_id)
        raise
    return job, True
