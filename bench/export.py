"""Export of a bulk forecast (1,000 products x 90 days) in one call, beside reading the same rows with SQL.

    .venv/bin/python -m bench.export [--products 1000] [--days 90] [--processes 2] [--database-url URL]

Starts its own redis-server, a real forecast worker (``celery -A workers.entry worker``) and the
API under gunicorn, on free ports and a temporary folder (SQLite there unless --database-url names
an empty database). Products get small synthetic sales histories and are trained with small
model settings (the test suite's: every member trains, briefly): the bench measures the export,
not the models. One ``POST /api/v1/forecasts {"all": true}`` forecasts them all; then
``GET /api/v1/jobs/<id>/result`` is timed over HTTP as CSV, JSON Lines and JSON (median of
--repeats, first byte and last byte), beside the same rows read straight from the database:
the batch's job results, and the saved forecasts, each fetched by one SQL query and decoded
into one tuple per product and day. The API worker's resident memory is sampled meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import requests
from sqlalchemy import text

from bench.catalogue import PeakRss
from config.settings import ROOT, load_settings
from forecasting.data import migrations
from forecasting.data.database import make_engine
from forecasting.data.ingest import import_csv
from jobs.celery_app import QUEUES
from launcher import celery_worker, free_port, scratch_stack

RESULTS = ROOT / "bench" / "results"
#: Small but real models, as the test suite trains them (tests/conftest.py SMALL_MODELS).
SMALL_MODELS = {"LSTM_EPOCHS": 2, "LSTM_WINDOW": 14, "LSTM_MAX_TRAIN_WINDOWS": 200, "RF_TREES": 10,
                "VALIDATION_DAYS": 28, "MIN_TRAINING_SAMPLES": 100}
FORMATS = {"CSV": "text/csv", "JSON Lines": "application/x-ndjson", "JSON": "application/json"}
COLUMNS = ("forecast", "lower", "upper", "lower_95", "upper_95", "prophet", "lstm", "random_forest")


def write_sales(path: Path, products: int, days: int) -> None:
    """Write `days` of weekly-patterned Poisson demand for each product, a level of its own each."""
    rng = np.random.default_rng(7)
    start = date(2024, 1, 1)
    weekly = 1 + 0.3 * np.sin(2 * np.pi * np.arange(days) / 7)
    with open(path, "w") as out:
        out.write("sku,date,units\n")
        for sku in range(1, products + 1):
            units = rng.poisson((5 + sku % 40) * weekly)
            out.writelines(f"{sku},{start + timedelta(days=d)},{units[d]}\n" for d in range(days))


@contextmanager
def api_server(env: dict[str, str], log: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    """Run the API under gunicorn (one worker process) on a free port; yield it and its base URL."""
    port = free_port(8093)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4",
             "--timeout", "300", "--control-socket", str(log.parent / "gunicorn.ctl"), "api:create_app()"],
            cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}/api/v1"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    requests.get(f"{base}/jobs?limit=1", timeout=2)
                    break
                except (requests.ConnectionError, requests.Timeout):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(f"the API did not start; see {log}") from None
                    time.sleep(0.2)
            yield proc, base
        finally:
            proc.terminate()
            proc.wait(30)


def run_bulk_forecast(base: str, days: int) -> tuple[dict[str, Any], float]:
    """POST one bulk forecast of every product and wait for its end; return the batch and wall seconds."""
    started = time.perf_counter()
    response = requests.post(f"{base}/forecasts", json={"all": True, "forecast_horizon": days}, timeout=30)
    response.raise_for_status()
    job_url = f"{base}/jobs/{response.json()['job_id']}"
    while (job := requests.get(f"{job_url}?wait=30", timeout=60).json())["status"] in {"queued", "running"}:
        print(f"  bulk forecast: {job['counts']}", flush=True)
    return job, time.perf_counter() - started


def time_export(url: str, media_type: str) -> dict[str, float]:
    """GET the result once as `media_type`; return seconds to the first and the last byte, bytes and rows."""
    started = time.perf_counter()
    first, size, lines = None, 0, 0
    with requests.get(url, headers={"Accept": media_type}, stream=True, timeout=300) as response:
        response.raise_for_status()
        for piece in response.iter_content(chunk_size=1 << 16):
            if first is None:
                first = time.perf_counter() - started
            size += len(piece)
            lines += piece.count(b"\n")
    rows = lines - 1 if media_type == "text/csv" else lines  # the CSV header; JSON is one line
    return {"first_byte_s": first or 0.0, "seconds": time.perf_counter() - started, "bytes": size, "rows": rows}


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def sql_job_results(engine: Any, batch_id: str, decode: bool) -> Callable[[], dict[str, float]]:
    """Return a reading of the batch's forecast rows from the jobs table (one query), decoded or not."""
    query = text("SELECT product_id, result FROM jobs WHERE parent_id = :batch AND status = 'succeeded' "
                 "ORDER BY product_id")

    def read() -> dict[str, float]:
        started = time.perf_counter()
        with engine.connect() as conn:
            fetched = conn.execute(query, {"batch": batch_id}).all()
        rows = _decoded(((pid, json.loads(raw)["points"]) for pid, raw in fetched)) if decode else len(fetched)
        return {"seconds": time.perf_counter() - started, "rows": rows}

    return read


