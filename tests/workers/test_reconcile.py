"""The reconciler brings every orphaned job to a truthful state: published, requeued, failed or settled."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

import launcher
from api import create_app
from config.settings import load_settings
from forecasting.data.products import create_product
from forecasting.data.sales import upsert_sales
from forecasting.lifecycle.training_runs import list_runs, start_run
from jobs import broker_view, leases, locks, records
from jobs.celery_app import FORECAST_QUEUE, FORECAST_TRAINING_QUEUE, create_celery
from jobs.dispatch import submit
from jobs.table import jobs
from tests import services
from tests.api.conftest import history
from tests.conftest import SMALL_MODELS
from tests.workers.celery_process import celery_worker
from tests.workers.conftest import Stack
from workers.reconcile import reconcile
from workers.runtime import Runtime


@pytest.fixture
def rt(database_url, redis_url, tmp_path):
    services.flush(redis_url)
    settings = load_settings(overrides={"DATABASE_URL": services.migrated(database_url), "REDIS_URL": redis_url,
                                        "FORECASTING_MODELS_PATH": tmp_path / "models", "TASK_MAX_REDELIVERIES": 1})
    runtime = Runtime.create(settings)
    yield runtime, create_celery(settings)
    runtime.engine.dispose()


def _age(engine, job_id: str, seconds: float, **columns: str) -> None:
    then = datetime.now(timezone.utc) - timedelta(seconds=seconds)
    with engine.begin() as conn:
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(**{c: then for c in columns.values()}))


def _dead_owner() -> str:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return f"{socket.gethostname()}:{proc.pid}"


def test_a_job_recorded_but_never_published_is_published_once_its_grace_passed(rt):
    runtime, celery = rt
    fresh = records.create_job(runtime.engine, kind="forecast", product_id=1, params={"horizon": 7})
    old = records.create_job(runtime.engine, kind="forecast", product_id=1, params={"horizon": 7})
    _age(runtime.engine, old["id"], 600, a="updated_at")
    assert reconcile(runtime, celery)["published"] == 1
    held = broker_view.held_task_ids(celery)
    assert old["id"] in held and fresh["id"] not in held  # the API may still be publishing the fresh one
    assert records.get_job(runtime.engine, job_id=old["id"])["published_at"] is not None


def test_a_published_job_whose_message_the_broker_lost_is_published_again(rt):
    runtime, celery = rt
    job = records.create_job(runtime.engine, kind="train", product_id=1, params={})
    records.mark_published(runtime.engine, job_id=job["id"])
    _age(runtime.engine, job["id"], 600, a="published_at")
    assert job["id"] not in broker_view.held_task_ids(celery)
    assert reconcile(runtime, celery)["republished"] == 1
    assert job["id"] in broker_view.held_task_ids(celery)
    # Its message is held now: the next pass leaves it be.
    _age(runtime.engine, job["id"], 600, a="published_at")
    assert reconcile(runtime, celery)["republished"] == 0


def test_a_job_whose_worker_died_is_queued_again_then_failed_once_its_attempts_are_used(rt):
    runtime, celery = rt
    batch = records.create_job(runtime.engine, kind="batch", params={"selection": "ids", "product_ids": [4]})
    records.set_result(runtime.engine, job_id=batch["id"], result={"total": 1, "dispatched": True})
    leases.claim(runtime.engine, job_id=batch["id"], owner="x:1", stale_after=30)
    leases.release(runtime.engine, job_id=batch["id"], owner="x:1")
    job = records.create_job(runtime.engine, kind="train", product_id=4, parent_id=batch["id"], params={})
    locks.set_queued(runtime.redis, 4, job["id"], expire=3600)
    leases.claim(runtime.engine, job_id=job["id"], owner=_dead_owner(), stale_after=30)
    start_run(runtime.engine, product_id=4, job_id=job["id"], reason="requested", fingerprint="f")

    first = reconcile(runtime, celery)
    assert first["requeued"] == 1 and first["runs_interrupted"] == 1
    again = records.get_job(runtime.engine, job_id=job["id"])
    assert again["status"] == "queued" and again["id"] in broker_view.held_task_ids(celery)
    assert list_runs(runtime.engine, product_id=4)[0]["status"] == "interrupted"
    assert locks.queued_job(runtime.redis, 4) == job["id"]  # still its job's: the job is queued

    # The second attempt dies too, silently (another host): after the heartbeat timeout it has used both.
    leases.claim(runtime.engine, job_id=job["id"], owner="elsewhere:7", stale_after=30)
    _age(runtime.engine, job["id"], 3600, a="heartbeat_at")
    second = reconcile(runtime, celery)
    assert second["failed_lost"] == 1
    failed = records.get_job(runtime.engine, job_id=job["id"])
    assert failed["status"] == "failed" and records.split_error(failed["error"])[0] == "worker_lost"
    assert "Gave up after 2 attempts" in failed["error"]
    ended = records.get_job(runtime.engine, job_id=batch["id"])
    assert ended["status"] == "failed" and ended["result"]["failed"] == 1  # its batch settled
    assert locks.queued_job(runtime.redis, 4) is None  # the mark went with its job


def test_a_batch_whose_children_all_ended_is_settled_and_a_stale_mark_cleared(rt):
    runtime, celery = rt
    batch = records.create_job(runtime.engine, kind="batch", params={"selection": "ids", "product_ids": [1, 2]})
    records.set_result(runtime.engine, job_id=batch["id"], result={"total": 2, "dispatched": True})
    leases.claim(runtime.engine, job_id=batch["id"], owner="x:1", stale_after=30)
    leases.release(runtime.engine, job_id=batch["id"], owner="x:1")
    for pid in (1, 2):
        child = records.create_job(runtime.engine, kind="train", product_id=pid, parent_id=batch["id"], params={})
        records.finish_job(runtime.engine, job_id=child["id"], status="succeeded", result={})
        locks.set_queued(runtime.redis, pid, child["id"], expire=3600)
    done = reconcile(runtime, celery)
    assert done["settled"] == 1 and done["marks_cleared"] == 2
    assert records.get_job(runtime.engine, job_id=batch["id"])["status"] == "succeeded"
    assert locks.queued_marks(runtime.redis) == {}


def test_beat_runs_a_pass_every_interval_on_a_thread_of_its_own(rt):
    import time
    from dataclasses import replace

    from workers.reconcile import run_in_beat

    runtime, celery = rt
    job = records.create_job(runtime.engine, kind="forecast", product_id=1, params={"horizon": 7})
    _age(runtime.engine, job["id"], 600, a="updated_at")
    stop = run_in_beat(replace(runtime.settings, reconcile_interval_seconds=1), celery)
    try:
        deadline = time.monotonic() + 30
        while records.get_job(runtime.engine, job_id=job["id"])["published_at"] is None:
            assert time.monotonic() < deadline, "no pass published the job"
            time.sleep(0.2)
    finally:
        stop.set()
    assert job["id"] in broker_view.held_task_ids(celery)


def test_a_first_forecast_is_sent_again_to_the_queue_it_was_first_sent_to_and_runs_there(rt, tmp_path):
    """Lost, never published, or its worker dead: each goes back to `forecast-training`, never to `forecast`."""
    runtime, celery = rt
    create_product(runtime.engine, name="untrained", product_id=1)
    upsert_sales(runtime.engine, product_id=1, rows=history(400))

    def first_forecast() -> dict:
        # As the API sends a forecast whose product has no set yet.
        return submit(runtime.engine, celery, kind="forecast", product_id=1, params={"horizon": 7},
                      queue=FORECAST_TRAINING_QUEUE)

    lost, unpublished, dead = first_forecast(), first_forecast(), first_forecast()
    assert {job["queue"] for job in (lost, unpublished, dead)} == {FORECAST_TRAINING_QUEUE}
    runtime.redis.delete(FORECAST_TRAINING_QUEUE)  # the broker lost all three messages
    _age(runtime.engine, lost["id"], 600, a="published_at")
    with runtime.engine.begin() as conn:  # as if the sender died before publishing
        conn.execute(update(jobs).where(jobs.c.id == unpublished["id"]).values(published_at=None))
    _age(runtime.engine, unpublished["id"], 600, a="updated_at")
    leases.claim(runtime.engine, job_id=dead["id"], owner=_dead_owner(), stale_after=30)

    done = reconcile(runtime, celery)
    assert (done["republished"], done["published"], done["requeued"]) == (1, 1, 1)
    assert runtime.redis.llen(FORECAST_TRAINING_QUEUE) == 3 and runtime.redis.llen(FORECAST_QUEUE) == 0
    # The broker holds them on that queue now: the next pass sends none again.
    for job in (lost, unpublished, dead):
        _age(runtime.engine, job["id"], 600, a="published_at")
    again = reconcile(runtime, celery)
    assert (again.get("republished"), runtime.redis.llen(FORECAST_TRAINING_QUEUE)) == (0, 3)

    # Only the worker of forecasts that train first is running: it takes all three, and trains once.
    env = {k: str(v) for k, v in SMALL_MODELS.items()}
    env.update(DATABASE_URL=runtime.settings.database_url, REDIS_URL=runtime.settings.redis_url,
               FORECASTING_MODELS_PATH=str(runtime.settings.forecasting_models_path))
    with celery_worker(env, queues=launcher.worker_queues("forecast-training-worker"), name="forecast-training",
                       log=tmp_path / "worker.log"):
        app = create_app(env)
        stack = Stack(app=app, client=app.test_client(), models=tmp_path / "models", env=env, worker=None)
        ended = {job["id"]: stack.poll(f"/api/v1/jobs/{job['id']}") for job in (lost, unpublished, dead)}
    assert {job["status"] for job in ended.values()} == {"succeeded"}, ended
    assert sorted(job["result"]["model"]["trained_now"] for job in ended.values()) == [False, False, True]
