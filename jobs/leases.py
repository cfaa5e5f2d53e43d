"""Which attempt runs a job: claim it once, keep it alive with heartbeats, hand it back when lost.

A job is run by one attempt at a time. The attempt that claims it records itself as the
job's `owner` ("host:pid") and beats (`heartbeat_at`) while it runs. A message for a job
that is already held by a live attempt (a duplicate publish, a redelivery while the first
attempt still runs) is dropped; a message for a job whose attempt is gone (its process is
dead on this host, or its heartbeat stopped) takes the job over, counting one more attempt.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import psutil
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from jobs import records
from jobs.records import TERMINAL, _job_id
from jobs.table import jobs

log = logging.getLogger(__name__)

STARTED, ENDED, BUSY = "started", "ended", "busy"


def owner_id() -> str:
    """Return this process's name as a job owner: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str) -> bool | None:
    """Return whether the attempt `owner` names still runs: True, False, or None when it is on another host."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    # This process runs one job at a time: an attempt recorded under its own pid is over.
    if int(pid) == os.getpid():
        return False
    try:
        # A killed process stays a zombie until its parent reaps it: dead all the same.
        return psutil.Process(int(pid)).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _when(iso: str | None) -> datetime | None:
    return datetime.fromisoformat(iso) if iso else None


def claim(engine: Engine, *, job_id: str, owner: str, stale_after: float) -> tuple[str, dict[str, Any]]:
    """Take the job for a new attempt by `owner`; return (verdict, job).

    STARTED: the job is now running under `owner`, `attempts` counting this attempt.
    ENDED: the job had already ended; nothing is changed. BUSY: another attempt holds it and
    is alive (its process runs on this host, or its heartbeat is younger than `stale_after`
    seconds); nothing is changed.
    """
    key = _job_id(job_id)
    while True:
        job = records.get_job(engine, job_id=key)
        if job["status"] in TERMINAL:
            return ENDED, job
        if job["status"] == "running" and job["owner"] and job["owner"] != owner:
            alive = owner_alive(job["owner"])
            beat = _when(job["heartbeat_at"]) or _when(job["started_at"])
            fresh = beat is not None and datetime.now(timezone.utc) - beat < timedelta(seconds=stale_after)
            if alive or (alive is None and fresh):
                return BUSY, job
        now = datetime.now(timezone.utc)
        with engine.begin() as conn:
            # Compare and set on the attempt count: of two messages racing, one takes the job.
            row = conn.execute(
                update(jobs).where(jobs.c.id == key, jobs.c.attempts == job["attempts"],
                                   jobs.c.status.not_in(TERMINAL))
                .values(status="running", stage="started", progress=0, started_at=now, finished_at=None,
                        error=None, attempts=jobs.c.attempts + 1, updated_at=now, owner=owner, heartbeat_at=now,
                        published_at=jobs.c.published_at if job["published_at"] else now)
                .returning(*jobs.c)
            ).first()
        if row is not None:
            return STARTED, records._as_dict(row)


def abandoned(engine: Engine, *, job_id: str, stale_after: float) -> bool:
    """Return whether no attempt runs the job: it is not running, or its attempt's process is gone or silent."""
    try:
        job = records.get_job(engine, job_id=job_id)
    except records.JobNotFound:
        return False  # not a job of this service: it is not for us to judge; the lock expires by itself
    if job["status"] != "running":
        return True
    if not job["owner"]:
        return False  # a batch waiting on its children holds no lock; leave what we cannot judge
    alive = owner_alive(job["owner"])
    beat_at = _when(job["heartbeat_at"]) or _when(job["started_at"])
    fresh = beat_at is not None and datetime.now(timezone.utc) - beat_at < timedelta(seconds=stale_after)
    return alive is False or (alive is None and not fresh)


def beat(engine: Engine, *, job_id: str, owner: str) -> bool:
    """Record that `owner` still runs the job; False when it no longer holds it (ended, cancelled, taken over)."""
    with engine.begin() as conn:
        return bool(conn.execute(
            update(jobs).where(jobs.c.id == _job_id(job_id), jobs.c.owner == owner, jobs.c.status == "running")
            .values(heartbeat_at=datetime.now(timezone.utc))
        ).rowcount)


def requeue(engine: Engine, *, job_id: str, owner: str | None = None) -> bool:
    """Put a running job back to queued and unpublished, so it is published again (by the reconciler).

    With `owner`, only while that attempt holds it. Returns whether the job was requeued.
    """
    held = (jobs.c.owner == owner,) if owner else ()
    with engine.begin() as conn:
        return bool(conn.execute(
            update(jobs).where(jobs.c.id == _job_id(job_id), jobs.c.status == "running", *held)
            .values(status="queued", owner=None, heartbeat_at=None, published_at=None,
                    updated_at=datetime.now(timezone.utc))
        ).rowcount)


def release(engine: Engine, *, job_id: str, owner: str) -> None:
    """Leave a running job held by no process (a batch that now waits on its children)."""
    with engine.begin() as conn:
        conn.execute(update(jobs).where(jobs.c.id == _job_id(job_id), jobs.c.owner == owner)
                     .values(owner=None, heartbeat_at=None, updated_at=datetime.now(timezone.utc)))


class Heartbeat:
    """Beat for a job every `every` seconds on a thread while the block runs; `lost` once it is no longer held."""

    def __init__(self, engine: Engine, *, job_id: str, owner: str, every: float) -> None:
        self.engine, self.job_id, self.owner, self.every = engine, job_id, owner, every
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id}", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every + 5)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                if not beat(self.engine, job_id=self.job_id, owner=self.owner):
                    self.lost.set()
                    return
            except DBAPIError as exc:
                # The database is away: the job is not lost for that; the next beat tries again.
                log.warning("heartbeat not recorded", extra={"fields": {"job_id": self.job_id, "error": str(exc)}})
