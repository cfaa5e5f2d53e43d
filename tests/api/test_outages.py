"""An outage is a 503 with Retry-After, never a 500; /health answers in bounded time whatever is down."""

from __future__ import annotations

import dataclasses
import socket
import time

import pytest
from sqlalchemy import func, select, text

from api import create_app
from forecasting.data.database import make_engine
from forecasting.data.products import create_product
from jobs.table import jobs
from launcher import free_port
from tests import services

CLOSED = free_port(1)  # a port where nothing listens


def _app(tmp_path, redis_url: str):
    app = create_app({"DATABASE_URL": services.migrated(f"sqlite:///{tmp_path / 's.db'}"), "REDIS_URL": redis_url,
                      "FORECASTING_MODELS_PATH": tmp_path / "m", "LOG_LEVEL": "CRITICAL"})
    create_product(app.extensions["forecasting"].engine, name="p", product_id=1)
    return app


def _database_at(app, url: str) -> None:
    # The database goes away after the API started (at start, the schema check refuses to run).
    svc = app.extensions["forecasting"]
    app.extensions["forecasting"] = dataclasses.replace(svc, engine=make_engine(url))


def _job_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(jobs)).scalar_one()


def _assert_outage(response, title: str) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json" and response.json["title"] == title
    assert int(response.headers["Retry-After"]) > 0


@pytest.mark.parametrize("method,path,body", [
    ("get", "/api/v1/products", None), ("get", "/api/v1/products/1", None), ("get", "/api/v1/products/1/sales", None),
    ("post", "/api/v1/products", {"name": "x"}), ("post", "/api/v1/forecast", {"product_id": 1}),
    ("get", "/api/v1/jobs", None), ("get", "/api/v1/jobs/00000000-0000-0000-0000-000000000000", None),
    ("post", "/api/v1/models/1/retrain", None), ("delete", "/api/v1/products/1/sales?start=2024-01-01", None),
    ("get", "/api/v1/models/1/history", None),
])
def test_a_database_at_a_closed_port_is_503_on_every_endpoint(tmp_path, redis_url, method, path, body):
    app = _app(tmp_path, redis_url)
    _database_at(app, f"postgresql+psycopg2://postgres@127.0.0.1:{CLOSED}/test")
    response = getattr(app.test_client(), method)(path, **({"json": body} if body is not None else {}))
    _assert_outage(response, "Database unavailable")
    assert "127.0.0.1" not in response.get_data(as_text=True)  # the driver's text stays in the log


def test_keys_checked_against_a_database_that_is_down_are_503_not_401(tmp_path, redis_url):
    app = create_app({"DATABASE_URL": services.migrated(f"sqlite:///{tmp_path / 's.db'}"), "REDIS_URL": redis_url,
                      "FORECASTING_MODELS_PATH": tmp_path / "m", "LOG_LEVEL": "CRITICAL", "AUTH_REQUIRED": True})
    from api.keys import create_key

    _, token = create_key(app.extensions["forecasting"].engine, name="reader", scope="read")
    _database_at(app, f"postgresql+psycopg2://postgres@127.0.0.1:{CLOSED}/test")
    response = app.test_client().get("/api/v1/products", headers={"Authorization": f"Bearer {token}"})
    _assert_outage(response, "Database unavailable")


def test_retrain_with_redis_at_a_closed_port_is_503_and_records_nothing(tmp_path):
    app = _app(tmp_path, f"redis://127.0.0.1:{CLOSED}/0")
    response = app.test_client().post("/api/v1/models/1/retrain")
    _assert_outage(response, "Redis unavailable")
    assert _job_count(app.extensions["forecasting"].engine) == 0


def test_a_forecast_with_the_broker_down_is_503_with_retry_after(tmp_path):
    app = _app(tmp_path, f"redis://127.0.0.1:{CLOSED}/0")
    response = app.test_client().post("/api/v1/forecast", json={"product_id": 1})
    _assert_outage(response, "Broker unavailable")
    waiting = app.test_client().post("/api/v1/forecast", json={"product_id": 1}, headers={"Prefer": "wait=5"})
    _assert_outage(waiting, "Broker unavailable")


@pytest.fixture
def silent_server():
    """Yield the port of a server that accepts connections and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


@pytest.mark.parametrize("down", ["closed", "silent"])
def test_health_answers_within_its_budget_whatever_is_down(tmp_path, silent_server, down):
    port = CLOSED if down == "closed" else silent_server
    app = _app(tmp_path, f"redis://127.0.0.1:{port}/0")
    _database_at(app, f"postgresql+psycopg2://postgres@127.0.0.1:{port}/test")
    started = time.monotonic()
    response = app.test_client().get("/api/v1/health")
    assert time.monotonic() - started < 1.5
    assert response.status_code == 503
    checks = response.json["checks"]
    assert not checks["database"]["ok"] and not checks["broker"]["ok"] and not checks["workers"]["ok"]
    assert checks["model_volume"]["ok"] and checks["disk"]["ok"]


def test_connections_lost_between_requests_are_one_503_each_then_answered_again(tmp_path, redis_url, postgres_url):
    # Within API_DATABASE_PING_AFTER_IDLE_SECONDS a pooled connection is used unpinged: one lost
    # meanwhile (a server restart) fails its request as an outage, and the pool is renewed.
    app = create_app({"DATABASE_URL": services.emptied(postgres_url), "REDIS_URL": redis_url,
                      "FORECASTING_MODELS_PATH": tmp_path / "m", "LOG_LEVEL": "CRITICAL",
                      "API_DATABASE_PING_AFTER_IDLE_SECONDS": 3600, "SAVED_FORECAST_TOKEN_TTL_MS": 0})
    create_product(app.extensions["forecasting"].engine, name="p", product_id=1)
    client = app.test_client()
    assert client.get("/api/v1/products/1").status_code == 200
    assert client.get("/api/v1/products/1/forecast").json["fresh"] is False  # through the API's reader

    admin = make_engine(postgres_url)
    with admin.connect() as conn:
        assert conn.execute(text("SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                                 "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one() >= 2
    admin.dispose()

    _assert_outage(client.get("/api/v1/products/1"), "Database unavailable")
    _assert_outage(client.get("/api/v1/products/1/forecast"), "Database unavailable")
    assert client.get("/api/v1/products/1").status_code == 200
    assert client.get("/api/v1/products/1/forecast").json["fresh"] is False
