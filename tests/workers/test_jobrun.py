"""A failed job tells its client a stable code and a sentence; internal details go to the log."""

from __future__ import annotations

import logging

import pytest
import redis

from forecasting.errors import InsufficientHistory, ModelIntegrityError
from jobs import records
from jobs.locks import LockTimeout
from workers.jobrun import Lease, job_run

LEASE = Lease(max_attempts=3, min_step=5, heartbeat_seconds=1, stale_after=30, end_retry_seconds=0)

SECRET = "could not connect to db.internal.example:5432 (/srv/forecast/ml_models/7/rf_model.pkl)"


def _fail(engine, redis_url, exc: Exception) -> dict:
    job = records.create_job(engine, kind="train", product_id=7, params={})
    client = redis.Redis.from_url(redis_url)
    try:
        with job_run(engine, client, job["id"], lease=LEASE):
            raise exc
    except type(exc):
        pass  # an unexpected error is re-raised for Celery after the job is recorded as failed
    return records.get_job(engine, job_id=job["id"])


@pytest.mark.parametrize(
    ("exc", "code", "message"),
    [
        (InsufficientHistory(7, 42, 100), "insufficient_history", "Product 7 has 42 days of sales history"),
        (LockTimeout("Product 7 is being trained by another worker; gave up after 60 s."), "training_busy",
         "Product 7 is being trained by another worker"),
    ],
)
def test_a_domain_failure_keeps_its_message_under_a_code(engine, redis_url, exc, code, message):
    job = _fail(engine, redis_url, exc)
    found_code, found_message = records.split_error(job["error"])
    assert job["status"] == "failed" and found_code == code and found_message.startswith(message)


@pytest.mark.parametrize("exc", [OSError(SECRET), RuntimeError(SECRET), ModelIntegrityError(SECRET)])
def test_an_internal_failure_shows_only_the_job_id_and_logs_the_rest(engine, redis_url, caplog, exc):
    with caplog.at_level(logging.INFO, logger="workers.jobrun"):
        job = _fail(engine, redis_url, exc)
    assert job["error"] == f"internal_error: the job failed; see the service logs for job {job['id']}"
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert logged and logged[0].fields["job_id"] == job["id"]
    assert SECRET in "".join(logging.Formatter().formatException(r.exc_info) for r in logged if r.exc_info)


def test_split_error_reads_old_and_new_records():
    assert records.split_error(None) == (None, None)
    assert records.split_error("time_limit: The job ran past its time limit.") == (
        "time_limit", "The job ran past its time limit.")
    # Written before codes existed: the sentence is kept whole.
    assert records.split_error("Product 7 has 42 days of sales history.") == (
        "job_failed", "Product 7 has 42 days of sales history.")


def test_a_cancel_stops_a_running_job_at_its_next_progress_report(engine, redis_url):
    from jobs import control
    from workers.jobrun import NotRun

    job = records.create_job(engine, kind="train", product_id=7, params={})
    client = redis.Redis.from_url(redis_url)
    reached = []
    with pytest.raises(NotRun):
        with job_run(engine, client, job["id"], lease=LEASE) as run:
            run.progress("fit", 10)
            control.cancel_job(engine, job_id=job["id"])
            try:
                run.progress("fit", 50)
            except Exception:  # a cancellation is no Exception: the training's member guards must not catch it
                reached.append("caught")
            reached.append("after")
    assert reached == []
    ended = records.get_job(engine, job_id=job["id"])
    assert ended["status"] == "cancelled" and ended["progress"] == 10


def test_a_cancelled_queued_job_is_not_run(engine, redis_url):
    from jobs import control
    from workers.jobrun import NotRun

    job = records.create_job(engine, kind="forecast", product_id=7, params={})
    control.cancel_job(engine, job_id=job["id"])
    with pytest.raises(NotRun):
        with job_run(engine, redis.Redis.from_url(redis_url), job["id"], lease=LEASE):
            raise AssertionError("a cancelled job must not run")
    assert records.get_job(engine, job_id=job["id"])["attempts"] == 0


def test_an_outage_during_a_job_hands_it_back_instead_of_failing_it(engine, redis_url):
    from workers.jobrun import NotRun

    job = records.create_job(engine, kind="train", product_id=7, params={})
    with pytest.raises(NotRun):
        with job_run(engine, redis.Redis.from_url(redis_url), job["id"], lease=LEASE) as run:
            run.progress("fit", 20)
            raise redis.ConnectionError("Redis went away")
    again = records.get_job(engine, job_id=job["id"])
    # Queued and unpublished: the reconciler publishes it again, and the next attempt runs it.
    assert again["status"] == "queued" and again["published_at"] is None and again["owner"] is None
    assert again["error"] is None and again["attempts"] == 1


def test_a_batch_child_that_gives_up_still_reports_its_end(engine, redis_url):
    from jobs import leases
    from workers.jobrun import NotRun

    batch = records.create_job(engine, kind="batch", params={})
    job = records.create_job(engine, kind="train", product_id=7, parent_id=batch["id"], params={})
    for n in range(LEASE.max_attempts):
        leases.claim(engine, job_id=job["id"], owner=f"gone-host:{n}", stale_after=0)
    leases.requeue(engine, job_id=job["id"])  # as the reconciler does once the last one's heartbeat stopped
    ended = []
    with pytest.raises(NotRun):
        with job_run(engine, redis.Redis.from_url(redis_url), job["id"], lease=LEASE, ended=ended.append):
            raise AssertionError("a job whose attempts are used up must not run")
    assert [j["status"] for j in ended] == ["failed"] and ended[0]["parent_id"] == batch["id"]
    assert records.split_error(ended[0]["error"])[0] == "worker_lost"
    # Its message delivered once more: nothing runs, and its end is reported again, so its batch settles.
    with pytest.raises(NotRun):
        with job_run(engine, redis.Redis.from_url(redis_url), job["id"], lease=LEASE, ended=ended.append):
            raise AssertionError("an ended job must not run")
    assert len(ended) == 2 and ended[1]["status"] == "failed"


def test_a_database_unreachable_at_the_start_sends_the_message_back(tmp_path, redis_url):
    from celery.exceptions import Reject

    from forecasting.data.database import make_engine
    from launcher import free_port

    down = make_engine(f"postgresql+psycopg2://postgres@127.0.0.1:{free_port(1)}/none")
    with pytest.raises(Reject) as rejected:
        with job_run(down, redis.Redis.from_url(redis_url), "0b5f0c1e-5a37-4a43-9a6e-2f3c1b1f8e11", lease=LEASE):
            raise AssertionError("not claimed, not run")
    assert rejected.value.requeue is True
