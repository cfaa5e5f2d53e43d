"""A real stack per test: API app, database, Redis broker and a Celery worker process."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from forecasting.data.products import create_product
from forecasting.data.sales import upsert_sales
from tests import services
from tests.api.conftest import history
from tests.conftest import SMALL_MODELS
from tests.workers.celery_process import celery_worker


@dataclass
class Stack:
    app: Flask
    client: FlaskClient
    models: Path
    env: dict[str, str]
    worker: subprocess.Popen

    def forecast(self, product_id: int, horizon: int = 90) -> dict[str, Any]:
        """POST a forecast and poll it to the end; return the job and the progress seen."""
        response = self.client.post("/api/v1/forecast", json={"product_id": product_id, "forecast_horizon": horizon})
        assert response.status_code == 202, response.json
        return self.poll(response.headers["Location"])

    def poll(self, location: str, timeout: float = 240) -> dict[str, Any]:
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.client.get(location).json
            seen.append((job["status"], job["progress"]["percent"], job["progress"]["stage"]))
            if job["status"] in {"succeeded", "failed", "skipped"}:
                job["seen"] = seen
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {location} did not finish in {timeout} s; last: {seen[-1]}")


def make_stack(tmp_path: Path, database_url: str, redis_url: str, *, small: bool = True,
               **overrides: Any) -> dict[str, str]:
    """Migrate the stack's database and return its environment (small model settings unless `small` is False)."""
    env = {k: str(v) for k, v in SMALL_MODELS.items()} if small else {}
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, FORECASTING_MODELS_PATH=str(tmp_path / "models"),
               LOG_LEVEL="INFO", WORKER_CONCURRENCY="1")
    env.update({k: str(v) for k, v in overrides.items()})
    services.flush(redis_url)
    services.migrated(database_url)
    return env


@contextmanager
def running_stack(tmp_path: Path, database_url: str, redis_url: str, **overrides: Any) -> Iterator[Stack]:
    """Run an API app and a real worker on a migrated database with products 1 (400 days) and 2 (50 days)."""
    env = make_stack(tmp_path, database_url, redis_url, **overrides)
    app = create_app(env)
    engine = app.extensions["forecasting"].engine
    create_product(engine, name="long", product_id=1)
    upsert_sales(engine, product_id=1, rows=history(400))
    create_product(engine, name="short", product_id=2)
    upsert_sales(engine, product_id=2, rows=history(50))
    with celery_worker(env, log=tmp_path / "worker.log") as worker:
        yield Stack(app=app, client=app.test_client(), models=tmp_path / "models", env=env, worker=worker)


@pytest.fixture
def stack(tmp_path, database_url, redis_url):
    with running_stack(tmp_path, database_url, redis_url) as running:
        yield running
