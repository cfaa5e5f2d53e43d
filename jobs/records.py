"""Job records: what was asked, how far it got, and how it ended."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.engine import Engine

from forecasting.data.database import utc_iso
from jobs import metrics
from jobs.table import jobs

KINDS = frozenset({"forecast", "train", "batch"})
STATUSES = ("queued", "running", "succeeded", "failed", "skipped", "cancelled")
TERMINAL = frozenset({"succeeded", "failed", "skipped", "cancelled"})
#: Ends set by a worker; "cancelled" is set by jobs.control only, and never overwritten.
WORKER_ENDS = frozenset({"succeeded", "failed", "skipped"})
# A job's error is stored as "<code>: <message>": a stable code for programs, a sentence for
# people, in the one text column a job has had from the start.
_CODED_ERROR = re.compile(r"([a-z][a-z_]*): (.+)", re.DOTALL)


class JobNotFound(LookupError):
    """The job does not exist."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"Job {job_id} does not exist.")
        self.job_id = job_id


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _job_id(job_id: Any) -> str:
    # Anything that is not a UUID cannot name a job: answer "not found", not a 500.
    try:
        return str(uuid.UUID(str(job_id)))
    except ValueError:
        raise JobNotFound(str(job_id)) from None


def _as_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id, "kind": row.kind, "product_id": row.product_id, "parent_id": row.parent_id,
        "status": row.status, "stage": row.stage, "progress": row.progress,
        "params": json.loads(row.params), "result": json.loads(row.result) if row.result is not None else None,
        "error": row.error, "attempts": row.attempts,
        "created_at": utc_iso(row.created_at), "started_at": utc_iso(row.started_at),
        "finished_at": utc_iso(row.finished_at), "updated_at": utc_iso(row.updated_at),
        "published_at": utc_iso(row.published_at), "owner": row.owner, "heartbeat_at": utc_iso(row.heartbeat_at),
        "queue": row.queue,
    }


def coded_error(code: str, message: str) -> str:
    """Return the stored form of a job error: its code, a colon, and a message for the client."""
    return f"{code}: {message}"


def split_error(error: str | None) -> tuple[str | None, str | None]:
    """Return (code, message) of a stored job error; an error recorded before codes existed is 'job_failed'."""
    if error is None:
        return None, None
    match = _CODED_ERROR.fullmatch(error)
    return (match[1], match[2]) if match else ("job_failed", error)


def new_job_id() -> str:
    """Return a fresh job id (a random UUID)."""
    return str(uuid.uuid4())


def create_job(
    engine: Engine, *, kind: str, product_id: int | None = None, parent_id: str | None = None,
    params: dict[str, Any] | None = None, job_id: str | None = None, queue: str | None = None,
) -> dict[str, Any]:
    """Record a queued job and return it.

    Parameters
    ----------
    engine : Engine
        Database holding the jobs table.
    kind : {'forecast', 'train', 'batch'}
        What the job does.
    product_id : int, optional
        The product it is about.
    parent_id : str, optional
        The batch job it belongs to.
    params : dict
        JSON-able request parameters.
    job_id : str, optional
        The id to record it under (from :func:`new_job_id`); a new one by default.
    queue : str, optional
        The broker queue its message goes to, every time it is sent (None: its kind's queue).

    Returns
    -------
    dict
        The job as :func:`get_job` returns it.
    """
    if kind not in KINDS:
        raise ValueError(f"Job kind must be one of {sorted(KINDS)}, got {kind!r}.")
    now = _now()
    with engine.begin() as conn:
        row = conn.execute(jobs.insert().values(
            id=job_id or new_job_id(), kind=kind, product_id=product_id, parent_id=parent_id, status="queued",
            stage=None, progress=0, params=json.dumps(params or {}), result=None, error=None, attempts=0,
            created_at=now, started_at=None, finished_at=None, updated_at=now, queue=queue,
        ).returning(*jobs.c)).one()
    return _as_dict(row)


