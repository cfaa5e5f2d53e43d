"""Real Redis and PostgreSQL for the tests (the running ones, or our own), migrated databases, and what a test requires."""

from __future__ import annotations

import importlib
import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import pytest
import redis
from sqlalchemy import text

import api.keys  # noqa: F401  (the service's tables are on `metadata` for emptied())
import launcher
from forecasting.data import migrations
from forecasting.data.database import make_engine, metadata
from jobs import table as jobs_table  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
#: The shared data sets, beside the checkout (see the README).
SHARED_DATA = ROOT.parent / "shared" / "data"
CLAIM_KEY = "forecasting-tests:claimed"
PG_HOST, PG_PORT = "127.0.0.1", 5432
#: Under CI every test must run: what a laptop may lack (PostgreSQL, Keras, a data set) is a failure there.
IN_CI = os.environ.get("CI") == "true"


def require(condition: bool, reason: str) -> None:
    """Skip the calling test unless `condition` holds; under CI (CI=true) fail it instead."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: required, not skipped)", pytrace=False)
    pytest.skip(reason)


def require_module(name: str, reason: str) -> ModuleType:
    """Import and return module `name`, or skip the test (fail it under CI) when it is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        require(False, f"{name} is not installed: {reason}")
        raise  # not reached: require() skips or fails


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


@contextmanager
def redis_server() -> Iterator[str]:
    """Yield the URL of a reachable Redis: the local one on 6379, else one started here."""
    if _port_open("127.0.0.1", 6379):
        # A database of its own (never db 0, a developer's), claimed so that two test
        # runs at once never consume each other's Celery messages.
        for db in range(15, 0, -1):
            client = redis.Redis(host="127.0.0.1", port=6379, db=db)
            if client.set(CLAIM_KEY, str(uuid.uuid4()), nx=True, ex=4 * 3600):
                break
        else:
            raise RuntimeError("every Redis database 1-15 on 127.0.0.1:6379 is claimed by another test run")
        _flush_keeping_claim(client)
        try:
            yield f"redis://127.0.0.1:6379/{db}"
        finally:
            client.flushdb()
        return
    with tempfile.TemporaryDirectory() as workdir:
        proc, url = launcher.start_redis(launcher.free_port(6392), Path(workdir))
        try:
            yield url.rsplit("/", 1)[0] + "/1"
        finally:
            proc.terminate()
            proc.wait(10)


def flush(url: str) -> None:
    """Empty the test Redis database, keeping its claim."""
    _flush_keeping_claim(redis.Redis.from_url(url))


def _flush_keeping_claim(client: redis.Redis) -> None:
    claim = client.get(CLAIM_KEY)
    client.flushdb()
    if claim is not None:
        client.set(CLAIM_KEY, claim, ex=4 * 3600)


@contextmanager
def postgres_database() -> Iterator[str | None]:
    """Yield the URL of a fresh PostgreSQL database (dropped afterwards), or None if none runs."""
    if not _port_open(PG_HOST, PG_PORT):
        yield None
        return
    import psycopg2

    name = f"forecast_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def migrated(url: str) -> str:
    """Bring the database at `url` to the head revision, as `manage.py db upgrade` does; return `url`."""
    engine = make_engine(url)
    try:
        migrations.upgrade(engine)
    finally:
        engine.dispose()
    return url


def emptied(url: str) -> str:
    """Drop every table of the database at `url` (revision included), migrate it afresh; return `url`."""
    engine = make_engine(url)
    try:
        metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    finally:
        engine.dispose()
    return migrated(url)


#: The RabbitMQ of this machine and of CI (the default vhost, guest/guest).
AMQP_HOST, AMQP_PORT = "127.0.0.1", 5672
AMQP_QUEUES = ("forecast", "forecast-training", "training", "batch")


@contextmanager
def rabbitmq_broker() -> Iterator[str]:
    """Yield the URL of the local RabbitMQ, held by this test run alone, its service's queues emptied.

    The queues have the service's fixed names in the default vhost, so two test runs on one
    machine take turns (a file lock) instead of consuming each other's messages.
    """
    import fcntl

    require(_port_open(AMQP_HOST, AMQP_PORT), f"RabbitMQ is not reachable on {AMQP_HOST}:{AMQP_PORT}")
    url = f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}//"
    with open(Path(tempfile.gettempdir()) / "forecasting-tests-rabbitmq.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            _purge(url)
            yield url
        finally:
            _purge(url)
            fcntl.flock(lock, fcntl.LOCK_UN)


def _purge(url: str) -> None:
    from amqp.exceptions import NotFound
    from kombu import Connection

    with Connection(url) as conn:
        for queue in AMQP_QUEUES:
            channel = conn.channel()
            try:
                channel.queue_purge(queue)
            except NotFound:
                continue  # never declared on this server yet: nothing to empty
            finally:
                if channel.is_open:
                    channel.close()
