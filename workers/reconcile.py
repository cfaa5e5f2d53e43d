"""The reconciler, run by beat: every accepted job ends, truthfully, once.

Each pass covers one failure:

- the API (or a worker queueing a batch) died, or the broker refused, between recording a
  job and publishing it: the job is queued and unpublished; it is published (the outbox);
- the broker lost a published message (a Redis restarted without its last writes, a
  message acknowledged while the database was down): a queued job whose message the
  broker no longer holds is published again (Redis broker only; see jobs.broker_view);
- the worker running a job died (a child or the whole worker killed, a machine lost): its
  heartbeat stops (or its process is gone, on this host); the job is queued again, or
  failed saying so once its attempts are used up;
- a batch whose children ended while nothing settled it (a child failed by this pass,
  cancelled, or a settle cut short by an outage): it is settled;
- a training run left 'running' by an attempt that is gone: closed as 'interrupted';
- a product's queued mark that outlived its job: cleared.

A job is always sent again to the queue its first message went to (recorded with it:
a product's first forecast goes to the queue of forecasts that train, not its kind's).

Duplicates are harmless: a message for a job another live attempt holds, or one that
has ended, does nothing (jobs.leases).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis
from celery import Celery
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import DBAPIError

from config.settings import Settings

from forecasting.lifecycle.training_runs import interrupt_runs
from jobs import broker_view, leases, locks, orphans, records
from jobs.dispatch import publish
from workers import batch
from workers.jobrun import end_job
from workers.runtime import Runtime

log = logging.getLogger(__name__)

LOCK_KEY = "forecasting:lock:reconcile"
# Rows looked at per pass and kind: a backlog is worked off over a few passes.
LIMIT = 5000


def reconcile(rt: Runtime, celery: Celery) -> dict[str, int]:
    """Run one pass (unless another is running); return what it did, by kind."""
    s = rt.settings
    if not rt.redis.set(LOCK_KEY, leases.owner_id(), nx=True, ex=max(60, 4 * s.reconcile_interval_seconds)):
        return {}
    try:
        done = {
            "published": _publish_unpublished(rt, celery),
            "republished": _republish_lost(rt, celery),
            **_recover_silent(rt, celery),
            "settled": _settle_batches(rt),
            "runs_interrupted": interrupt_runs(
                rt.engine, run_ids=orphans.interrupted_runs(rt.engine, no_job_after=s.task_time_limit, limit=LIMIT),
                error="interrupted: the worker running this training was lost"),
            "marks_cleared": _clear_marks(rt),
        }
    finally:
        rt.redis.delete(LOCK_KEY)
    if any(done.values()):
        log.info("jobs reconciled", extra={"fields": done})
    return done


def run_in_beat(settings: Settings, celery: Celery) -> threading.Event:
    """Start a pass every RECONCILE_INTERVAL_SECONDS on a daemon thread of this (beat) process; return its stop event.

    In beat rather than queued as a task: a pass then never waits behind other work on a
    worker (a bulk retrain queueing its children, a first forecast training), and it runs
    whatever worker died. Beat is one process; the pass's lock keeps a second one out.
    """
    stop = threading.Event()

    def loop() -> None:
        rt: Runtime | None = None
        while not stop.wait(settings.reconcile_interval_seconds):
            try:
                rt = rt or Runtime.create(settings)
                reconcile(rt, celery)
            except (DBAPIError, redis.RedisError, BrokerError, OSError) as exc:
                # The database, Redis or the broker is away: the next pass tries again.
                log.warning("reconciler pass failed", extra={"fields": {"error": str(exc)}})

    threading.Thread(target=loop, name="reconciler", daemon=True).start()
    return stop


def _send(rt: Runtime, celery: Celery, job: dict[str, Any]) -> bool:
    try:
        publish(celery, job)
    except (BrokerError, ConnectionError, OSError, redis.RedisError) as exc:
        log.warning("broker unavailable; publishing again next pass", extra={"fields": {"error": str(exc)}})
        return False
    records.mark_published(rt.engine, job_id=job["id"])
    return True


def _publish_unpublished(rt: Runtime, celery: Celery) -> int:
    sent = 0
    for job in orphans.unpublished(rt.engine, older_than=rt.settings.job_publish_grace_seconds, limit=LIMIT):
        if not _send(rt, celery, job):
            break
        sent += 1
    return sent


def _republish_lost(rt: Runtime, celery: Celery) -> int:
    candidates = orphans.published_queued(rt.engine, older_than=rt.settings.job_publish_grace_seconds, limit=LIMIT)
    if not candidates:
        return 0
    held = broker_view.held_task_ids(celery)
    if held is None:
        return 0
    missing = [job for job in candidates if job["id"] not in held]
    # Read again after the broker: a job taken by a worker meanwhile is running, not lost.
    still = orphans.statuses(rt.engine, job_ids=[job["id"] for job in missing])
    sent = 0
    for job in missing:
        if still.get(job["id"]) != "queued":
            continue
        log.warning("job message lost; publishing it again", extra={"fields": {"job_id": job["id"]}})
        if not _send(rt, celery, job):
            break
        sent += 1
    return sent


def _recover_silent(rt: Runtime, celery: Celery) -> dict[str, int]:
    s = rt.settings
    silent = {job["id"]: job for job in orphans.silent_running(rt.engine, older_than=s.job_heartbeat_timeout_seconds,
                                                                limit=LIMIT)}
    # On this host a dead process is known at once, without waiting for its heartbeat to age.
    for job in orphans.held_running(rt.engine, limit=LIMIT):
        if leases.owner_alive(job["owner"]) is False:
            silent.setdefault(job["id"], job)
    requeued = failed = 0
    for job in silent.values():
        fields = {"job_id": job["id"], "owner": job["owner"], "attempts": job["attempts"]}
        if job["attempts"] >= rt.lease.max_attempts:
            done = end_job(rt.engine, rt.redis, job["id"], status="failed", owner=job["owner"], error=records.coded_error(
                "worker_lost", f"Gave up after {job['attempts']} attempts: each was lost (its worker died, "
                               "or the database or Redis was unreachable)."))
            if done["status"] == "failed":
                failed += 1
                log.warning("job failed: its worker was lost too often", extra={"fields": fields})
                _after_end(rt, done)
            continue
        if leases.requeue(rt.engine, job_id=job["id"], owner=job["owner"]):
            requeued += 1
            log.warning("job's worker lost; queued again", extra={"fields": fields})
            again = records.get_job(rt.engine, job_id=job["id"])
            if again["status"] == "queued":
                _send(rt, celery, again)
    return {"requeued": requeued, "failed_lost": failed}


def _after_end(rt: Runtime, job: dict[str, Any]) -> None:
    if job["kind"] == "train" and job["product_id"] is not None:
        locks.clear_queued(rt.redis, job["product_id"], job["id"])
    if job["parent_id"]:
        batch.settle(rt, job["parent_id"])


def _settle_batches(rt: Runtime) -> int:
    settled = 0
    for batch_id in orphans.open_batches(rt.engine, limit=LIMIT):
        batch.settle(rt, batch_id)
        settled += records.get_job(rt.engine, job_id=batch_id)["status"] in records.TERMINAL
    return settled


def _clear_marks(rt: Runtime) -> int:
    marks = {pid: job_id for pid, job_id in locks.queued_marks(rt.redis).items() if job_id}
    status = orphans.statuses(rt.engine, job_ids=list(marks.values()))
    cleared = 0
    for product_id, job_id in marks.items():
        if status.get(job_id) in (None, *records.TERMINAL):
            locks.clear_queued(rt.redis, product_id, job_id)
            cleared += 1
    return cleared
