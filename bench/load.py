"""Forecasts under load: 200 clients reading fresh saved forecasts, alone and while a bulk retrain runs.

    .venv/bin/python -m bench.load                         # SQLite and PostgreSQL, one after the other
    .venv/bin/python -m bench.load --database sqlite --seconds 10

For each database the bench starts its own stack from the Procfile's command lines (the
API under gunicorn as `make run` runs it, the forecast worker, the worker of forecasts
that train first, the training worker), a private redis-server, and a bench-only no-op
Celery worker (bench.noop_app). PostgreSQL is a fresh database made on the server at
BENCH_POSTGRES (default 127.0.0.1:5432, user postgres) and dropped afterwards.

Data: FRESH products whose first forecast is made (trained) before measuring, BULK small
synthetic products (400 days each) for the bulk retrain, and FIRST untrained products.
Every process runs the production model settings.

Phases, one client library (aiohttp, asyncio) for all of them:
1. bare: the Procfile's gunicorn command serving bench.bare_app, one endpoint that answers
   the same JSON body from memory: the ceiling of this server configuration.
2. saved: GET /api/v1/products/<id>/forecast?horizon=90 over the FRESH products, flat out
   (closed loop), then at a steady rate of half that (open loop: latency counted from when
   each request was due).
3. baselines, one request at a time: that GET, the same forecast as a job through Celery
   (POST, then GET /jobs/<id>?wait=), and a Celery no-op task round trip.
4. a 1,000-product bulk retrain is started (POST /models/retrain); once it trains, the
   steady rate of phase 2 again, then the first forecast (POST with Prefer: wait) of each FIRST product.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from config.settings import ROOT, load_settings
from launcher import process_env, read_procfile, shell_line, start_redis

RESULTS = ROOT / "bench" / "results"
FRESH = list(range(1, 9))
FIRST = [5001, 5002, 5003]
HORIZON = 90
TARGETS = {"saved_p99_ms": 100, "loaded_p99_ms": 250, "first_forecast_s": 5.0, "throughput_vs_bare": 0.5}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds of each load phase")
    parser.add_argument("--bulk", type=int, default=1000, help="products of the bulk retrain")
    parser.add_argument("--rate", type=float, default=None,
                        help="requests a second of the latency phases (default: half the saved forecast's "
                             "closed-loop throughput)")
    args = parser.parse_args()
    report: dict[str, Any] = {"clients": args.clients, "seconds": args.seconds, "bulk": args.bulk,
                              "cores": os.cpu_count(), "load_average_at_start": os.getloadavg()[0], "runs": {}}
    for database in (("sqlite", "postgresql") if args.database == "both" else (args.database,)):
        report["runs"][database] = run(database, args)
        print_table(database, report["runs"][database], args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"load-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"\nwritten to {out.relative_to(ROOT)}")


def run(database: str, args: argparse.Namespace) -> dict[str, Any]:
    """Start a stack on `database`, measure every phase, stop it; return the figures."""
    work = Path(tempfile.mkdtemp(prefix="load-bench-"))
    try:
        with ExitStack() as stack:
            url = stack.enter_context(_database(database, work))
            redis_proc, redis_url = start_redis(_free_port(), work / "redis")
            stack.callback(_stop, redis_proc)
            env = {"DATABASE_URL": url, "REDIS_URL": redis_url, "FORECASTING_MODELS_PATH": str(work / "models"),
                   "PROMETHEUS_MULTIPROC_DIR": str(work / "prometheus"), "API_PORT": str(_free_port()),
                   "API_CONTROL_SOCKET": str(work / "gunicorn.ctl"), "BEAT_SCHEDULE": str(work / "beat"),
                   "MODEL_SIGNING_KEY_FILE": str(work / "signing.key"), "LOG_LEVEL": "WARNING"}
            (work / "prometheus").mkdir()
            _seed(url, args.bulk)
            return _measure(stack, env, work, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def _database(kind: str, work: Path) -> Iterator[str]:
    from forecasting.data import migrations
    from forecasting.data.database import make_engine

    if kind == "sqlite":
        url = f"sqlite:///{work / 'sales.db'}"
        drop: Callable[[], None] = lambda: None  # noqa: E731 - the file goes with the folder
    else:
        import psycopg2

        host, _, port = os.environ.get("BENCH_POSTGRES", "127.0.0.1:5432").partition(":")
        name = f"load_bench_{uuid.uuid4().hex[:8]}"
        admin = psycopg2.connect(host=host, port=int(port or 5432), user="postgres", dbname="postgres")
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql+psycopg2://postgres@{host}:{port or 5432}/{name}"

        def drop() -> None:
            with admin.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()
    engine = make_engine(url)
    migrations.upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        drop()


def _seed(url: str, bulk: int) -> None:
    """Import the products: FRESH and FIRST with 730 days, BULK with 400 (synthetic, seeded)."""
    from forecasting.data.database import make_engine
    from forecasting.data.ingest import import_csv

    rng = np.random.default_rng(7)
    start = date(2023, 1, 1)
    lines = ["sku,date,units"]
    for sku, days in [(pid, 730) for pid in FRESH + FIRST] + [(1000 + n, 400) for n in range(bulk)]:
        level = rng.uniform(5, 60)
        first = start + timedelta(days=730 - days)
        weekly = 1 + 0.3 * np.sin(2 * np.pi * np.arange(days) / 7)
        units = rng.poisson(level * weekly)
        lines += [f"{sku},{first + timedelta(days=d)},{units[d]}" for d in range(days)]
    path = Path(tempfile.mkstemp(suffix=".csv")[1])
    try:
        path.write_text("\n".join(lines) + "\n")
        engine = make_engine(url)
        import_csv(engine, path, key_columns=["sku"], date_column="date", quantity_column="units")
        engine.dispose()
    finally:
        path.unlink()


def _measure(stack: ExitStack, env: dict[str, str], work: Path, args: argparse.Namespace) -> dict[str, Any]:
    settings = load_settings(overrides=env)
    procfile = read_procfile()
    proc_env = {**process_env(settings), "BENCH_BROKER_URL": env["REDIS_URL"]}
    api = f"http://127.0.0.1:{env['API_PORT']}"
    for name in ("forecast-worker", "forecast-training-worker", "worker"):
        _start(stack, procfile[name], proc_env, work / f"{name}.log")
    _start(stack, procfile["api"], proc_env, work / "api.log")
    noop = [sys.executable, "-m", "celery", "-A", "bench.noop_app", "worker", "--queues", "noop", "--concurrency",
            "1", "--hostname", "bench-noop@%h", "--without-gossip", "--without-mingle", "--loglevel", "WARNING"]
    _start(stack, " ".join(noop), proc_env, work / "noop.log")
    _wait_http(f"{api}/api/v1/health")
    _wait_workers(env["REDIS_URL"], ["forecast", "forecast-training", "training", "bench-noop"])

    # Fresh products: their first forecast trains them (the real path), one at a time.
    warm = asyncio.run(_first_forecasts(api, FRESH))
    if any(status != 200 for status, _ in warm):
        raise SystemExit(f"the warm-up forecasts did not all answer 200: {warm}")
    body = asyncio.run(_get_json(f"{api}/api/v1/products/{FRESH[0]}/forecast?horizon={HORIZON}"))
    (work / "body.json").write_text(json.dumps(body))
    bare_port = _free_port()
    bare_line = procfile["api"].replace("'api:create_app()'", "'bench.bare_app:create_app()'")
    _start(stack, bare_line, {**proc_env, "API_PORT": str(bare_port), "API_CONTROL_SOCKET": str(work / "bare.ctl"),
                              "BENCH_BARE_BODY": str(work / "body.json")}, work / "bare.log")
    _wait_http(f"http://127.0.0.1:{bare_port}/bare")

    saved_url = [f"{api}/api/v1/products/{pid}/forecast?horizon={HORIZON}" for pid in FRESH]
    out: dict[str, Any] = {"body_bytes": len(json.dumps(body))}
    out["bare"] = asyncio.run(_load([f"http://127.0.0.1:{bare_port}/bare"], args.clients, args.seconds))
    out["saved"] = asyncio.run(_load(saved_url, args.clients, args.seconds))
    # Latency at a steady rate the server sustains with room to spare: half of what it answered flat
    # out above (a rate beyond that only measures the queue in front of it).
    rate = args.rate or round(0.5 * out["saved"]["per_second"])
    out["saved_at_rate"] = asyncio.run(_load(saved_url, args.clients, args.seconds, rate=rate))
    out["one_at_a_time"] = {
        "saved_get_ms": asyncio.run(_load(saved_url, 1, 3.0))["p50_ms"],
        "saved_job_through_celery_ms": asyncio.run(_job_round_trips(api, FRESH[0], 30)),
        "celery_noop_ms": _noop_round_trips(env["REDIS_URL"], 30),
    }
    batch = asyncio.run(_start_bulk_retrain(api, [1000 + n for n in range(args.bulk)]))
    out["bulk"] = {"batch_queued_s": batch["queued_s"]}
    out["saved_during_retrain"] = asyncio.run(_load(saved_url, args.clients, args.seconds, rate=rate))
    first = asyncio.run(_first_forecasts(api, FIRST))
    out["first_forecast_during_retrain"] = {"seconds": [s for _, s in first], "statuses": [c for c, _ in first]}
    out["bulk"].update(asyncio.run(_batch_counts(api, batch["location"])))
    asyncio.run(_cancel(api, batch["location"]))
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(stack: ExitStack, line: str, env: dict[str, str], log: Path) -> None:
    out = open(log, "ab")
    stack.callback(out.close)
    proc = subprocess.Popen(shell_line(line, env), cwd=ROOT, env={**os.environ, **env}, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)
    stack.callback(_stop, proc)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _wait_http(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            asyncio.run(_get_json(url, ok=(200, 503)))
            return
        except (OSError, aiohttp.ClientError, RuntimeError):
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def _wait_workers(broker: str, names: list[str], timeout: float = 180) -> None:
    from celery import Celery

    app, host = Celery(broker=broker), socket.gethostname()
    deadline = time.monotonic() + timeout
    missing = set(names)
    while missing and time.monotonic() < deadline:
        replies = app.control.ping(timeout=1.0, destination=[f"{n}@{host}" for n in missing])
        missing -= {node.split("@")[0] for reply in replies for node in reply}
    if missing:
        raise SystemExit(f"workers {sorted(missing)} did not answer within {timeout:.0f} s")


async def _get_json(url: str, ok: tuple[int, ...] = (200,)) -> Any:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        if response.status not in ok:
            raise RuntimeError(f"GET {url} answered {response.status}")
        return await response.json(content_type=None)


async def _load(urls: list[str], clients: int, seconds: float, rate: float | None = None,
                warmup: float = 2.0) -> dict[str, Any]:
    """Run `clients` concurrent clients, one connection each, over `urls` in turn.

    Without `rate`, each sends its next GET as soon as the last one answered (closed loop:
    the most the server answers). With `rate`, the clients together send `rate` requests a
    second on a fixed schedule (open loop), and a latency counts from when the request was
    due, so a server that falls behind is charged for the wait too.
    """
    latencies: list[float] = []
    errors = 0
    loop = asyncio.get_running_loop()
    timeout = aiohttp.ClientTimeout(total=30)
    interval = clients / rate if rate else 0.0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients), timeout=timeout) as session:
        begin = loop.time() + warmup
        end = begin + seconds

        async def client(n: int) -> None:
            nonlocal errors
            due = loop.time() + (interval * n / clients if interval else 0.0)
            i = n
            while due < end:
                if interval:
                    await asyncio.sleep(max(0.0, due - loop.time()))
                else:
                    due = loop.time()
                url = urls[i % len(urls)]
                i += 1
                try:
                    async with session.get(url) as response:
                        await response.read()
                        failed = response.status != 200
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    failed = True
                if due >= begin:
                    latencies.append(loop.time() - due)
                    errors += failed
                due += interval

        await asyncio.gather(*(client(n) for n in range(clients)))
    ms = np.array(latencies) * 1000
    return {"requests": len(latencies), "errors": errors, "per_second": round(len(latencies) / seconds, 1),
            "offered_per_second": rate, "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p99_ms": round(float(np.percentile(ms, 99)), 1), "max_ms": round(float(ms.max()), 1),
            "load_average": round(os.getloadavg()[0], 1)}


async def _post(session: aiohttp.ClientSession, url: str, body: dict[str, Any], **headers: str) -> tuple[int, Any]:
    async with session.post(url, json=body, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def _first_forecasts(api: str, products: list[int]) -> list[tuple[int, float]]:
    """POST each product's forecast with Prefer: wait, one after the other; return (status, seconds)."""
    out = []
    async with aiohttp.ClientSession() as session:
        for pid in products:
            started = time.perf_counter()
            status, body = await _post(session, f"{api}/api/v1/forecast", {"product_id": pid,
                                       "forecast_horizon": HORIZON}, Prefer="wait=30")
            if status == 200 and body["status"] != "succeeded":
                status = 500
            out.append((status, round(time.perf_counter() - started, 2)))
    return out


