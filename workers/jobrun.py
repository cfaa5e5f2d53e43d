"""Keep a job record truthful around a task run: running, progress, outcome."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from billiard.exceptions import SoftTimeLimitExceeded
from sqlalchemy.engine import Engine

from forecasting.errors import (
    ForecastingError,
    InsufficientHistory,
    InvalidForecastOptions,
    InvalidSalesData,
    ModelSetNotFound,
    ProductNotFound,
)
from jobs import events as job_events
from jobs import records
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


def _client_error(exc: Exception) -> str | None:
    code = next((code for kind, code in ERROR_CODES.items() if isinstance(exc, kind)), None)
    return records.coded_error(code, str(exc)) if code else None


class NotRun(Exception):
    """The job is not run: it already ended, or its worker kept dying."""


class JobCancelled(BaseException):
    """The job was cancelled while it ran; raised at its next progress report.

    A BaseException, like KeyboardInterrupt: the training code leaves out a member whose fit
    raises an Exception and carries on, and a cancellation must stop the whole set instead.
    """


class JobRun:
    """One attempt at a job; `progress` writes (stage, percent) in steps."""

    def __init__(self, engine: Engine, job: dict[str, Any], min_step: int) -> None:
        self.engine = engine
        self.job = job
        self.id: str = job["id"]
        self.min_step = min_step
        self._last: tuple[str | None, int] = (None, -min_step)
        self.outcome: dict[str, Any] | None = None
        self.status = "succeeded"

    def progress(self, stage: str, percent: int) -> None:
        """Record progress when the stage changes or it moved at least min_step; raise JobCancelled if it ended."""
        last_stage, last_pct = self._last
        if stage != last_stage or percent - last_pct >= self.min_step:
            if not records.set_progress(self.engine, job_id=self.id, stage=stage, progress=percent):
                raise JobCancelled(self.id)
            self._last = (stage, percent)

    def finish(self, result: dict[str, Any], status: str = "succeeded") -> None:
        """Set what the job returns and how it ended."""
        self.outcome, self.status = result, status


def end_job(engine: Engine, client: redis.Redis, job_id: str, **outcome: Any) -> dict[str, Any]:
    """End the job (:func:`jobs.records.finish_job`), then announce it to its waiters."""
    job = records.finish_job(engine, job_id=job_id, **outcome)
    job_events.announce(client, job_id)
    return job


@contextmanager
def job_run(engine: Engine, client: redis.Redis, job_id: str, *, max_attempts: int, min_step: int,
            ) -> Iterator[JobRun]:
    """Start the job, yield a JobRun, and record success or a clear failure (announced on `client`)."""
    job = records.start_job(engine, job_id=job_id)
    if job is None:
        # A redelivered message of a job that already ended: nothing left to do.
        raise NotRun(job_id)
    attempts = job["attempts"]
    if attempts > max_attempts:
        end_job(
            engine, client, job_id, status="failed",
            error=records.coded_error("worker_lost", f"Gave up after {attempts - 1} attempts: "
                                      "the worker running this job was lost each time."),
        )
        raise NotRun(job_id)
    run = JobRun(engine, job, min_step)
    fields = {"job_id": job_id, "kind": job["kind"], "product_id": job["product_id"], "attempt": attempts}
    log.info("job started", extra={"fields": fields})
    try:
        yield run
    except JobCancelled:
        # The job is already recorded as cancelled; what this attempt made is not saved.
        log.info("job cancelled", extra={"fields": fields})
        job_events.announce(client, job_id)
        raise NotRun(job_id) from None
    except (ForecastingError, LockTimeout) as exc:
        error = _client_error(exc)
        if error is None:
            log.error("job failed", exc_info=exc, extra={"fields": {**fields, "error": str(exc)}})
        else:
            log.info("job failed", extra={"fields": {**fields, "error": str(exc)}})
        end_job(engine, client, job_id, status="failed", error=error or internal_error(job_id))
        return
    except SoftTimeLimitExceeded:
        end_job(engine, client, job_id, status="failed", error=records.coded_error(
            "time_limit", "The job ran past its time limit and was stopped."))
        log.warning("job timed out", extra={"fields": fields})
        return
    except Exception:
        log.exception("job crashed", extra={"fields": fields})
        end_job(engine, client, job_id, status="failed", error=internal_error(job_id))
        raise
    end_job(engine, client, job_id, status=run.status, result=run.outcome)
    log.info("job finished", extra={"fields": {**fields, "status": run.status}})