def get_job(engine: Engine, *, job_id: str) -> dict[str, Any]:
    """Return a job with its params and result decoded and ISO timestamps.

    Raises
    ------
    JobNotFound
        When no job has this id (or the id is not a UUID at all).
    """
    key = _job_id(job_id)
    with engine.connect() as conn:
        row = conn.execute(select(jobs).where(jobs.c.id == key)).first()
    if row is None:
        raise JobNotFound(str(job_id))
    return _as_dict(row)


def start_job(engine: Engine, *, job_id: str) -> dict[str, Any] | None:
    """Mark a job that has not ended running for a new attempt, in one statement.

    A redelivered job starts over: progress and stage of the lost attempt are
    cleared, so ``set_progress`` can climb again from zero.

    Returns
    -------
    dict or None
        The job as :func:`get_job` returns it, ``attempts`` counting this one;
        None when the job has already ended (it is left as it is).

    Raises
    ------
    JobNotFound
        When no job has this id.
    """
    key, now = _job_id(job_id), _now()
    with engine.begin() as conn:
        row = conn.execute(
            update(jobs).where(jobs.c.id == key, jobs.c.status.not_in(TERMINAL))
            .values(status="running", stage="started", progress=0, started_at=now, finished_at=None,
                    error=None, attempts=jobs.c.attempts + 1, updated_at=now)
            .returning(*jobs.c)
        ).first()
    if row is None:
        get_job(engine, job_id=key)  # raises JobNotFound for an unknown id
        return None
    return _as_dict(row)


def set_progress(engine: Engine, *, job_id: str, stage: str, progress: int, owner: str | None = None) -> bool:
    """Record the stage and percent of a job that has not ended; progress never goes down.

    With `owner` (the attempt's :func:`jobs.leases.owner_id`) it is also a heartbeat, and is
    recorded only while that attempt still holds the running job.

    Returns
    -------
    bool
        False when the job has already ended, or `owner` no longer holds it (a late report is ignored).

    Raises
    ------
    JobNotFound
        When no job has this id.
    """
    key, percent, now = _job_id(job_id), max(0, min(100, int(progress))), _now()
    held = (jobs.c.status == "running", jobs.c.owner == owner) if owner else (jobs.c.status.not_in(TERMINAL),)
    with engine.begin() as conn:
        changed = conn.execute(
            update(jobs).where(jobs.c.id == key, *held)
            .values(stage=stage, updated_at=now, **({"heartbeat_at": now} if owner else {}),
                    progress=case((jobs.c.progress > percent, jobs.c.progress), else_=percent))
        ).rowcount
    if changed:
        return True
    get_job(engine, job_id=key)  # raises JobNotFound for an unknown id
    return False


def finish_job(
    engine: Engine, *, job_id: str, status: str, result: dict[str, Any] | None = None, error: str | None = None,
    owner: str | None = None,
) -> dict[str, Any]:
    """End a job that has not ended: 'succeeded', 'failed' or 'skipped', with its result or error.

    Succeeded and skipped jobs end at 100 %; a failed job keeps the progress it
    reached, so the error shows where it stopped. A job that has already ended
    (cancelled, or ended by another attempt or the reconciler) is left as it is and
    returned; so is one that `owner`, when given, no longer holds: a job ends once.

    Raises
    ------
    JobNotFound
        When no job has this id.
    """
    if status not in WORKER_ENDS:
        raise ValueError(f"A job ends as one of {sorted(WORKER_ENDS)}, not {status!r}.")
    key, now = _job_id(job_id), _now()
    values: dict[str, Any] = {
        "status": status, "finished_at": now, "updated_at": now, "error": error,
        "result": json.dumps(result) if result is not None else None,
    }
    if status != "failed":
        values.update(progress=100, stage="done")
    values.update(owner=None, heartbeat_at=None)
    held = (jobs.c.owner == owner,) if owner else ()
    with engine.begin() as conn:
        # An ended job stays as it ended: a cancelled attempt, a redelivered message or a late
        # worker must not end it again.
        row = conn.execute(update(jobs).where(jobs.c.id == key, jobs.c.status.not_in(TERMINAL), *held)
                           .values(**values).returning(*jobs.c)).first()
    if row is None:
        return get_job(engine, job_id=key)  # raises JobNotFound for an unknown id
    ended = _as_dict(row)
    metrics.job_ended(ended)
    return ended


