"""What one saved forecast GET costs the API, one request at a time: CPU, SQL statements, connections.

    .venv/bin/python -m bench.request_cost                        # SQLite
    .venv/bin/python -m bench.request_cost --database postgresql  # a fresh database on BENCH_POSTGRES
    .venv/bin/python -m bench.request_cost --profile 25           # and the 25 costliest functions
    SAVED_FORECAST_TOKEN_TTL_MS=0 .venv/bin/python -m bench.request_cost   # the token read at every request

Throughput under load (bench.load) needs a quiet machine; these figures do not: they are
counted, not timed against a clock other work shares. The app runs in this process
(Flask's test client, no gunicorn, no sockets), with one product trained with small models
(the models do not change what is read) and its saved forecast of 90 days. Per request:
CPU seconds of this process, with PostgreSQL also of its server processes serving this
database (read from /proc, so on this machine only), SQL statements sent, and connections
checked out of the pool (each is a ping with pool_pre_ping). bench.bare_app answers the
same body the same way, for the floor of Flask itself.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import event, text

from bench.load import _database
from forecasting.store.model_store import SETTLED_NS

URL = "/api/v1/products/1/forecast?horizon=90"
ROUNDS = 5
SMALL_MODELS = {"LSTM_EPOCHS": 2, "LSTM_MAX_TRAIN_WINDOWS": 200, "RF_TREES": 10, "VALIDATION_DAYS": 28}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--profile", type=int, default=0, help="print this many of the costliest functions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="request-cost-") as folder:
        work = Path(folder)
        with _database(args.database, work) as url:
            app = _trained_app(url, work)
            # A set is served for hours after its training; only in its first seconds is its
            # model_info.json hashed at each request (see ModelStore.info_version).
            time.sleep(SETTLED_NS / 1e9)
            body = app.test_client().get(URL).get_data()
            (work / "body.json").write_bytes(body)
            os.environ["BENCH_BARE_BODY"] = str(work / "body.json")
            from bench import bare_app

            bare_app_ = bare_app.create_app()
            # Rounds in turn, the least of each kept: other work on the machine only ever adds.
            rounds = [(_measure(app, URL, args.requests // ROUNDS), _measure(bare_app_, "/bare", args.requests // ROUNDS))
                      for _ in range(ROUNDS)]
            saved = min((r[0] for r in rounds), key=lambda row: row["cpu_ms"])
            bare = min((r[1] for r in rounds), key=lambda row: row["cpu_ms"])
            if args.profile:
                _profile(app, args.requests, args.profile)
            for engine in _engines(app.extensions["forecasting"]):
                engine.dispose()
    print(f"{args.database}: {len(body)} bytes per answer, {args.requests} requests one at a time "
          f"(in {ROUNDS} rounds, the round of least CPU)")
    for name, row in (("saved forecast GET", saved), ("bare endpoint", bare)):
        print(f"  {name:<20} {row['cpu_ms']:.3f} ms CPU (API {row['api_ms']:.3f} + database {row['db_ms']:.3f}), "
              f"{row['statements']:.3f} statements, {row['checkouts']:.3f} checkouts per request")
    print(f"  CPU of the bare endpoint / CPU of the saved GET: {bare['cpu_ms'] / saved['cpu_ms']:.2f}")


def _trained_app(url: str, work: Path) -> Any:
    """Return the API app on `url` with product 1 trained and its forecast of 90 days saved."""
    from api import create_app
    from forecasting.data.products import create_product
    from forecasting.data.sales import load_history, upsert_sales
    from forecasting.lifecycle import steps

    app = create_app({"DATABASE_URL": url, "REDIS_URL": os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0"),
                      "FORECASTING_MODELS_PATH": work / "models", "PROMETHEUS_MULTIPROC_DIR": work,
                      "MODEL_SIGNING_KEY_FILE": work / "signing.key", "LOG_LEVEL": "WARNING", **SMALL_MODELS})
    svc = app.extensions["forecasting"]
    rng = np.random.default_rng(7)
    first = date(2023, 1, 1)
    units = rng.poisson(20 * (1 + 0.3 * np.sin(2 * np.pi * np.arange(400) / 7)))
    create_product(svc.engine, name="bench", product_id=1)
    upsert_sales(svc.engine, product_id=1, rows=[(first + timedelta(days=d), float(units[d])) for d in range(400)])
    steps.train(engine=svc.engine, store=svc.store, history=load_history(svc.engine, product_id=1),
                policy=steps.Policy.from_settings(svc.settings), reason="missing")
    return app


def _measure(app: Any, url: str, requests: int) -> dict[str, float]:
    client = app.test_client()
    for _ in range(50):
        assert client.get(url).status_code == 200
    svc = app.extensions.get("forecasting")
    counts = {"statements": 0, "checkouts": 0}

    def statement(*_: Any) -> None:
        counts["statements"] += 1

    def checkout(*_: Any) -> None:
        counts["checkouts"] += 1

    engines = _engines(svc)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", statement)
        event.listen(engine, "checkout", checkout)
    db_before = _server_cpu(svc)
    cpu = time.process_time()
    for _ in range(requests):
        client.get(url)
    api_s = time.process_time() - cpu
    db_s = _server_cpu(svc) - db_before
    for engine in engines:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "checkout", checkout)
    return {"api_ms": api_s * 1000 / requests, "db_ms": db_s * 1000 / requests,
            "cpu_ms": (api_s + db_s) * 1000 / requests,
            "statements": counts["statements"] / requests, "checkouts": counts["checkouts"] / requests}


def _engines(svc: Any) -> list[Any]:
    # The API's engines: its reader may be the engine itself.
    found = [getattr(svc, name, None) for name in ("engine", "reader")]
    return list({id(engine): engine for engine in found if engine is not None}.values())


def _server_cpu(svc: Any) -> float:
    # CPU seconds of the PostgreSQL backends serving this database (0 for SQLite, which runs in this process).
    if svc is None or svc.engine.dialect.name != "postgresql":
        return 0.0
    from sqlalchemy import create_engine

    probe = create_engine(svc.engine.url, poolclass=__import__("sqlalchemy.pool").pool.NullPool)
    with probe.connect() as conn:
        pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND pid <> pg_backend_pid()")).scalars().all()
    probe.dispose()
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _profile(app: Any, requests: int, top: int) -> None:
    client = app.test_client()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        client.get(URL)
    profiler.disable()
    stats = pstats.Stats(profiler).sort_stats("cumulative")
    stats.print_stats(top)
    stats.print_callees("fresh_info|saved_forecast|flask_plugin.py:107")


if __name__ == "__main__":
    main()
