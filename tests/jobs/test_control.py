"""Pruning ended jobs: old ones go, recent ones, running batches' children and training runs stay."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, update

from forecasting.data.database import training_runs
from forecasting.lifecycle.training_runs import start_run
from jobs import control, records
from jobs.table import jobs


def _ended(engine, days_ago: float, **fields) -> str:
    job = records.create_job(engine, kind=fields.pop("kind", "train"), product_id=1, params={}, **fields)
    records.finish_job(engine, job_id=job["id"], status="succeeded")
    with engine.begin() as conn:
        conn.execute(update(jobs).where(jobs.c.id == job["id"])
                     .values(finished_at=datetime.now(timezone.utc) - timedelta(days=days_ago)))
    return job["id"]


def _ids(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(jobs.c.id)).scalars())


def test_prune_deletes_only_jobs_ended_before_the_retention(engine):
    old, recent = _ended(engine, 31), _ended(engine, 29)
    waiting = records.create_job(engine, kind="forecast", product_id=1, params={})["id"]
    start_run(engine, product_id=1, job_id=old, reason="requested", fingerprint="f")
    assert control.prune_ended(engine, older_than_days=30) == 1
    assert _ids(engine) == {recent, waiting}
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(training_runs)).scalar_one() == 1


def test_prune_keeps_the_ended_children_of_a_batch_still_running(engine):
    batch = records.create_job(engine, kind="batch", params={"selection": "all"})["id"]
    child = _ended(engine, 40, parent_id=batch)
    assert control.prune_ended(engine, older_than_days=30) == 0
    assert child in _ids(engine)
    records.finish_job(engine, job_id=batch, status="succeeded")
    assert control.prune_ended(engine, older_than_days=30) == 1


def test_a_cancelled_job_is_pruned_like_any_ended_one(engine):
    job = records.create_job(engine, kind="forecast", product_id=1, params={})["id"]
    control.cancel_job(engine, job_id=job)
    later = datetime.now(timezone.utc) + timedelta(days=31)
    assert control.prune_ended(engine, older_than_days=30, now=later) == 1


def test_beat_prunes_on_its_schedule_with_a_registered_task():
    from config.settings import load_settings
    from jobs.celery_app import BATCH_QUEUE, PRUNE_TASK, create_celery
    from workers import tasks

    settings = load_settings(environ={"REDIS_URL": "redis://127.0.0.1:1/0", "JOB_PRUNE_INTERVAL_SECONDS": "600"},
                             dotenv=None)
    entry = create_celery(settings).conf.beat_schedule["prune-ended-jobs"]
    assert entry["task"] == PRUNE_TASK == tasks.prune_jobs.name and entry["schedule"] == 600.0
    # Not on the forecast worker's queue: the training worker takes the batch queue.
    assert entry["options"]["queue"] == BATCH_QUEUE
