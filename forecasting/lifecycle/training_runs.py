"""The record of every training run: when, on what data, how it ended."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from forecasting.data.database import training_runs, utc_iso


def start_run(engine: Engine, *, product_id: int, job_id: str | None, reason: str, fingerprint: str) -> int:
    """Record a training run as running and return its id.

    Parameters
    ----------
    engine : Engine
        Database holding the ``training_runs`` table.
    product_id : int
        The product being trained.
    job_id : str, optional
        The job that runs it (None from the command line).
    reason : str
        Why it is trained ('missing', 'age', 'data_changed', 'requested', ...).
    fingerprint : str
        Fingerprint of the sales history it trains on.
    """
    with engine.begin() as conn:
        return conn.execute(
            insert(training_runs).values(
                product_id=product_id, job_id=job_id, reason=reason, status="running",
                fingerprint=fingerprint, started_at=datetime.now(timezone.utc),
            ).returning(training_runs.c.id)
        ).scalar_one()


def finish_run(
    engine: Engine, *, run_id: int, status: str, seconds: float,
    metrics: dict[str, Any] | None = None, error: str | None = None,
) -> None:
    """Record how a training run ended ('succeeded' or 'failed')."""
    with engine.begin() as conn:
        conn.execute(
            update(training_runs).where(training_runs.c.id == run_id).values(
                status=status, finished_at=datetime.now(timezone.utc), seconds=round(seconds, 3),
                metrics=json.dumps(metrics) if metrics is not None else None, error=error,
            )
        )


def list_runs(engine: Engine, *, product_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """Return the product's training runs, newest first."""
    query = (
        select(training_runs).where(training_runs.c.product_id == product_id)
        .order_by(training_runs.c.started_at.desc(), training_runs.c.id.desc()).limit(limit)
    )
    with engine.connect() as conn:
        return [_as_dict(row) for row in conn.execute(query)]


def _as_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id, "product_id": row.product_id, "job_id": row.job_id, "reason": row.reason,
        "status": row.status, "fingerprint": row.fingerprint,
        "started_at": utc_iso(row.started_at), "finished_at": utc_iso(row.finished_at), "seconds": row.seconds,
        "metrics": json.loads(row.metrics) if row.metrics else None, "error": row.error,
    }


def interrupt_runs(engine: Engine, *, run_ids: list[int], error: str) -> int:
    """Close training runs left 'running' by an attempt that is gone as 'interrupted'; return how many."""
    if not run_ids:
        return 0
    with engine.begin() as conn:
        return int(conn.execute(
            update(training_runs).where(training_runs.c.id.in_(run_ids), training_runs.c.status == "running")
            .values(status="interrupted", finished_at=datetime.now(timezone.utc), error=error)
        ).rowcount)
