"""Bad input never reaches the database or the models: each case is a clear 4xx through the API."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from api import create_app
from tests import services

DEEP = 10_000


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("method,path", [
    ("post", "/api/v1/forecast"), ("post", "/api/v1/products"), ("post", "/api/v1/products/1/sales"),
    ("put", "/api/v1/products/1/calendar"), ("post", "/api/v1/models/retrain"), ("post", "/api/v1/keys"),
    ("patch", "/api/v1/products/1"), ("post", "/api/v1/models/1/retrain"),
])
@pytest.mark.parametrize("depth", [DEEP, 40])
def test_a_deeply_nested_body_is_a_400_on_every_json_endpoint(client, queued, method, path, depth):
    response = getattr(client, method)(path, data=_nested(depth), content_type="application/json")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert "levels deep" in response.json["detail"]
    assert queued("forecast") == 0 and queued("forecast-training") == 0 and queued("training") == 0


def test_a_deep_body_is_refused_when_keys_decide_the_scope_from_it(tmp_path, redis_url):
    app = create_app({"DATABASE_URL": services.migrated(f"sqlite:///{tmp_path / 'k.db'}"), "REDIS_URL": redis_url,
                      "FORECASTING_MODELS_PATH": tmp_path / "m", "LOG_LEVEL": "WARNING", "AUTH_REQUIRED": True})
    from api.keys import create_key

    _, token = create_key(app.extensions["forecasting"].engine, name="admin", scope="admin")
    response = app.test_client().post("/api/v1/models/retrain", data=_nested(DEEP), content_type="application/json",
                                      headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400 and "levels deep" in response.json["detail"]


def test_nesting_within_the_limit_is_read_as_before(client):
    response = client.post("/api/v1/products/1/sales", json={"sales": [{"date": "2024-07-01", "quantity": 1}]})
    assert response.status_code == 200
    strings = client.post("/api/v1/products", json={"name": "[[[[" * 20 + "{{{{" * 20})
    assert strings.status_code == 201  # brackets inside strings are no nesting


@pytest.fixture(params=["sqlite", "postgresql"])
def any_client(request, tmp_path, redis_url):
    url = f"sqlite:///{tmp_path / 's.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    app = create_app({"DATABASE_URL": services.migrated(url), "REDIS_URL": redis_url,
                      "FORECASTING_MODELS_PATH": tmp_path / "m", "LOG_LEVEL": "WARNING"})
    if request.param == "postgresql":
        with app.extensions["forecasting"].engine.begin() as conn:
            conn.execute(text("TRUNCATE products, jobs, training_runs RESTART IDENTITY CASCADE"))
    client = app.test_client()
    assert client.post("/api/v1/products", json={"name": "plain", "product_id": 1}).status_code == 201
    return client


@pytest.mark.parametrize("field,value", [
    ("name", "bad\x00name"), ("name", "tab\tin name"), ("name", "bell\x07"), ("key", "k\x00"),
    ("key", "c1\x85control"), ("name", "lone \ud800 surrogate"),
])
def test_control_characters_in_text_fields_are_422_naming_the_field(any_client, field, value):
    body = {"name": "ok", field: value}
    response = any_client.post("/api/v1/products", json=body)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert response.json["field"] == field and "control characters" in response.json["detail"]
    assert any_client.get("/api/v1/products").json["count"] == 1


def test_a_nul_in_a_renamed_product_or_a_holiday_is_422(any_client):
    patched = any_client.patch("/api/v1/products/1", json={"name": "x\x00"})
    assert patched.status_code == 422 and patched.json["field"] == "name"
    assert any_client.get("/api/v1/products/1").json["name"] == "plain"
    calendar = any_client.put("/api/v1/products/1/calendar", json=[{"date": "2024-01-01", "holiday": "a\x00b"}])
    assert calendar.status_code == 422 and "Row 1" in calendar.json["detail"]


@pytest.mark.parametrize("prefer", ["wait=\u00b2", "wait=\u0663", "wait=" + "9" * 5000, "wait=-1", "wait=1e3"])
def test_a_prefer_wait_that_is_no_ascii_number_is_ignored(client, queued, prefer):
    response = client.post("/api/v1/forecast", json={"product_id": 1}, headers={"Prefer": prefer})
    assert response.status_code == 202 and "Preference-Applied" not in response.headers
    assert queued("forecast-training") == 1  # product 1 is untrained: its forecast trains first


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "9" * 5000, " 1", "1_0"])
def test_a_query_integer_that_is_no_ascii_number_is_422(client, value):
    response = client.get("/api/v1/products", query_string={"limit": value})
    assert response.status_code == 422 and response.json["field"] == "limit"


def _today() -> date:
    return datetime.now(timezone.utc).date()


@pytest.mark.parametrize("bad", ["0001-01-01", "9999-12-31", "1899-12-31", "+2"])
def test_a_sale_date_outside_the_accepted_range_is_422_naming_the_row(any_client, bad):
    day = (_today() + timedelta(days=2)).isoformat() if bad == "+2" else bad
    rows = [{"date": "2024-01-01", "quantity": 1}, {"date": day, "quantity": 2}]
    response = any_client.post("/api/v1/products/1/sales", json=rows)
    assert response.status_code == 422
    assert response.json["detail"].startswith("Row 2: date") and "is the year right?" in response.json["detail"]
    assert any_client.get("/api/v1/products/1/sales").json["count"] == 0


def test_the_range_ends_are_accepted(any_client):
    rows = [{"date": "1900-01-01", "quantity": 1}, {"date": (_today() + timedelta(days=1)).isoformat(), "quantity": 2}]
    response = any_client.post("/api/v1/products/1/sales", json=rows)
    assert response.status_code == 200 and response.json["written"] == 2


def test_a_control_character_in_an_api_key_name_is_422(any_client):
    response = any_client.post("/api/v1/keys", json={"name": "robot\x00", "scope": "read"})
    assert response.status_code == 422 and response.json["field"] == "name"
    assert any_client.get("/api/v1/keys").json["count"] == 0
