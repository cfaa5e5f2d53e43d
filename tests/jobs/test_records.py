import uuid
from datetime import datetime, timedelta, timezone

import pytest

from jobs import records
from jobs.records import JobNotFound


def moment(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    assert value.utcoffset() == timedelta(0), text
    return value


def test_job_lifecycle(engine):
    before = datetime.now(timezone.utc)
    job = records.create_job(engine, kind="forecast", product_id=3, params={"horizon": 90})
    assert uuid.UUID(job["id"]).version == 4
    assert (job["status"], job["progress"], job["attempts"], job["stage"]) == ("queued", 0, 0, None)
    assert job["params"] == {"horizon": 90} and job["result"] is None and job["started_at"] is None
    assert moment(job["created_at"]) >= before - timedelta(seconds=1)

    assert records.start_job(engine, job_id=job["id"])["attempts"] == 1
    running = records.get_job(engine, job_id=job["id"])
    assert running["status"] == "running" and moment(running["started_at"]) >= moment(job["created_at"])

    assert records.set_progress(engine, job_id=job["id"], stage="fitting prophet", progress=40)
    assert records.set_progress(engine, job_id=job["id"], stage="fitting lstm", progress=30)
    job_now = records.get_job(engine, job_id=job["id"])
    assert (job_now["stage"], job_now["progress"]) == ("fitting lstm", 40)  # never goes down

    done = records.finish_job(engine, job_id=job["id"], status="succeeded", result={"points": [1.5, 2]})
    assert (done["status"], done["progress"], done["error"]) == ("succeeded", 100, None)
    assert done["result"] == {"points": [1.5, 2]}
    assert moment(done["finished_at"]) >= moment(done["started_at"])
    # A late progress report from a lost worker does not reopen the job.
    assert records.set_progress(engine, job_id=job["id"], stage="late", progress=10) is False
    assert records.get_job(engine, job_id=job["id"])["stage"] == "done"
    # Nor does a redelivered message: an ended job is not started again.
    assert records.start_job(engine, job_id=job["id"]) is None
    assert records.get_job(engine, job_id=job["id"])["status"] == "succeeded"


def test_redelivered_job_counts_attempts_and_restarts_progress(engine):
    job = records.create_job(engine, kind="train", product_id=1, params={})
    records.start_job(engine, job_id=job["id"])
    records.set_progress(engine, job_id=job["id"], stage="fitting", progress=70)
    assert records.start_job(engine, job_id=job["id"])["attempts"] == 2
    again = records.get_job(engine, job_id=job["id"])
    assert (again["attempts"], again["progress"], again["stage"]) == (2, 0, "started")


def test_failed_job_keeps_its_progress_and_error(engine):
    job = records.create_job(engine, kind="train", product_id=1, params={"force": True})
    records.start_job(engine, job_id=job["id"])
    records.set_progress(engine, job_id=job["id"], stage="fitting lstm", progress=74)
    failed = records.fail_job(engine, job_id=job["id"], error="Product 1 has 20 days of sales history")
    assert (failed["status"], failed["progress"], failed["stage"]) == ("failed", 74, "fitting lstm")
    assert failed["error"] == "Product 1 has 20 days of sales history" and failed["result"] is None


@pytest.mark.parametrize("job_id", [str(uuid.uuid4()), "not-a-uuid", "", "1; DROP TABLE jobs"])
def test_unknown_or_malformed_ids_are_not_found(engine, job_id):
    with pytest.raises(JobNotFound, match="does not exist"):
        records.get_job(engine, job_id=job_id)
    with pytest.raises(JobNotFound):
        records.start_job(engine, job_id=job_id)
    with pytest.raises(JobNotFound):
        records.set_progress(engine, job_id=job_id, stage="x", progress=1)
    with pytest.raises(JobNotFound):
        records.finish_job(engine, job_id=job_id, status="failed", error="x")


def test_ids_are_found_whatever_their_case(engine):
    job = records.create_job(engine, kind="forecast", params={})
    assert records.get_job(engine, job_id=job["id"].upper())["id"] == job["id"]


def test_invalid_kind_and_status_are_refused(engine):
    with pytest.raises(ValueError, match="Job kind must be one of"):
        records.create_job(engine, kind="cook", params={})
    job = records.create_job(engine, kind="forecast", params={})
    with pytest.raises(ValueError, match="A job ends as one of"):
        records.finish_job(engine, job_id=job["id"], status="running")


def test_batch_children(engine):
    batch = records.create_job(engine, kind="batch", params={"all": True})
    children = [records.create_job(engine, kind="train", product_id=p, parent_id=batch["id"], params={})
                for p in range(1, 6)]
    records.create_job(engine, kind="train", product_id=9, params={})  # not in the batch
    records.finish_job(engine, job_id=children[0]["id"], status="succeeded", result={"trained": True})
    records.finish_job(engine, job_id=children[1]["id"], status="skipped", result={"reason": "fresh"})
    records.start_job(engine, job_id=children[2]["id"])
    records.fail_job(engine, job_id=children[3]["id"], error="boom")
    assert records.count_children(engine, parent_id=batch["id"]) == {
        "queued": 1, "running": 1, "succeeded": 1, "failed": 1, "skipped": 1, "cancelled": 0,
    }
    failed = records.list_children_failed(engine, parent_id=batch["id"])
    assert [(f["id"], f["product_id"], f["error"]) for f in failed] == [(children[3]["id"], 4, "boom")]
    assert records.count_children(engine, parent_id=str(uuid.uuid4())) == dict.fromkeys(records.STATUSES, 0)
