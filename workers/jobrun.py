"""Keep a job record truthful around a task run: running, progress, outcome."""

from __future__ import annotations

import errno
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis
from billiard.exceptions import SoftTimeLimitExceeded
from celery.exceptions import Reject
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from forecasting.errors import (
    ForecastingError,
    InsufficientHistory,
    InvalidForecastOptions,
    InvalidSalesData,
    ModelSetNotFound,
    ProductNotFound,
)
from jobs import events as job_events
from jobs import leases, records
from jobs.locks import LockTimeout

log = logging.getLogger(__name__)


# Failures whose message is written for the client; any other exception is an internal error,
# told to the client by code and job id only, since its text may name paths, hosts or drivers.
ERROR_CODES: dict[type[Exception], str] = {
    InsufficientHistory: "insufficient_history",
    ProductNotFound: "product_not_found",
    ModelSetNotFound: "model_set_not_found",
    InvalidSalesData: "invalid_sales_data",
    InvalidForecastOptions: "invalid_forecast_options",
    LockTimeout: "training_busy",
}


def internal_error(job_id: str) -> str:
    """Return the stored error of a job that failed inside the service."""
    return records.coded_error("internal_error", f"the job failed; see the service logs for job {job_id}")


# A volume the job writes to that cannot take the write: said as such, not as an internal error.
STORAGE_ERRORS = {
    errno.ENOSPC: ("storage_full", "No space left on the model volume; the model set in use was kept."),
    errno.EDQUOT: ("storage_full", "The model volume's quota is used up; the model set in use was kept."),
    errno.EROFS: ("storage_read_only", "The model volume is read-only; the model set in use was kept."),
}


def storage_error(exc: BaseException | None) -> str | None:
    """Return the coded error of a full or read-only volume found in `exc` or its causes, else None."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in STORAGE_ERRORS:
            return records.coded_error(*STORAGE_ERRORS[exc.errno])
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def _client_error(exc: Exception) -> str | None:
    code = next((code for kind, code in ERROR_CODES.items() if isinstance(exc, kind)), None)
    return records.coded_error(code, str(exc)) if code else None


# A part the job needs went away while it ran: the work is lost, not failed, and is run again.
OUTAGES = (redis.ConnectionError, redis.TimeoutError, OperationalError, InterfaceError)


class NotRun(Exception):
    """The job is not run: it already ended, another attempt holds it, or its attempts were used up."""


class JobCancelled(BaseException):
    """The job was cancelled (or taken from this attempt) while it ran; raised at its next progress report.

    A BaseException, like KeyboardInterrupt: the training code leaves out a member whose fit
    raises an Exception and carries on, and a cancellation must stop the whole set instead.
    """


@dataclass(frozen=True)
class Lease:
    """How a job's attempt claims and keeps it (settings JOB_HEARTBEAT_SECONDS, JOB_HEARTBEAT_TIMEOUT_SECONDS)."""

    max_attempts: int
    min_step: int
    heartbeat_seconds: float
    stale_after: float
    # Seconds an attempt keeps trying to record its job's end while the database is away.
    end_retry_seconds: float = 60.0


class JobRun:
    """One attempt at a job; `progress` writes (stage, percent) in steps, and is a heartbeat."""

    def __init__(self, engine: Engine, job: dict[str, Any], min_step: int, owner: str | None = None,
                 heartbeat: leases.Heartbeat | None = None) -> None:
        self.engine = engine
        self.job = job
        self.id: str = job["id"]
        self.min_step = min_step
        self.owner = owner
        self.heartbeat = heartbeat
        self._last: tuple[str | None, int] = (None, -min_step)
        self.outcome: dict[str, Any] | None = None
        self.status: str | None = "succeeded"

    def progress(self, stage: str, percent: int) -> None:
        """Record progress when the stage changes or it moved at least min_step; raise JobCancelled if it ended."""
        if self.heartbeat is not None and self.heartbeat.lost.is_set():
            raise JobCancelled(self.id)
        last_stage, last_pct = self._last
        if stage != last_stage or percent - last_pct >= self.min_step:
            try:
                held = records.set_progress(self.engine, job_id=self.id, stage=stage, progress=percent,
                                            owner=self.owner)
            except DBAPIError as exc:
                # Progress is a report, not the work: a database away for a moment does not stop a training.
                log.warning("progress not recorded", extra={"fields": {"job_id": self.id, "error": str(exc)}})
                return
            if not held:
                raise JobCancelled(self.id)
            self._last = (stage, percent)

    def finish(self, result: dict[str, Any], status: str = "succeeded") -> None:
        """Set what the job returns and how it ended."""
        self.outcome, self.status = result, status

    def detach(self) -> None:
        """Leave the job running, held by no process, when this attempt returns (a batch waiting on its children)."""
        self.status = None


def end_job(engine: Engine, client: redis.Redis, job_id: str, *, retry_seconds: float = 0.0,
            **outcome: Any) -> dict[str, Any]:
    """End the job (:func:`jobs.records.finish_job`), then announce it to its waiters.

    While the database is unreachable the end is tried again each second for up to
    `retry_seconds`, so work that completed during a short outage still ends succeeded.
    """
    deadline = time.monotonic() + retry_seconds
    while True:
        try:
            job = records.finish_job(engine, job_id=job_id, **outcome)
            break
        except (OperationalError, InterfaceError):
            if time.monotonic() >= deadline:
                raise
            time.sleep(1.0)
    job_events.announce(client, job_id)
    return job


