"""A cancelled training stops at its next progress report, on a real worker, and the set in use stays."""

from __future__ import annotations

import time

from api import create_app
from forecasting.data.products import create_product
from forecasting.data.sales import upsert_sales
from tests.api.conftest import history
from tests.workers.celery_process import celery_worker
from tests.workers.conftest import Stack, make_stack


def _wait(predicate, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_cancelling_a_running_training_keeps_the_previous_model_set(tmp_path, database_url, redis_url):
    # Enough LSTM epochs that the training is still running when the cancel arrives.
    env = make_stack(tmp_path, database_url, redis_url, LSTM_EPOCHS=60)
    app = create_app(env)
    create_product(app.extensions["forecasting"].engine, name="p", product_id=1)
    upsert_sales(app.extensions["forecasting"].engine, product_id=1, rows=history(400))
    with celery_worker(env, log=tmp_path / "worker.log") as worker:
        stack = Stack(app=app, client=app.test_client(), models=tmp_path / "models", env=env, worker=worker)
        first = stack.client.post("/api/v1/models/1/retrain")
        assert stack.poll(first.headers["Location"])["status"] == "succeeded"
        before = stack.client.get("/api/v1/models/1").json

        second = stack.client.post("/api/v1/models/1/retrain")
        location = second.headers["Location"]
        _wait(lambda: (job := stack.client.get(location).json)["status"] == "running"
              and job["progress"]["percent"] > 0)
        cancelled = stack.client.delete(location)
        assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
        # The worker notices at its next progress report and records the run as stopped.
        job_id = second.json["job_id"]
        newest = _wait(lambda: (run := stack.client.get("/api/v1/models/1/history").json["runs"][0])["job_id"]
                       == job_id and run["status"] != "running" and run)
        assert newest["status"] == "failed" and "JobCancelled" in newest["error"]
        assert stack.client.get(location).json["status"] == "cancelled"
        assert stack.client.get("/api/v1/models/1").json["trained_at"] == before["trained_at"]
        # The worker is free: a new training runs to its end.
        third = stack.client.post("/api/v1/models/1/retrain")
        assert third.json["created"] is True
        assert stack.poll(third.headers["Location"])["status"] == "succeeded"


def test_a_batch_cancelled_while_queueing_queues_no_more_trainings(tmp_path, redis_url, monkeypatch):
    from config.settings import load_settings
    from jobs import control, records
    from workers import batch
    from workers.jobrun import job_run
    from workers.runtime import Runtime

    env = make_stack(tmp_path, f"sqlite:///{tmp_path / 's.db'}", redis_url)
    app = create_app(env)
    svc = app.extensions["forecasting"]
    for pid in (1, 2, 3):
        create_product(svc.engine, name=f"p{pid}", product_id=pid)
    job = records.create_job(svc.engine, kind="batch", params={"selection": "all", "force": True})
    chosen = batch.select_products

    def cancelled_meanwhile(rt, params):
        items = chosen(rt, params)
        control.cancel_job(svc.engine, job_id=job["id"])  # as DELETE /jobs/<id> would, mid-dispatch
        return items

    monkeypatch.setattr(batch, "select_products", cancelled_meanwhile)
    rt = Runtime.create(load_settings(overrides=env))
    with job_run(rt.engine, rt.redis, job["id"], lease=rt.lease) as run:
        batch.dispatch(rt, svc.celery, run)
    assert records.get_job(svc.engine, job_id=job["id"])["status"] == "cancelled"
    assert records.child_product_ids(svc.engine, parent_id=job["id"]) == set()
    assert svc.redis.llen("training") == 0
