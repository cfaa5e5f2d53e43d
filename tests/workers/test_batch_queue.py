"""A batch queues its children on the training worker: no forecast waits behind it, and its cancel still reaches them.

The Procfile's own workers run, each on the queues its line names. The batch is held in the
middle of queueing its children (its row locked in PostgreSQL, so its next progress report
waits), which is where a forecast worker queueing it would keep every forecast waiting.
"""

from __future__ import annotations

import time

from sqlalchemy import func, select

import launcher
from api import create_app
from forecasting.data.products import create_product
from forecasting.data.sales import upsert_sales
from jobs import records
from jobs.celery_app import FORECAST_QUEUE, FORECAST_TRAINING_QUEUE
from jobs.table import jobs
from tests import services
from tests.api.conftest import history
from tests.workers.celery_process import celery_worker
from tests.workers.conftest import Stack, make_stack

BULK = list(range(10, 410))  # products without sales: 400 children to queue


def _until(predicate, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
    return value


def _children(engine, batch_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(jobs).where(jobs.c.parent_id == batch_id)).scalar_one()


def _procfile_worker(env, process: str, tmp_path):
    return celery_worker(env, queues=launcher.worker_queues(process), name=process, log=tmp_path / f"{process}.log")


def test_forecasts_run_while_a_bulk_retrain_is_queueing_its_children_and_its_cancel_reaches_them(
        tmp_path, postgres_url, redis_url):
    env = make_stack(tmp_path, services.emptied(postgres_url), redis_url)
    app = create_app(env)
    engine = app.extensions["forecasting"].engine
    for pid, days in ((1, 400), (2, 400)):
        create_product(engine, name=f"p{pid}", product_id=pid)
        upsert_sales(engine, product_id=pid, rows=history(days))
    for pid in BULK:
        create_product(engine, name=f"bulk {pid}", product_id=pid)
    with _procfile_worker(env, "worker", tmp_path), _procfile_worker(env, "forecast-worker", tmp_path), \
            _procfile_worker(env, "forecast-training-worker", tmp_path) as w:
        stack = Stack(app=app, client=app.test_client(), models=tmp_path / "models", env=env, worker=w)
        assert stack.poll(stack.client.post("/api/v1/models/1/retrain").headers["Location"])["status"] == "succeeded"

        bulk = stack.client.post("/api/v1/models/retrain", json={"product_ids": BULK})
        assert bulk.status_code == 202, bulk.json
        batch_id = bulk.json["job_id"]
        _until(lambda: records.get_job(engine, job_id=batch_id)["owner"])  # a worker is queueing its children
        with engine.connect() as lock:
            held = lock.begin()
            lock.execute(select(jobs.c.id).where(jobs.c.id == batch_id).with_for_update())
            # Product 1's set is fresh: its forecast goes to the forecast worker. Product 2 has none:
            # its first forecast trains on the worker of such forecasts.
            fresh = stack.client.post("/api/v1/forecast", json={"product_id": 1, "forecast_horizon": 7})
            first = stack.client.post("/api/v1/forecast", json={"product_id": 2, "forecast_horizon": 7})
            queues = {records.get_job(engine, job_id=r.json["job_id"])["queue"] for r in (fresh, first)}
            assert queues == {FORECAST_QUEUE, FORECAST_TRAINING_QUEUE}
            served, trained = stack.poll(fresh.headers["Location"]), stack.poll(first.headers["Location"])
            # Both ended while the batch was still queueing its children.
            during = records.get_job(engine, job_id=batch_id)
            queued_so_far = _children(engine, batch_id)
            held.rollback()
        assert served["status"] == "succeeded" and served["result"]["model"]["trained_now"] is False
        assert trained["status"] == "succeeded" and trained["result"]["model"]["trained_now"] is True
        assert during["status"] == "running" and during["owner"] and not during["result"]["dispatched"]
        assert queued_so_far < len(BULK)

        cancelled = stack.client.delete(f"/api/v1/jobs/{batch_id}")
        assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
        # The batch stops queueing, and every child it queued ends (cancelled, or failed for want of sales).
        _until(lambda: records.get_job(engine, job_id=batch_id)["owner"] is None)
        children = _until(lambda: (page := stack.client.get(f"/api/v1/jobs?parent_id={batch_id}&limit=1000").json)
                          and not any(c["status"] in ("queued", "running") for c in page["jobs"]) and page)
        assert 0 < children["total"] < len(BULK)
        assert {c["status"] for c in children["jobs"]} <= {"cancelled", "failed"}
        ended = stack.client.get(f"/api/v1/jobs/{batch_id}").json
        assert ended["status"] == "cancelled" and ended["counts"]["queued"] == ended["counts"]["running"] == 0
        assert ended["counts"]["total"] == len(BULK)  # the products it never queued count as cancelled
