"""A first forecast trains on the worker of forecasts that train; the forecast worker only serves fresh sets."""

import time

from api import create_app
from forecasting.data.products import create_product
from forecasting.data.sales import upsert_sales
from jobs.celery_app import FORECAST_QUEUE, FORECAST_TRAINING_QUEUE
from tests.api.conftest import history
from tests.workers.celery_process import celery_worker
from tests.workers.conftest import make_stack


def ended(client, location: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while (job := client.get(location).json)["status"] not in {"succeeded", "failed", "skipped"}:
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    return job


def test_each_forecast_runs_on_the_worker_of_its_queue(tmp_path, redis_url):
    env = make_stack(tmp_path, f"sqlite:///{tmp_path / 'sales.db'}", redis_url)
    app = create_app(env)
    engine = app.extensions["forecasting"].engine
    create_product(engine, name="long", product_id=1)
    upsert_sales(engine, product_id=1, rows=history(400))
    client = app.test_client()
    logs = {name: tmp_path / f"{name}.log" for name in (FORECAST_QUEUE, FORECAST_TRAINING_QUEUE)}

    with celery_worker(env, queues=FORECAST_QUEUE, name="forecast", log=logs[FORECAST_QUEUE]), \
            celery_worker(env, queues=FORECAST_TRAINING_QUEUE, name="forecast-training",
                          log=logs[FORECAST_TRAINING_QUEUE]):
        first = ended(client, client.post("/api/v1/forecast", json={"product_id": 1}).headers["Location"])
        later = ended(client, client.post("/api/v1/forecast", json={"product_id": 1}).headers["Location"])
        direct = client.get("/api/v1/products/1/forecast?horizon=90")

    assert first["status"] == "succeeded" and first["result"]["model"]["trained_now"] is True
    assert later["status"] == "succeeded" and later["result"]["model"]["trained_now"] is False
    assert direct.status_code == 200 and direct.json["points"] == later["result"]["points"]
    training_log, forecast_log = logs[FORECAST_TRAINING_QUEUE].read_text(), logs[FORECAST_QUEUE].read_text()
    assert first["id"] in training_log and first["id"] not in forecast_log
    assert later["id"] in forecast_log and later["id"] not in training_log
