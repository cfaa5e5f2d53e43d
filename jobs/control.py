"""Control over recorded jobs: list them, cancel them, prune the ended ones."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import redis
from sqlalchemy import and_, delete, func, or_, select, true, update
from sqlalchemy.engine import Engine

from jobs import events, locks, metrics
from jobs.records import TERMINAL, _as_dict, _job_id, get_job
from jobs.table import jobs


def list_jobs(engine: Engine, *, status: str | None = None, kind: str | None = None, product_id: int | None = None,
              parent_id: str | None = None, limit: int = 100, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Return a page of jobs matching every filter given, newest first, and how many match in all."""
    where = []
    if status is not None:
        where.append(jobs.c.status == status)
    if kind is not None:
        where.append(jobs.c.kind == kind)
    if product_id is not None:
        where.append(jobs.c.product_id == product_id)
    if parent_id is not None:
        where.append(jobs.c.parent_id == _job_id(parent_id))
    condition = and_(true(), *where)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(jobs).where(condition)).scalar_one()
        rows = conn.execute(select(jobs).where(condition).order_by(jobs.c.created_at.desc(), jobs.c.id)
                            .limit(limit).offset(offset)).all()
    return [_as_dict(row) for row in rows], int(total)


def cancel_job(engine: Engine, *, job_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Cancel a job that has not ended, and its batch children that have not; return (job, cancelled).

    `cancelled` lists every job this call ended (the job itself first, when it had not ended).
    A queued job is then never started; a running one stops at its next progress report.
    """
    key, now = _job_id(job_id), datetime.now(timezone.utc)
    values = {"status": "cancelled", "finished_at": now, "updated_at": now}
    with engine.begin() as conn:
        # Children first: a batch that settles in between then sees them ended, not queued.
        children = conn.execute(update(jobs).where(jobs.c.parent_id == key, jobs.c.status.not_in(TERMINAL))
                                .values(**values).returning(*jobs.c)).all()
        own = conn.execute(update(jobs).where(jobs.c.id == key, jobs.c.status.not_in(TERMINAL))
                           .values(**values).returning(*jobs.c)).all()
    cancelled = [_as_dict(row) for row in (*own, *children)]
    for job in cancelled:
        metrics.job_ended(job)
    return get_job(engine, job_id=key), cancelled


def release(client: redis.Redis, cancelled: list[dict[str, Any]]) -> None:
    """Free what cancelled jobs held in Redis (a training's queued mark) and wake their waiters."""
    for job in cancelled:
        if job["kind"] == "train" and job["product_id"] is not None:
            # Kept, the mark would answer the product's next retrain with this cancelled job.
            locks.clear_queued(client, job["product_id"], job["id"])
        events.announce(client, job["id"])


def is_ended(engine: Engine, *, job_id: str) -> bool:
    """Return whether the job has ended (or no longer exists)."""
    with engine.connect() as conn:
        status = conn.execute(select(jobs.c.status).where(jobs.c.id == _job_id(job_id))).scalar()
    return status is None or status in TERMINAL


def prune_ended(engine: Engine, *, older_than_days: int, now: datetime | None = None) -> int:
    """Delete jobs that ended more than `older_than_days` days ago; return how many.

    Children of a batch that has not ended are kept, so its counts stay whole. Training
    runs are another table and are kept.
    """
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=older_than_days)
    open_batches = select(jobs.c.id).where(jobs.c.kind == "batch", jobs.c.status.not_in(TERMINAL))
    with engine.begin() as conn:
        return int(conn.execute(delete(jobs).where(
            jobs.c.status.in_(TERMINAL), jobs.c.finished_at < cutoff,
            or_(jobs.c.parent_id.is_(None), jobs.c.parent_id.not_in(open_batches)),
        )).rowcount)
