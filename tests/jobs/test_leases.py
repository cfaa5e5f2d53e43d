"""One attempt holds a job: a duplicate message is dropped, a dead attempt's job is taken over, an ended job stays ended."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import psutil
import pytest
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


def test_a_training_lock_left_by_an_abandoned_job_is_taken_over(engine, redis_url):
    import redis

    from jobs import locks
    from tests import services

    services.flush(redis_url)
    client = redis.Redis.from_url(redis_url)
    lost = records.create_job(engine, kind="train", product_id=3, params={})
    leases.claim(engine, job_id=lost["id"], owner=f"{socket.gethostname()}:{_dead_pid()}", stale_after=30)
    live = records.create_job(engine, kind="train", product_id=4, params={})
    leases.claim(engine, job_id=live["id"], owner="elsewhere:1", stale_after=30)
    client.set(locks.LOCK_KEY.format(product_id=3), lost["id"], ex=3600)
    client.set(locks.LOCK_KEY.format(product_id=4), live["id"], ex=3600)

    def abandoned(job_id: str) -> bool:
        return leases.abandoned(engine, job_id=job_id, stale_after=30)

    with locks.training_lock(client, 3, owner="next-job", expire=60, wait=5, abandoned=abandoned):
        assert locks.lock_owner(client, 3) == "next-job"
    # A lock whose job still runs (a fresh heartbeat on another host) is waited for, not taken.
    with pytest.raises(locks.LockTimeout):
        with locks.training_lock(client, 4, owner="next-job", expire=60, wait=0.5, abandoned=abandoned):
            raise AssertionError("taken from a live job")
    assert locks.lock_owner(client, 4) == live["id"]
