"""Forecasts keep flowing while a 1,000-product retrain waits on the training queue."""

import time
from datetime import date, timedelta

import launcher
from api import create_app
from forecasting.data.ingest import import_csv
from tests.workers.celery_process import celery_worker
from tests.workers.conftest import make_stack
from tests.workers.test_faults import train_small

PRODUCTS = 1001  # product 1 is forecast; products 2..1001 are retrained


def write_catalogue(path, days: int = 120) -> None:
    start = date(2024, 3, 3)
    lines = ["sku,date,units"]
    for sku in range(1, PRODUCTS + 1):
        lines += [f"{sku},{start + timedelta(days=d)},{(sku + d) % 9 + 1}" for d in range(days)]
    path.write_text("\n".join(lines) + "\n")


def test_forecast_completes_while_a_catalogue_retrain_is_queued(tmp_path, redis_url):
    env = make_stack(tmp_path, f"sqlite:///{tmp_path / 'sales.db'}", redis_url)
    app = create_app(env)
    svc = app.extensions["forecasting"]
    write_catalogue(tmp_path / "catalogue.csv")
    import_csv(svc.engine, tmp_path / "catalogue.csv", key_columns=["sku"], date_column="date",
               quantity_column="units")
    client = app.test_client()
    fresh = train_small(app)

    # The Procfile's queues: the training worker also queues the batch's children.
    with celery_worker(env, queues=launcher.worker_queues("worker"), name="training",
                       log=tmp_path / "training.log"), \
            celery_worker(env, queues=launcher.worker_queues("forecast-worker"), name="forecast",
                          log=tmp_path / "forecast.log"):
        batch = client.post("/api/v1/models/retrain", json={"product_ids": list(range(2, PRODUCTS + 1))})
        assert batch.status_code == 202
        batch_url = batch.headers["Location"]
        deadline = time.monotonic() + 120
        while not (client.get(batch_url).json["result"] or {}).get("dispatched"):
            assert time.monotonic() < deadline, "the batch was not queued in time"
            time.sleep(0.2)
        assert client.get(batch_url).json["counts"]["total"] == PRODUCTS - 1

        response = client.post("/api/v1/forecast", json={"product_id": 1, "forecast_horizon": 30})
        deadline = time.monotonic() + 120
        while (job := client.get(response.headers["Location"]).json)["status"] not in {"succeeded", "failed"}:
            assert time.monotonic() < deadline, job
            time.sleep(0.05)
        counts = client.get(batch_url).json["counts"]

    assert job["status"] == "succeeded", job["error"]
    assert job["result"]["model"]["trained_now"] is False
    assert job["result"]["model"]["trained_at"] == fresh["trained_at"]
    # The forecast did not wait for the retrain: nearly all of it was still queued.
    assert counts["queued"] >= PRODUCTS - 1 - 50, counts
