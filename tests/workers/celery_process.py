"""Start a real Celery worker process for a test and wait until it answers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from celery import Celery

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def celery_worker(env: dict[str, str], *, queues: str = "forecast,training", concurrency: int = 1,
                  name: str = "test", log: Path | None = None) -> Iterator[subprocess.Popen]:
    """Run `celery -A workers.entry worker` with `env` until the block ends."""
    full_env = {**os.environ, **env}
    out = open(log, "ab") if log else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers.entry", "worker", "--queues", queues,
         "--concurrency", str(concurrency), "--hostname", f"{name}@%h", "--without-gossip", "--without-mingle",
         "--loglevel", "INFO"],
        cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT,
    )
    try:
        _wait_ready(env["REDIS_URL"], proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            out.close()


def _wait_ready(broker: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    app = Celery(broker=broker)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited with {proc.returncode}")
        if app.control.ping(timeout=0.5):
            return
    raise RuntimeError("celery worker did not answer a ping in time")