async def _job_round_trips(api: str, product: int, repeats: int) -> float:
    """Median ms of a forecast as a polling client gets it: POST (202), then GET /jobs/<id>?wait=."""
    times = []
    async with aiohttp.ClientSession() as session:
        for _ in range(repeats):
            started = time.perf_counter()
            status, body = await _post(session, f"{api}/api/v1/forecast", {"product_id": product,
                                       "forecast_horizon": HORIZON})
            async with session.get(f"{api}{body['links']['self']}?wait=10") as response:
                job = await response.json()
            if status != 202 or job["status"] != "succeeded":
                raise SystemExit(f"a forecast job through Celery ended {job['status']}")
            times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 1)


def _noop_round_trips(broker: str, repeats: int) -> float:
    """Median ms of a no-op task's round trip (send, then wait for its result) on this run's broker."""
    from celery import Celery

    # A client of this run's broker (bench.noop_app reads its broker once, at import).
    app = Celery("bench_noop_client", broker=broker, backend=broker)
    try:
        app.send_task("bench.noop", queue="noop").get(timeout=30)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            app.send_task("bench.noop", queue="noop").get(timeout=30)
            times.append(time.perf_counter() - started)
    finally:
        app.close()
    return round(statistics.median(times) * 1000, 1)


async def _start_bulk_retrain(api: str, products: list[int]) -> dict[str, Any]:
    """POST the bulk retrain; return once its trainings are queued and running."""
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        status, body = await _post(session, f"{api}/api/v1/models/retrain", {"product_ids": products})
        if status != 202:
            raise SystemExit(f"POST /models/retrain answered {status}: {body}")
        location = f"{api}{body['links']['self']}"
        while True:
            async with session.get(location) as response:
                batch = await response.json()
            if (batch["result"] or {}).get("dispatched") and batch["counts"]["running"]:
                return {"location": location, "queued_s": round(time.perf_counter() - started, 1)}
            if time.perf_counter() - started > 300:
                raise SystemExit(f"the bulk retrain was not queued in 300 s: {batch}")
            await asyncio.sleep(0.2)


