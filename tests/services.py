"""Real Redis and PostgreSQL for the tests: use the running ones, or start our own."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

REDIS_DB = 13  # a database of its own, so a developer's data in db 0 is never touched
PG_HOST, PG_PORT = "127.0.0.1", 5432


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


@contextmanager
def redis_server() -> Iterator[str]:
    """Yield the URL of a reachable Redis: the local one on 6379, else one started here."""
    url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    if _port_open("127.0.0.1", 6379):
        redis.Redis.from_url(url).flushdb()
        yield url
        return
    binary = Path(sys.executable).parent / "redis-server"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/{REDIS_DB}"
    client = redis.Redis.from_url(url)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


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
