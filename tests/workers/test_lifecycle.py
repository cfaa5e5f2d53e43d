"""Model lifecycle with real Redis, a real database and real Celery workers."""

import threading
import time
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from config.settings import load_settings
from forecasting.data.products import create_product
from forecasting.data.sales import load_history, upsert_sales
from forecasting.lifecycle import steps
from forecasting.lifecycle.training_runs import list_runs
from jobs.locks import training_lock
from jobs.table import jobs as jobs_table
from tests.api.conftest import history
from workers.runtime import Runtime
from workers.scan import enqueue_stale


@pytest.fixture
def database_url(tmp_path):
    return f"sqlite:///{tmp_path / 'sales.db'}"


@pytest.fixture
def catalogue(stack):
    """Products 1 and 3 with 400 days, product 2 with 50 (too short to train)."""
    engine = stack.app.extensions["forecasting"].engine
    create_product(engine, name="third", product_id=3)
    upsert_sales(engine, product_id=3, rows=history(400))
    return stack


def runtime_for(stack, **overrides) -> Runtime:
    return Runtime.create(load_settings(overrides={**stack.env, **overrides}))


def train_jobs(stack) -> list:
    with stack.app.extensions["forecasting"].engine.connect() as conn:
        return conn.execute(select(jobs_table.c.product_id, jobs_table.c.params, jobs_table.c.status)
                            .where(jobs_table.c.kind == "train")).all()


def wait_idle(stack, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(j.status in {"succeeded", "failed", "skipped"} for j in train_jobs(stack)):
            return
        time.sleep(0.2)
    raise AssertionError(f"training jobs still open: {train_jobs(stack)}")


def test_scan_retrains_on_missing_data_change_and_age_only(catalogue):
    stack, celery = catalogue, catalogue.app.extensions["forecasting"].celery
    rt = runtime_for(stack)
    first = enqueue_stale(rt, celery)
    assert (first["queued"], first["too_short"], first["stale"]) == (2, 1, 2)
    wait_idle(stack)
    assert sorted(j.product_id for j in train_jobs(stack)) == [1, 3]
    assert all(j.status == "succeeded" for j in train_jobs(stack))

    unchanged = enqueue_stale(rt, celery)
    assert unchanged["queued"] == 0 and unchanged["fresh"] == 2

    upsert_sales(rt.engine, product_id=1, rows=[(date(2024, 7, 1), 42.0)])
    changed = enqueue_stale(rt, celery)
    assert changed["queued"] == 1
    wait_idle(stack)
    newest = [j for j in train_jobs(stack) if j.product_id == 1][-1]
    assert '"data_changed"' in newest.params and newest.status == "succeeded"
    assert [r["reason"] for r in list_runs(rt.engine, product_id=1)] == ["data_changed", "missing"]

    aged = enqueue_stale(runtime_for(stack, MODEL_RETRAIN_INTERVAL_DAYS=0), celery)
    assert aged["queued"] == 2
    wait_idle(stack)
    assert len(train_jobs(stack)) == 5


@pytest.fixture
def idle_stack(tmp_path, redis_url):
    """The stack's database and broker, but no worker: queued jobs stay queued."""
    from api import create_app
    from tests.workers.conftest import make_stack

    env = make_stack(tmp_path, f"sqlite:///{tmp_path / 'sales.db'}", redis_url)
    app = create_app(env)
    engine = app.extensions["forecasting"].engine
    for pid in (1, 2, 3):
        create_product(engine, name=f"p{pid}", product_id=pid)
        upsert_sales(engine, product_id=pid, rows=history(400 if pid != 2 else 50))
    return app, env


def test_two_scans_at_once_queue_each_product_once(idle_stack):
    app, env = idle_stack
    celery, redis = app.extensions["forecasting"].celery, app.extensions["forecasting"].redis
    results = []
    barrier = threading.Barrier(4)

    def scan() -> None:
        rt = Runtime.create(load_settings(overrides=env))
        barrier.wait()
        results.append(enqueue_stale(rt, celery))

    threads = [threading.Thread(target=scan) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r["queued"] for r in results) == 2
    assert sum(r["already_queued"] for r in results) == 6
    assert redis.llen("training") == 2
    with app.extensions["forecasting"].engine.connect() as conn:
        assert sorted(conn.execute(select(jobs_table.c.product_id)).scalars()) == [1, 3]


def test_training_waits_for_the_lock_then_skips_a_set_made_meanwhile(catalogue):
    stack = catalogue
    svc = stack.app.extensions["forecasting"]
    policy = steps.Policy(params=load_settings(overrides=stack.env).model_params, min_samples=100,
                             max_age=timedelta(days=7))
    with training_lock(svc.redis, 1, owner="another-worker", expire=60, wait=1):
        response = stack.client.post("/api/v1/models/1/retrain", json={"force": False})
        location = response.headers["Location"]
        deadline = time.monotonic() + 60
        while (waiting := stack.client.get(location).json)["status"] == "queued" and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)
        waiting = stack.client.get(location).json
        # Started, but held at the lock: no training of its own has begun.
        assert waiting["status"] == "running" and waiting["progress"]["stage"] == "started"
        assert list_runs(svc.engine, product_id=1) == []
        # The lock holder trains meanwhile.
        steps.train(engine=svc.engine, store=svc.store, history=load_history(svc.engine, product_id=1),
                       policy=policy, reason="test")
    job = stack.poll(location)
    assert job["status"] == "skipped" and job["result"]["reason"] == "fresh"
    assert len(list_runs(svc.engine, product_id=1)) == 1


def test_batch_counts_add_up_with_a_failure(catalogue):
    stack = catalogue
    response = stack.client.post("/api/v1/models/retrain", json={"product_ids": [1, 2, 3]})
    assert response.status_code == 202
    job = stack.poll(response.headers["Location"])
    assert job["status"] == "failed" and job["error"] == "1 of 3 products failed to train."
    assert job["error_code"] == "batch_failed"
    assert job["counts"] == {"total": 3, "queued": 0, "running": 0, "succeeded": 2, "failed": 1, "skipped": 0,
                             "cancelled": 0}
    [failure] = job["failures"]
    assert failure["product_id"] == 2 and "50 days" in failure["error"] and "at least 100" in failure["error"]
    assert failure["error_code"] == "insufficient_history"
    assert (stack.models / "1").is_dir() and (stack.models / "3").is_dir() and not (stack.models / "2").exists()
    runs = stack.client.get("/api/v1/models/1/history").json["runs"]
    assert runs[0]["status"] == "succeeded" and runs[0]["metrics"]["ensemble"]["smape"] >= 0
