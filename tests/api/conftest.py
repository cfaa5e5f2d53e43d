"""App, client and data fixtures for the API tests (real SQLite file, real Redis)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from api import create_app
from forecasting.data.products import create_product
from forecasting.data.sales import upsert_sales
from tests import services


def history(days: int, end: date = date(2024, 6, 30)) -> list[tuple[date, float]]:
    """Return `days` rows of simple weekly-patterned demand ending at `end`."""
    start = end - timedelta(days=days - 1)
    return [(start + timedelta(days=i), float(10 + (i % 7) * 2 + (i // 30) % 3)) for i in range(days)]


@pytest.fixture
def app(tmp_path, redis_url):
    app = create_app({
        "DATABASE_URL": services.migrated(f"sqlite:///{tmp_path / 'sales.db'}"),
        "REDIS_URL": redis_url,
        "FORECASTING_MODELS_PATH": tmp_path / "models",
        "LOG_LEVEL": "WARNING",
    })
    engine = app.extensions["forecasting"].engine
    create_product(engine, name="long", product_id=1)
    upsert_sales(engine, product_id=1, rows=history(200))
    create_product(engine, name="short", product_id=2)
    upsert_sales(engine, product_id=2, rows=history(30))
    services.flush(redis_url)
    yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def queued(app):
    """Return a function counting messages waiting on a queue of the test broker."""
    client = app.extensions["forecasting"].redis

    def count(queue: str = "forecast") -> int:
        return int(client.llen(queue))

    return count