def sql_saved_forecasts(engine: Any, days: int) -> Callable[[], dict[str, float]]:
    """Return a reading of the first `days` days of every saved forecast (one query), decoded into rows."""
    query = text("SELECT product_id, points FROM forecasts ORDER BY product_id")

    def read() -> dict[str, float]:
        started = time.perf_counter()
        with engine.connect() as conn:
            fetched = conn.execute(query).all()
        rows = _decoded((pid, json.loads(raw)[:days]) for pid, raw in fetched)
        return {"seconds": time.perf_counter() - started, "rows": rows}

    return read


def _decoded(products: Iterator[tuple[int, list[dict[str, Any]]]]) -> int:
    rows = [(pid, p["date"], *(p.get(name) for name in COLUMNS)) for pid, points in products for p in points]
    return len(rows)


def measure(args: argparse.Namespace, work: Path, redis_url: str) -> dict[str, Any]:
    database_url = args.database_url or f"sqlite:///{work / 'sales.db'}"
    env = {**{k: str(v) for k, v in SMALL_MODELS.items()}, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
           "FORECASTING_MODELS_PATH": str(work / "models"), "LOG_LEVEL": "WARNING",
           "MODEL_SIGNING_KEYS": os.urandom(32).hex(), "PROMETHEUS_MULTIPROC_DIR": str(work / "prometheus"),
           "ENV": "development", "AUTH_REQUIRED": "false"}
    (work / "prometheus").mkdir()
    engine = make_engine(load_settings(overrides=env).database_url)
    migrations.upgrade(engine)
    write_sales(work / "sales.csv", args.products, args.history)
    imported = import_csv(engine, work / "sales.csv", key_columns=["sku"], date_column="date", quantity_column="units")
    print(f"seeded: {imported}", flush=True)
    report: dict[str, Any] = {"products": args.products, "days": args.days, "history_days": args.history,
                              "database": engine.dialect.name, "worker_processes": args.processes,
                              "small_models": SMALL_MODELS}
    # One pool for every queue: the batch, its children's forecasts, and those that train first.
    with celery_worker(env, queues=",".join(QUEUES), concurrency=args.processes, name="forecast",
                       log=work / "worker.log", timeout=300), \
            api_server(env, work / "api.log") as (api, base):
        batch, seconds = run_bulk_forecast(base, args.days)
        report["bulk_forecast"] = {"seconds": round(seconds, 1), "status": batch["status"], "counts": batch["counts"]}
        print(f"bulk forecast ended {batch['status']} in {seconds:.0f} s: {batch['counts']}", flush=True)
        url = f"{base}/jobs/{batch['id']}/result"
        worker = psutil.Process(api.pid).children()[0]
        rss_before = worker.memory_info().rss
        with PeakRss(psutil.Process(api.pid)) as rss:
            report["export"] = {name: median_of([time_export(url, media) for _ in range(args.repeats)])
                                for name, media in FORMATS.items()}
        report["api_rss_mb"] = {"before": round(rss_before / 2**20), "peak_during_exports": round(rss.peak / 2**20)}
    readers = {"SQL: job results, fetched": sql_job_results(engine, batch["id"], decode=False),
               "SQL: job results, fetched + decoded to rows": sql_job_results(engine, batch["id"], decode=True),
               "SQL: saved forecasts, fetched + decoded to rows": sql_saved_forecasts(engine, args.days)}
    report["sql"] = {name: median_of([read() for _ in range(args.repeats)]) for name, read in readers.items()}
    engine.dispose()
    return report


def print_report(r: dict[str, Any]) -> None:
    rows = r["products"] * r["days"]
    print(f"\nbulk forecast export: {r['products']:,} products x {r['days']} days = {rows:,} rows, {r['database']}")
    print(f"products seeded with {r['history_days']} days of synthetic Poisson sales, trained with small model "
          f"settings {r['small_models']}")
    print(f"setup: POST /forecasts {{\"all\": true}} ended {r['bulk_forecast']['status']} in "
          f"{r['bulk_forecast']['seconds']} s with {r['worker_processes']} worker process(es), training every product")
    print(f"\n{'one call / query (median)':50} {'first byte s':>12} {'total s':>9} {'MB':>7} {'rows':>8}")
    for name, run in r["export"].items():
        print(f"{'GET /jobs/<id>/result as ' + name:50} {run['first_byte_s']:12.3f} {run['seconds']:9.3f} "
              f"{run['bytes'] / 2**20:7.1f} {int(run['rows']) if name != 'JSON' else '':>8}")
    for name, run in r["sql"].items():
        print(f"{name:50} {'':>12} {run['seconds']:9.3f} {'':>7} {int(run['rows']):>8}")
    sql = r["sql"]["SQL: job results, fetched + decoded to rows"]["seconds"]
    print(f"\nexport CSV / SQL read of the same rows: {r['export']['CSV']['seconds'] / sql:.1f}x; "
          f"JSON Lines: {r['export']['JSON Lines']['seconds'] / sql:.1f}x")
    print(f"API worker resident memory: {r['api_rss_mb']['before']} MB before, "
          f"{r['api_rss_mb']['peak_during_exports']} MB at most during the exports")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90, help="forecast horizon")
    parser.add_argument("--history", type=int, default=150, help="days of synthetic sales per product")
    parser.add_argument("--processes", type=int, default=2, help="forecast worker processes")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--database-url", help="an empty database (default: SQLite in a temporary folder)")
    args = parser.parse_args(argv)
    with scratch_stack("export-bench-", 6394) as (work, redis_url):
        report = measure(args, work, redis_url)
    print_report(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "export.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
