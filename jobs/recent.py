"""The jobs an operator wants to see first: those under way, then the latest that ended."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from forecasting.data.database import utc_iso
from jobs.records import TERMINAL
from jobs.table import jobs

COLUMNS = (jobs.c.id, jobs.c.kind, jobs.c.product_id, jobs.c.parent_id, jobs.c.status, jobs.c.stage,
           jobs.c.progress, jobs.c.error, jobs.c.created_at, jobs.c.started_at, jobs.c.finished_at)


def recent_jobs(engine: Engine, *, limit: int) -> list[dict[str, Any]]:
    """Return up to `limit` queued or running jobs (oldest first), then the latest ended ones."""
    active = select(*COLUMNS).where(jobs.c.status.not_in(TERMINAL)).order_by(jobs.c.created_at, jobs.c.id)
    ended = select(*COLUMNS).where(jobs.c.status.in_(TERMINAL)).order_by(jobs.c.finished_at.desc(), jobs.c.id)
    with engine.connect() as conn:
        rows = list(conn.execute(active.limit(limit)))
        if len(rows) < limit:
            rows += list(conn.execute(ended.limit(limit - len(rows))))
    return [_as_dict(row) for row in rows]


def _as_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id, "kind": row.kind, "product_id": row.product_id, "parent_id": row.parent_id,
        "status": row.status, "stage": row.stage, "progress": row.progress, "error": row.error,
        "created_at": utc_iso(row.created_at), "started_at": utc_iso(row.started_at),
        "finished_at": utc_iso(row.finished_at),
    }
