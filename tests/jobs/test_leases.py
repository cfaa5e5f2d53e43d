"""One attempt holds a job: a duplicate message is dropped, a dead attempt's job is taken over, an ended job stays ended."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import psutil
from sqlalchemy import update

from jobs import leases, records
from jobs.table import jobs


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _age(engine, job_id: str, seconds: float) -> None:
    with engine.begin() as conn:
        conn.execute(update(jobs).where(jobs.c.id == job_id)
                     .values(heartbeat_at=datetime.now(timezone.utc) - timedelta(seconds=seconds)))


def test_a_queued_job_is_claimed_once_and_a_live_holder_keeps_it(engine):
    job = records.create_job(engine, kind="train", product_id=1, params={})
    verdict, held = leases.claim(engine, job_id=job["id"], owner="elsewhere:10", stale_after=30)
    assert verdict == leases.STARTED and held["attempts"] == 1 and held["owner"] == "elsewhere:10"
    assert held["published_at"] is not None  # a message reached a worker: it was published
    # A second message while the first attempt beats: dropped, nothing changes.
    verdict, seen = leases.claim(engine, job_id=job["id"], owner="other:11", stale_after=30)
    assert verdict == leases.BUSY and seen["attempts"] == 1 and seen["owner"] == "elsewhere:10"
    # Once its heartbeat is older than the timeout, the job is taken over by the next attempt.
    _age(engine, job["id"], 60)
    verdict, taken = leases.claim(engine, job_id=job["id"], owner="other:11", stale_after=30)
    assert verdict == leases.STARTED and taken["attempts"] == 2 and taken["owner"] == "other:11"
    assert not leases.beat(engine, job_id=job["id"], owner="elsewhere:10")  # the lost attempt learns it
    assert leases.beat(engine, job_id=job["id"], owner="other:11")


def test_a_job_whose_process_died_on_this_host_is_taken_over_at_once(engine):
    job = records.create_job(engine, kind="forecast", product_id=1, params={})
    dead = f"{socket.gethostname()}:{_dead_pid()}"
    assert leases.owner_alive(dead) is False and leases.owner_alive(f"{socket.gethostname()}:1") is True
    leases.claim(engine, job_id=job["id"], owner=dead, stale_after=30)
    verdict, taken = leases.claim(engine, job_id=job["id"], owner=leases.owner_id(), stale_after=30)
    assert verdict == leases.STARTED and taken["attempts"] == 2


def test_an_ended_job_is_never_claimed_nor_ended_again(engine):
    job = records.create_job(engine, kind="forecast", product_id=1, params={})
    leases.claim(engine, job_id=job["id"], owner="a:1", stale_after=30)
    done = records.finish_job(engine, job_id=job["id"], status="succeeded", result={"n": 1}, owner="a:1")
    assert done["status"] == "succeeded" and done["owner"] is None
    assert leases.claim(engine, job_id=job["id"], owner="b:2", stale_after=0)[0] == leases.ENDED
    again = records.finish_job(engine, job_id=job["id"], status="failed", error="late")
    assert again["status"] == "succeeded" and again["result"] == {"n": 1} and again["error"] is None


def test_an_attempt_that_lost_its_job_cannot_end_it(engine):
    job = records.create_job(engine, kind="train", product_id=1, params={})
    leases.claim(engine, job_id=job["id"], owner="a:1", stale_after=30)
    assert leases.requeue(engine, job_id=job["id"], owner="a:1")
    queued = records.get_job(engine, job_id=job["id"])
    assert queued["status"] == "queued" and queued["published_at"] is None and queued["owner"] is None
    assert records.finish_job(engine, job_id=job["id"], status="succeeded", owner="a:1")["status"] == "queued"
    assert not records.set_progress(engine, job_id=job["id"], stage="fit", progress=50, owner="a:1")


def test_a_killed_process_not_yet_reaped_counts_as_dead():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while psutil_status(proc.pid) != "zombie" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert psutil_status(proc.pid) == "zombie"  # exited, not yet waited for
        assert leases.owner_alive(f"{socket.gethostname()}:{proc.pid}") is False
    finally:
        proc.wait()


def psutil_status(pid: int) -> str:
    return psutil.Process(pid).status()
