"""Fixtures shared by every test folder: real Redis, PostgreSQL, small model settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from forecasting.data import migrations
from forecasting.data.database import make_engine
from tests import services

# Small but real models: every member trains, just briefly.
SMALL_MODELS = {
    "LSTM_EPOCHS": 2,
    "LSTM_WINDOW": 14,
    "LSTM_MAX_TRAIN_WINDOWS": 200,
    "RF_TREES": 10,
    "VALIDATION_DAYS": 28,
    "MIN_TRAINING_SAMPLES": 100,
}


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with services.redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with services.postgres_database() as url:
        if url is None:
            pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """Yield an empty sales database at the head revision: a new SQLite file, or the session's PostgreSQL."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'db' / 'sales.db'}")
    else:
        eng = make_engine(request.getfixturevalue("postgres_url"))
    migrations.upgrade(eng)
    if eng.dialect.name == "postgresql":
        with eng.begin() as conn:
            conn.execute(text("TRUNCATE sales, products, jobs, training_runs, forecasts RESTART IDENTITY CASCADE"))
    yield eng
    eng.dispose()
