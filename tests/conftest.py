"""Fixtures shared by every test folder: real Redis, PostgreSQL, small model settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from forecasting.data import migrations
from forecasting.data.database import make_engine
from tests import services

if TYPE_CHECKING:
    from tests.s3_server import S3Server

# Small but real models: every member trains, just briefly.
SMALL_MODELS = {
    "LSTM_EPOCHS": 2,
    "LSTM_WINDOW": 14,
    "LSTM_MAX_TRAIN_WINDOWS": 200,
    "RF_TREES": 10,
    "VALIDATION_DAYS": 28,
    "MIN_TRAINING_SAMPLES": 100,
}


#: Fixtures that bring up a real service or process; a test using any of them (directly or through
#: another fixture) is marked `integration`, so `make test-fast` leaves it out.
INTEGRATION_FIXTURES = {"redis_url", "postgres_url", "stack", "s3", "amqp_url"}
#: Parametrized fixtures whose parameter names a server.
SERVER_PARAMS = {"engine": "postgresql", "database_url": "postgresql", "backend": "s3"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that needs Redis, PostgreSQL or worker processes as `integration`."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        params = getattr(getattr(item, "callspec", None), "params", {})
        if names & INTEGRATION_FIXTURES or any(params.get(name) == value for name, value in SERVER_PARAMS.items()):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with services.redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with services.postgres_database() as url:
        services.require(url is not None, f"PostgreSQL is not reachable on {services.PG_HOST}:{services.PG_PORT}")
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


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return the URL of an empty database: a new SQLite file, or the session's PostgreSQL emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sales.db'}"
    # One database per session: every test starts from empty tables.
    return services.emptied(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="session")
def s3() -> Iterator["S3Server"]:
    """A real S3-compatible store (SeaweedFS) for the test run; each test keeps to its own key prefix."""
    from tests.s3_server import s3_server

    with s3_server() as server:
        yield server


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """The local RabbitMQ as broker, held by this test run (see services.rabbitmq_broker)."""
    with services.rabbitmq_broker() as url:
        yield url
