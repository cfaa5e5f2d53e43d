"""Start a real Celery worker process for a test and wait until it answers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from subprocess import Popen

import launcher
from jobs.celery_app import QUEUES


@contextmanager
def celery_worker(env: dict[str, str], *, queues: str = ",".join(QUEUES), concurrency: int = 1,
                  name: str = "test", log: Path | None = None) -> Iterator[Popen]:
    """Run `celery -A workers.entry worker` with `env` (INFO logs to `log`) until the block ends."""
    with launcher.celery_worker({"LOG_LEVEL": "INFO", **env}, queues=queues, concurrency=concurrency, name=name,
                                log=log) as proc:
        yield proc