def mark_published(engine: Engine, *, job_id: str) -> None:
    """Record that the job's message was handed to the broker (the outbox entry is sent)."""
    with engine.begin() as conn:
        conn.execute(update(jobs).where(jobs.c.id == _job_id(job_id)).values(published_at=_now()))


def fail_job(engine: Engine, *, job_id: str, error: str) -> dict[str, Any]:
    """End a job as failed with `error`."""
    return finish_job(engine, job_id=job_id, status="failed", error=error)


def count_children(engine: Engine, *, parent_id: str) -> dict[str, int]:
    """Return how many jobs of a batch are in each status (every status present, 0 if none)."""
    counts = dict.fromkeys(STATUSES, 0)
    with engine.connect() as conn:
        rows = conn.execute(
            select(jobs.c.status, func.count()).where(jobs.c.parent_id == str(parent_id)).group_by(jobs.c.status)
        ).all()
    counts.update({status: int(n) for status, n in rows})
    return counts


def list_children_failed(engine: Engine, *, parent_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """Return up to `limit` failed jobs of a batch: id, product_id, error, finished_at."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(jobs.c.id, jobs.c.product_id, jobs.c.error, jobs.c.finished_at)
            .where(jobs.c.parent_id == str(parent_id), jobs.c.status == "failed")
            .order_by(jobs.c.finished_at, jobs.c.id).limit(limit)
        ).all()
    return [
        {"id": r.id, "product_id": r.product_id, "error": r.error, "finished_at": utc_iso(r.finished_at)} for r in rows
    ]


def set_result(engine: Engine, *, job_id: str, result: dict[str, Any]) -> None:
    """Record a running job's interim result (a batch's totals) without ending it."""
    with engine.begin() as conn:
        if not conn.execute(
            update(jobs).where(jobs.c.id == _job_id(job_id)).values(result=json.dumps(result), updated_at=_now())
        ).rowcount:
            raise JobNotFound(str(job_id))


def child_product_ids(engine: Engine, *, parent_id: str) -> set[int]:
    """Return the products a batch already has a job for."""
    with engine.connect() as conn:
        rows = conn.execute(select(jobs.c.product_id).where(jobs.c.parent_id == str(parent_id))).scalars()
        return {int(pid) for pid in rows if pid is not None}


def batch_counts(engine: Engine, batch: dict[str, Any]) -> dict[str, int]:
    """Return total, queued, running, succeeded, failed, skipped and cancelled of a batch job."""
    by_status = count_children(engine, parent_id=batch["id"])
    total = int((batch["result"] or {}).get("total", sum(by_status.values())))
    # Children not created yet count as queued while the batch may still queue them; a batch
    # cancelled while queueing never will, so they count as cancelled.
    by_status["cancelled" if batch["status"] == "cancelled" else "queued"] += max(0, total - sum(by_status.values()))
    return {"total": total, **by_status}


def record_served(engine: Engine, *, kind: str, product_id: int | None, params: dict[str, Any],
                  result: dict[str, Any]) -> dict[str, Any]:
    """Record a job the API answered itself (a saved forecast), ended as it was created.

    One insert: ``succeeded`` at 100 %, created, started and finished at the same moment,
    with ``attempts`` 0, since no worker ran it.
    """
    if kind not in KINDS:
        raise ValueError(f"Job kind must be one of {sorted(KINDS)}, got {kind!r}.")
    now = _now()
    with engine.begin() as conn:
        row = conn.execute(jobs.insert().values(
            id=new_job_id(), kind=kind, product_id=product_id, parent_id=None, status="succeeded", stage="done",
            progress=100, params=json.dumps(params), result=json.dumps(result), error=None, attempts=0,
            created_at=now, started_at=now, finished_at=now, updated_at=now,
        ).returning(*jobs.c)).one()
    job = _as_dict(row)
    metrics.job_ended(job)
    return job
