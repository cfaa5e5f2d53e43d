"""A pooled PostgreSQL connection is pinged before use only after sitting idle; one found dead is replaced."""

import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from forecasting.data.database import make_engine


def _backend(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _terminate(url: str, pid: int) -> None:
    admin = make_engine(url, poolclass=NullPool)
    try:
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}).scalar_one()
    finally:
        admin.dispose()


@pytest.fixture
def idle_engine(postgres_url):
    engines = []

    def make(seconds: float):
        engines.append(make_engine(postgres_url, ping_after_idle_seconds=seconds))
        return engines[-1]

    yield make
    for engine in engines:
        engine.dispose()


def _count_pings(engine) -> list:
    pings = []
    original = engine.dialect.do_ping
    engine.dialect.do_ping = lambda conn: pings.append(conn) or original(conn)
    return pings


def test_a_connection_in_use_moments_ago_is_not_pinged_at_checkout(idle_engine):
    engine = idle_engine(3600)
    pings = _count_pings(engine)
    first = _backend(engine)

    assert _backend(engine) == first
    assert engine.pool._pre_ping is False and pings == []


def test_a_connection_closed_while_idle_is_replaced_before_use(idle_engine, postgres_url):
    engine = idle_engine(0.05)
    pings = _count_pings(engine)
    first = _backend(engine)
    _terminate(postgres_url, first)
    time.sleep(0.2)  # idle past the window: pinged at checkout, found dead, replaced

    assert _backend(engine) != first
    assert len(pings) == 1


def test_a_connection_closed_within_the_window_fails_one_statement_and_the_pool_is_renewed(idle_engine, postgres_url):
    engine = idle_engine(3600)
    first = _backend(engine)
    _terminate(postgres_url, first)

    with pytest.raises(OperationalError) as raised:
        _backend(engine)
    assert raised.value.connection_invalidated
    assert _backend(engine) != first


def test_zero_pings_every_connection_before_use(postgres_url):
    engine = make_engine(postgres_url, ping_after_idle_seconds=0)
    try:
        assert engine.pool._pre_ping is True
    finally:
        engine.dispose()
