"""Forecast jobs of a fresh set while a bulk retrain of 1,000 products queues its children.

    .venv/bin/python -m bench.batch_wait                      # the Procfile's workers
    .venv/bin/python -m bench.batch_wait --batches-on forecast  # the forecast worker queues batches, as before

Starts a private redis-server, a SQLite database, the Procfile's forecast worker and training
worker (each with its line's queues and default concurrency; small models), trains product 1,
then POSTs a bulk retrain of `--products` products (no sales: the queueing is what is
measured, each child then fails at once) and, once a worker holds the batch, sends forecast
jobs of product 1 one after another (POST, then GET /jobs/<id>?wait=) until every child is
queued. Prints each forecast's seconds and whether it ended before the queueing did.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from api import create_app
from bench.export import SMALL_MODELS
from config.settings import ROOT
from forecasting.data import migrations
from forecasting.data.database import make_engine
from forecasting.data.products import create_product
from forecasting.data.sales import upsert_sales
from jobs import records
from jobs.celery_app import BATCH_QUEUE
from launcher import celery_worker, scratch_stack, worker_queues

RESULTS = ROOT / "bench" / "results"


def history(days: int) -> list[tuple[date, float]]:
    """Return `days` days of weekly-patterned sales ending 2024-06-30."""
    start = date(2024, 7, 1) - timedelta(days=days)
    return [(start + timedelta(days=n), float(10 + n % 7)) for n in range(days)]


def queues(batches_on: str) -> dict[str, str]:
    """Return the queues of the forecast and training workers: the Procfile's, or batches on the forecast worker."""
    forecast, training = worker_queues("forecast-worker"), worker_queues("worker")
    if batches_on == "forecast":
        training = ",".join(q for q in training.split(",") if q != BATCH_QUEUE)
        forecast = f"{forecast},{BATCH_QUEUE}"
    return {"forecast": forecast, "training": training}


def ended(client, job_id: str) -> dict[str, Any]:
    """Return the job once it has ended (each GET waits up to 30 s for it)."""
    while (job := client.get(f"/api/v1/jobs/{job_id}?wait=30").json)["status"] not in records.TERMINAL:
        pass
    return job


def measure(args: argparse.Namespace, work: Path, redis_url: str) -> dict[str, Any]:
    """Run the stack and the forecasts; return what was seen."""

    env = {**{k: str(v) for k, v in SMALL_MODELS.items()}, "DATABASE_URL": f"sqlite:///{work / 'sales.db'}",
           "REDIS_URL": redis_url, "FORECASTING_MODELS_PATH": str(work / "models"), "LOG_LEVEL": "WARNING",
           "ENV": "development", "AUTH_REQUIRED": "false", "WORKER_CONCURRENCY": "2"}
    engine = make_engine(env["DATABASE_URL"])
    migrations.upgrade(engine)
    create_product(engine, name="fresh", product_id=1)
    upsert_sales(engine, product_id=1, rows=history(400))
    bulk = list(range(1000, 1000 + args.products))
    for pid in bulk:
        create_product(engine, name=f"bulk {pid}", product_id=pid)
    app = create_app(env)
    client = app.test_client()
    layout = queues(args.batches_on)
    with celery_worker(env, queues=layout["forecast"], name="forecast", log=work / "forecast.log"), \
            celery_worker(env, queues=layout["training"], concurrency=2, name="training", log=work / "training.log"):
        trained = ended(client, client.post("/api/v1/models/1/retrain").json["job_id"])
        assert trained["status"] == "succeeded", trained
        batch_id = client.post("/api/v1/models/retrain", json={"product_ids": bulk}).json["job_id"]
        posted = time.perf_counter()
        while not records.get_job(engine, job_id=batch_id)["owner"]:
            time.sleep(0.01)
        forecasts = []
        while True:
            started = time.perf_counter()
            job = ended(client, client.post("/api/v1/forecast", json={"product_id": 1, "forecast_horizon": 7})
                        .json["job_id"])
            assert job["status"] == "succeeded", job
            batch = records.get_job(engine, job_id=batch_id)
            done = bool((batch["result"] or {}).get("dispatched"))
            forecasts.append({"seconds": round(time.perf_counter() - started, 3), "before_batch_queued": not done})
            if done:
                break
        while not (records.get_job(engine, job_id=batch_id)["result"] or {}).get("dispatched"):
            time.sleep(0.05)
        queued_s = time.perf_counter() - posted
    engine.dispose()
    seconds = [f["seconds"] for f in forecasts]
    return {"batches_on": args.batches_on, "queues": layout, "products": args.products,
            "batch_queued_after_s": round(queued_s, 1), "forecasts": forecasts,
            "forecasts_before_batch_queued": sum(f["before_batch_queued"] for f in forecasts),
            "first_forecast_s": seconds[0], "median_forecast_s": round(statistics.median(seconds), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=1000, help="products of the bulk retrain")
    parser.add_argument("--batches-on", choices=("procfile", "forecast"), default="procfile",
                        help="procfile: the Procfile's queues; forecast: the forecast worker also queues batches")
    args = parser.parse_args()
    with scratch_stack("batch-wait-", 18210) as (work, redis_url):
        report = measure(args, work, redis_url)
    print(f"{report['products']} children queued {report['batch_queued_after_s']} s after the POST "
          f"(batches on: {report['batches_on']}, queues {report['queues']})")
    print(f"forecast jobs of a fresh set: first {report['first_forecast_s']} s, median {report['median_forecast_s']} s, "
          f"{report['forecasts_before_batch_queued']} of {len(report['forecasts'])} ended before the children were queued")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"batch-wait-{args.batches_on}.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