def _hand_back(engine: Engine, job_id: str, owner: str, exc: BaseException, fields: dict[str, Any]) -> None:
    # The reconciler publishes a requeued job again; with the database away too, the job keeps
    # its stale heartbeat and the reconciler requeues it once the database is back.
    log.warning("job lost to an outage; handed back", extra={"fields": {**fields, "error": str(exc)}})
    try:
        leases.requeue(engine, job_id=job_id, owner=owner)
    except DBAPIError as again:
        log.warning("job not handed back", extra={"fields": {**fields, "error": str(again)}})


@contextmanager
def job_run(engine: Engine, client: redis.Redis, job_id: str, *, lease: Lease,
            ended: Callable[[dict[str, Any]], None] | None = None) -> Iterator[JobRun]:
    """Claim the job, yield a JobRun, and record success or a clear failure (announced on `client`).

    `ended(job)` is called once the job has ended, in this attempt or before it (a batch
    child settles its batch so, however it ended). Raises NotRun when the job is not run.
    """
    owner = leases.owner_id()
    try:
        verdict, job = leases.claim(engine, job_id=job_id, owner=owner, stale_after=lease.stale_after)
    except (OperationalError, InterfaceError) as exc:
        # Not acked: the message goes back to the queue and is tried again once the database answers.
        log.warning("job not claimed: database unreachable", extra={"fields": {"job_id": job_id, "error": str(exc)}})
        time.sleep(2.0)
        raise Reject(exc, requeue=True) from exc
    fields = {"job_id": job_id, "kind": job["kind"], "product_id": job["product_id"], "attempt": job["attempts"]}
    if verdict == leases.ENDED:
        # A redelivered message of a job that already ended: nothing left to do.
        _ended(ended, job)
        raise NotRun(job_id)
    if verdict == leases.BUSY:
        log.info("job already running elsewhere; message dropped", extra={"fields": {**fields, "owner": job["owner"]}})
        raise NotRun(job_id)
    attempts = job["attempts"]
    if attempts > lease.max_attempts:
        done = end_job(engine, client, job_id, status="failed", retry_seconds=lease.end_retry_seconds,
                       error=records.coded_error("worker_lost", f"Gave up after {attempts - 1} attempts: each was "
                                                 "lost (its worker died, or the database or Redis was unreachable)."))
        _ended(ended, done)
        raise NotRun(job_id)
    with leases.Heartbeat(engine, job_id=job_id, owner=owner, every=lease.heartbeat_seconds) as heartbeat:
        run = JobRun(engine, job, lease.min_step, owner=owner, heartbeat=heartbeat)
        log.info("job started", extra={"fields": fields})
        outcome: dict[str, Any]
        try:
            yield run
        except JobCancelled:
            # The job is already recorded as cancelled (or was taken from this attempt, which lost its
            # heartbeat); what this attempt made is not recorded as the job's outcome.
            log.info("job stopped: cancelled, or taken from this attempt", extra={"fields": fields})
            job_events.announce(client, job_id)
            try:
                current = records.get_job(engine, job_id=job_id)
            except DBAPIError:
                current = None  # the reconciler settles what this cannot
            if current is not None and current["status"] in records.TERMINAL:
                _ended(ended, current)  # cancelled; a job taken over has not ended
            raise NotRun(job_id) from None
        except (ForecastingError, LockTimeout) as exc:
            error = _client_error(exc) or storage_error(exc)
            if error is None:
                log.error("job failed", exc_info=exc, extra={"fields": {**fields, "error": str(exc)}})
            else:
                log.info("job failed", extra={"fields": {**fields, "error": str(exc)}})
            outcome = {"status": "failed", "error": error or internal_error(job_id)}
        except SoftTimeLimitExceeded:
            log.warning("job timed out", extra={"fields": fields})
            outcome = {"status": "failed", "error": records.coded_error(
                "time_limit", "The job ran past its time limit and was stopped.")}
        except OUTAGES as exc:
            _hand_back(engine, job_id, owner, exc, fields)
            raise NotRun(job_id) from None
        except Exception as exc:
            if (stored := storage_error(exc)) is None:
                log.exception("job crashed", extra={"fields": fields})
                done = end_job(engine, client, job_id, status="failed", error=internal_error(job_id), owner=owner,
                               retry_seconds=lease.end_retry_seconds)
                _ended(ended, done)
                raise
            log.warning("job failed: model volume", extra={"fields": {**fields, "error": str(exc)}})
            outcome = {"status": "failed", "error": stored}
        else:
            if run.status is None:
                leases.release(engine, job_id=job_id, owner=owner)
                log.info("job detached", extra={"fields": fields})
                return
            outcome = {"status": run.status, "result": run.outcome}
        try:
            done = end_job(engine, client, job_id, owner=owner, retry_seconds=lease.end_retry_seconds, **outcome)
        except OUTAGES as exc:
            _hand_back(engine, job_id, owner, exc, fields)
            raise NotRun(job_id) from None
    log.info("job finished", extra={"fields": {**fields, "status": done["status"]}})
    _ended(ended, done)


def _ended(ended: Callable[[dict[str, Any]], None] | None, job: dict[str, Any]) -> None:
    if ended is None:
        return
    try:
        ended(job)
    except OUTAGES as exc:
        # The reconciler settles what this could not.
        log.warning("after-end step not done", extra={"fields": {"job_id": job["id"], "error": str(exc)}})
