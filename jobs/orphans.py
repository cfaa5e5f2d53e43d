"""Find the jobs, batches and training runs that no process will bring to an end by itself."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Engine

from forecasting.data.database import training_runs
from jobs.records import TERMINAL, _as_dict
from jobs.table import jobs


def _ago(seconds: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(seconds=seconds)


def unpublished(engine: Engine, *, older_than: float, limit: int) -> list[dict[str, Any]]:
    """Queued jobs whose message was never handed to the broker, recorded more than `older_than` s ago."""
    query = (select(jobs).where(jobs.c.status == "queued", jobs.c.published_at.is_(None),
                                jobs.c.updated_at < _ago(older_than))
             .order_by(jobs.c.created_at).limit(limit))
    with engine.connect() as conn:
        return [_as_dict(row) for row in conn.execute(query)]


def published_queued(engine: Engine, *, older_than: float, limit: int) -> list[dict[str, Any]]:
    """Queued jobs published more than `older_than` s ago (their message should be in the broker)."""
    query = (select(jobs).where(jobs.c.status == "queued", jobs.c.published_at < _ago(older_than))
             .order_by(jobs.c.published_at).limit(limit))
    with engine.connect() as conn:
        return [_as_dict(row) for row in conn.execute(query)]


def silent_running(engine: Engine, *, older_than: float, limit: int) -> list[dict[str, Any]]:
    """Running jobs held by an attempt whose last heartbeat is more than `older_than` s old."""
    beat = func.coalesce(jobs.c.heartbeat_at, jobs.c.started_at)
    query = (select(jobs).where(jobs.c.status == "running", jobs.c.owner.is_not(None), beat < _ago(older_than))
             .order_by(beat).limit(limit))
    with engine.connect() as conn:
        return [_as_dict(row) for row in conn.execute(query)]


def held_running(engine: Engine, *, limit: int) -> list[dict[str, Any]]:
    """Running jobs held by an attempt (whose process may be checked directly)."""
    query = select(jobs).where(jobs.c.status == "running", jobs.c.owner.is_not(None)).limit(limit)
    with engine.connect() as conn:
        return [_as_dict(row) for row in conn.execute(query)]


def open_batches(engine: Engine, *, limit: int) -> list[str]:
    """Ids of batches running with no process holding them: waiting on their children."""
    query = (select(jobs.c.id).where(jobs.c.kind == "batch", jobs.c.status == "running", jobs.c.owner.is_(None))
             .order_by(jobs.c.created_at).limit(limit))
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


def interrupted_runs(engine: Engine, *, no_job_after: float, limit: int) -> list[int]:
    """Ids of training runs left 'running' that no attempt will close.

    A run whose job has ended or is back in the queue, or whose job started a later attempt
    since; a run without a job (the command line) running longer than `no_job_after` s.
    """
    job = jobs.alias("job")
    query = (
        select(training_runs.c.id)
        .select_from(training_runs.outerjoin(job, job.c.id == training_runs.c.job_id))
        .where(training_runs.c.status == "running", or_(
            and_(training_runs.c.job_id.is_(None), training_runs.c.started_at < _ago(no_job_after)),
            and_(training_runs.c.job_id.is_not(None), job.c.id.is_(None)),
            job.c.status.in_([*TERMINAL, "queued"]),
            and_(job.c.status == "running", job.c.started_at > training_runs.c.started_at),
        ))
        .limit(limit)
    )
    with engine.connect() as conn:
        return [int(i) for i in conn.execute(query).scalars()]


def statuses(engine: Engine, *, job_ids: list[str]) -> dict[str, str]:
    """Return the status of each job that exists among `job_ids`."""
    if not job_ids:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(select(jobs.c.id, jobs.c.status).where(jobs.c.id.in_(job_ids))).all()
    return {row.id: row.status for row in rows}
