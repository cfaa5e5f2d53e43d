"""Job round trips through a real Redis and Celery worker: a forecast job vs a no-op task.

The bench starts its own ``redis-server`` (from the venv), a real
``celery -A workers.entry worker`` on a temporary SQLite database and model folder,
and a bench-only no-op worker (bench.noop_app) on the same broker. Requests go
through the API app in this process, in rounds: each round times one no-op task
(``apply_async().get()``, which waits on the result) and one forecast job of each
kind, each going first in turn, so a noisy moment weighs on all of them alike.

- ``wait``: POST /api/v1/forecast with ``Prefer: wait=5``, answered 200 with the
  ended job; the forecast is the one saved when the set was trained (horizons
  below SAVED_FORECAST_DAYS, a new one each round).
- ``long_poll``: the POST answered 202, then GET /jobs/<id>?wait=5.
- ``poll``: the POST answered 202, then GET /jobs/<id> every millisecond.
- ``computed``: as ``wait``, for horizons beyond the saved forecast and growing each
  round, so the worker runs the three models every time.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from bench.data import synthetic_history
from jobs.records import TERMINAL

ROOT = Path(__file__).resolve().parent.parent
PRODUCT_ID = 1
HORIZON = 90
SAVED_DAYS = 90  # SAVED_FORECAST_DAYS of the worker under test (its default)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pinned(command: list[str]) -> list[str]:
    """Return `command` pinned to CPU 0 when taskset exists (one core per process)."""
    taskset = shutil.which("taskset")
    return [taskset, "-c", "0", *command] if taskset else command


@contextmanager
def _process(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with open(log, "ab") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    for _ in range(200):
        try:
            client.ping()
            return
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError(f"redis-server at {url} did not answer")


def _wait_worker(url: str, proc: subprocess.Popen, name: str) -> None:
    from celery import Celery

    app = Celery(broker=url)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker {name} exited with {proc.returncode}")
        replies = app.control.ping(timeout=0.5)
        if any(name in host for reply in replies for host in reply):
            return
    raise RuntimeError(f"celery worker {name} did not answer a ping in time")


def _worker_command(app: str, queues: str, name: str) -> list[str]:
    return pinned([sys.executable, "-m", "celery", "-A", app, "worker", "--queues", queues, "--concurrency", "1",
                   "--hostname", f"{name}@%h", "--without-gossip", "--without-mingle", "--loglevel", "WARNING"])


def measure(work: Path, repeats: int = 30) -> dict[str, Any]:
    """Start Redis and both workers, time a first forecast (training included) and warm round trips."""
    binary = Path(sys.executable).parent / "redis-server"
    if not binary.exists():
        return {"skipped": f"{binary} is absent"}
    work.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    os.environ["BENCH_BROKER_URL"] = url  # read by bench.noop_app, here and in its worker
    env = {"DATABASE_URL": f"sqlite:///{work / 'sales.db'}", "REDIS_URL": url,
           "FORECASTING_MODELS_PATH": str(work / "models"), "WORKER_CONCURRENCY": "1", "WORKER_THREADS": "1",
           "LOG_LEVEL": "WARNING", "BENCH_BROKER_URL": url, "OMP_NUM_THREADS": "1",
           "SAVED_FORECAST_DAYS": str(SAVED_DAYS)}
    with ExitStack() as stack:
        stack.enter_context(_process([str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no"], env, work / "redis.log"))
        _wait_redis(url)
        from api import create_app
        from forecasting.data import migrations
        from forecasting.data.database import make_engine
        from forecasting.data.products import create_product
        from forecasting.data.sales import upsert_sales

        schema = make_engine(env["DATABASE_URL"])
        migrations.upgrade(schema)
        schema.dispose()
        app = create_app({k: v for k, v in env.items() if k not in {"BENCH_BROKER_URL", "OMP_NUM_THREADS"}})
        engine = app.extensions["forecasting"].engine
        create_product(engine, name="bench", product_id=PRODUCT_ID)
        series = synthetic_history()
        upsert_sales(engine, product_id=PRODUCT_ID, rows=[(d.date(), float(v)) for d, v in series.items()])
        worker = stack.enter_context(_process(_worker_command("workers.entry", "forecast,forecast-training,training", "bench-forecast"),
                                              env, work / "worker.log"))
        noop_worker = stack.enter_context(_process(_worker_command("bench.noop_app", "noop", "bench-noop"),
                                                   env, work / "noop.log"))
        _wait_worker(url, worker, "bench-forecast")
        _wait_worker(url, noop_worker, "bench-noop")
        client = app.test_client()
        from bench.noop_app import noop

        def round_trip(kind: str, horizon: int) -> tuple[float, dict[str, Any]]:
            clock = time.perf_counter()
            headers = {"Prefer": "wait=5"} if kind in {"wait", "computed"} else {}
            response = client.post("/api/v1/forecast", json={"product_id": PRODUCT_ID, "forecast_horizon": horizon},
                                   headers=headers)
            if response.status_code == 200:
                return time.perf_counter() - clock, response.json
            if response.status_code != 202:
                raise RuntimeError(f"POST /forecast answered {response.status_code}: {response.json}")
            location = response.headers["Location"]
            while True:
                job = client.get(location + ("?wait=5" if kind == "long_poll" else "")).json
                if job["status"] in TERMINAL:
                    return time.perf_counter() - clock, job
                time.sleep(0.001)

        first_s, job = round_trip("poll", HORIZON)
        if job["status"] != "succeeded":
            raise RuntimeError(f"first forecast job {job['status']}: {job.get('error')}")
        round_trip("computed", SAVED_DAYS + 1)  # the child's first load of the saved set
        noop.apply_async().get(timeout=30)  # warm the connection and the child
        times: dict[str, list[float]] = {"noop": [], "wait": [], "long_poll": [], "poll": [], "computed": []}
        kinds = ["noop", "wait", "long_poll", "poll", "computed"]
        for n in range(repeats):
            for kind in kinds[n % len(kinds):] + kinds[:n % len(kinds)]:  # each goes first in turn
                if kind == "noop":
                    clock = time.perf_counter()
                    noop.apply_async().get(timeout=30)
                    times["noop"].append(time.perf_counter() - clock)
                    continue
                horizon = SAVED_DAYS + 2 + n if kind == "computed" else HORIZON - n
                seconds, job = round_trip(kind, horizon)
                if job["status"] != "succeeded" or len(job["result"]["points"]) != horizon:
                    raise RuntimeError(f"forecast job {job['status']}: {job.get('error')}")
                times[kind].append(seconds)
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    return {"first_forecast_job_s": first_s, "noop_round_trip_s": medians.pop("noop"),
            "forecast_job_round_trip_s": medians, "saved_forecast_days": SAVED_DAYS, "repeats": repeats}
