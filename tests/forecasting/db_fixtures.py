"""Database fixtures for the data-layer tests: every test runs on SQLite and on PostgreSQL.

Import them explicitly: ``from tests.forecasting.db_fixtures import engine, pg_url  # noqa: F401``.
PostgreSQL gets a database of its own for the session (created through the
``postgres`` maintenance database, dropped at the end); when no server answers,
only the PostgreSQL variants are skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

from forecasting.database import init_db, make_engine

# The maintenance database of the local server; TEST_POSTGRES_ADMIN_URL points elsewhere.
ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """Yield the URL of a fresh PostgreSQL database for this session, dropped afterwards."""
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    name = f"forecast_data_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL is not reachable at {make_url(ADMIN_URL).render_as_string(hide_password=True)}: "
                    f"{str(exc.orig).strip().splitlines()[0]}")
    try:
        yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    """Yield an empty, initialised sales database: a new SQLite file, or the session's PostgreSQL."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'db' / 'sales.db'}")
    else:
        eng = make_engine(request.getfixturevalue("pg_url"))
    init_db(eng)
    if eng.dialect.name == "postgresql":
        with eng.begin() as conn:
            conn.execute(text("TRUNCATE sales, products, jobs RESTART IDENTITY CASCADE"))
    yield eng
    eng.dispose()