async def _batch_counts(api: str, location: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(location) as response:
        return {"counts_at_end": (await response.json())["counts"]}


async def _cancel(api: str, location: str) -> None:
    async with aiohttp.ClientSession() as session, session.delete(location) as response:
        await response.read()


def print_table(database: str, r: dict[str, Any], args: argparse.Namespace) -> None:
    """Print the figures beside their targets."""
    bare, saved, timed, loaded = r["bare"], r["saved"], r["saved_at_rate"], r["saved_during_retrain"]
    ratio = saved["per_second"] / bare["per_second"] if bare["per_second"] else 0.0
    first = max(r["first_forecast_during_retrain"]["seconds"])
    rate = f"{timed['offered_per_second']:.0f}/s offered"
    rows = [
        (f"bare endpoint (same JSON from memory, same gunicorn), {args.clients} clients, closed loop",
         f"{bare['per_second']:.0f}/s, p50 {bare['p50_ms']} ms, p99 {bare['p99_ms']} ms, {bare['errors']} errors",
         "the ceiling", ""),
        (f"saved forecast GET, {args.clients} clients, closed loop", f"{saved['per_second']:.0f}/s ({ratio:.2f} of "
         f"bare), p50 {saved['p50_ms']} ms, p99 {saved['p99_ms']} ms, {saved['errors']} errors",
         f">= {TARGETS['throughput_vs_bare']} of bare (aim ~1,000/s), 0 errors",
         _met(ratio >= TARGETS["throughput_vs_bare"] and not saved["errors"])),
        (f"saved forecast GET, {args.clients} clients, {rate}", f"{timed['per_second']:.0f}/s, p50 {timed['p50_ms']} "
         f"ms, p99 {timed['p99_ms']} ms, {timed['errors']} errors", f"p99 < {TARGETS['saved_p99_ms']} ms, 0 errors",
         _met(timed["p99_ms"] < TARGETS["saved_p99_ms"] and not timed["errors"])),
        (f"the same during a {args.bulk}-product bulk retrain", f"{loaded['per_second']:.0f}/s, p50 "
         f"{loaded['p50_ms']} ms, p99 {loaded['p99_ms']} ms, {loaded['errors']} errors",
         f"p99 < {TARGETS['loaded_p99_ms']} ms, 0 errors",
         _met(loaded["p99_ms"] < TARGETS["loaded_p99_ms"] and not loaded["errors"])),
        ("first forecast of an untrained product during the retrain (POST, Prefer: wait)",
         ", ".join(f"{s:.2f} s" for s in r["first_forecast_during_retrain"]["seconds"]),
         f"< {TARGETS['first_forecast_s']} s", _met(first < TARGETS["first_forecast_s"]
                                                   and set(r["first_forecast_during_retrain"]["statuses"]) == {200})),
        ("one at a time: saved forecast GET / job through Celery (POST, GET ?wait) / Celery no-op task",
         f"{r['one_at_a_time']['saved_get_ms']} / {r['one_at_a_time']['saved_job_through_celery_ms']} / "
         f"{r['one_at_a_time']['celery_noop_ms']} ms", "no-op: the floor of any Celery round trip", ""),
    ]
    print(f"\n{database}: {r['body_bytes']} bytes per answer; bulk retrain queued in {r['bulk']['batch_queued_s']} s, "
          f"counts at the end {r['bulk']['counts_at_end']}")
    print(f"load average (1 min) at the end of each load phase: bare {bare['load_average']}, closed loop "
          f"{saved['load_average']}, at a rate {timed['load_average']}, during the retrain {loaded['load_average']} "
          f"({os.cpu_count()} cores)")
    print("| figure | ours | target | |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def _met(ok: bool) -> str:
    return "met" if ok else "NOT MET"


if __name__ == "__main__":
    main()
