"""API keys and scopes, checked in one before_request hook against one table."""

from __future__ import annotations

import base64
import json

import pytest

from api import create_app
from api.auth import ENDPOINT_SCOPES, InsecureConfiguration
from api.keys import create_key, revoke_key
from forecasting.data.database import make_engine
from forecasting.data.products import create_product
from tests import services

# One request per route, and the least scope that may send it.
REQUESTS = [
    ("GET", "/api/v1/jobs/00000000-0000-0000-0000-000000000000", None, "read"),
    ("GET", "/api/v1/models", None, "read"),
    ("GET", "/api/v1/models/1", None, "read"),
    ("GET", "/api/v1/models/1/history", None, "read"),
    ("GET", "/api/v1/products", None, "read"),
    ("GET", "/api/v1/products/1", None, "read"),
    ("GET", "/api/v1/products/1/sales", None, "read"),
    ("POST", "/api/v1/forecast", {"product_id": 1}, "write"),
    ("GET", "/api/v1/products/1/forecast", None, "read"),
    ("POST", "/api/v1/products", {"name": "new"}, "write"),
    ("POST", "/api/v1/products/1/sales", [{"date": "2024-01-01", "quantity": 1}], "write"),
    ("POST", "/api/v1/models/1/retrain", None, "write"),
    ("POST", "/api/v1/models/retrain", {"product_ids": [1]}, "write"),
    ("POST", "/api/v1/models/retrain", {"all": True}, "admin"),
    ("POST", "/api/v1/models/retrain", {"only_stale": True}, "admin"),
    ("POST", "/api/v1/forecasts", {"product_ids": [1]}, "write"),
    ("POST", "/api/v1/forecasts", {"all": True}, "admin"),
    ("GET", "/api/v1/jobs/00000000-0000-0000-0000-000000000000/result", None, "read"),
    ("DELETE", "/api/v1/models/1", None, "admin"),
    ("PATCH", "/api/v1/products/1", {"name": "renamed"}, "write"),
    ("GET", "/api/v1/products/1/calendar", None, "read"),
    ("PUT", "/api/v1/products/1/calendar", [{"date": "2024-01-01", "open": False}], "write"),
    ("DELETE", "/api/v1/products/1/calendar", None, "write"),
    ("GET", "/api/v1/products/1/forecast.svg", None, "read"),
    ("GET", "/", None, "read"),
    ("GET", "/products/1", None, "read"),
    ("GET", "/dashboard/jobs", None, "read"),
    ("GET", "/metrics", None, "read"),
    ("GET", "/api/v1/keys", None, "admin"),
    ("POST", "/api/v1/keys", {"name": "made", "scope": "read"}, "admin"),
    ("DELETE", "/api/v1/keys/999", None, "admin"),
    ("GET", "/api/v1/jobs", None, "read"),
    ("DELETE", "/api/v1/jobs/00000000-0000-0000-0000-000000000000", None, "write"),
    ("DELETE", "/api/v1/products/1/sales", None, "write"),
    ("DELETE", "/api/v1/products/999", None, "admin"),
]
SCOPES = ("read", "write", "admin")


@pytest.fixture
def secured(tmp_path, redis_url):
    app = create_app({"DATABASE_URL": services.migrated(f"sqlite:///{tmp_path / 'sales.db'}"), "REDIS_URL": redis_url,
                      "FORECASTING_MODELS_PATH": tmp_path / "models", "LOG_LEVEL": "WARNING",
                      "AUTH_REQUIRED": True})
    engine = app.extensions["forecasting"].engine
    create_product(engine, name="p", product_id=1)
    services.flush(redis_url)
    app.tokens = {scope: create_key(engine, name=f"{scope}-key", scope=scope)[1] for scope in SCOPES}
    return app


def send(app, method, path, body=None, token=None, **headers):
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return app.test_client().open(path, method=method, headers=headers,
                                  **({"json": body} if body is not None else {}))


def test_every_route_has_a_scope_in_the_table(secured):
    routes = {(method, rule.endpoint) for rule in secured.url_map.iter_rules() if rule.endpoint != "static"
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes == set(ENDPOINT_SCOPES)
    adapter = secured.url_map.bind("localhost")
    exercised = {(method, adapter.match(path, method=method)[0]) for method, path, _, _ in REQUESTS}
    assert exercised == {route for route, scope in ENDPOINT_SCOPES.items() if scope is not None}


@pytest.mark.parametrize(("method", "path", "body", "needed"), REQUESTS)
def test_without_a_key_is_401_with_a_bearer_challenge(secured, method, path, body, needed):
    response = send(secured, method, path, body)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="forecasting"'
    assert "Authorization: Bearer" in response.json["detail"]


def test_the_dashboard_asks_a_browser_for_the_key_as_a_basic_password(secured):
    refused = send(secured, "GET", "/")
    assert refused.status_code == 401
    assert refused.headers.getlist("WWW-Authenticate")[-1].startswith('Basic realm="forecasting dashboard')
    basic = base64.b64encode(f"anyone:{secured.tokens['read']}".encode()).decode()
    assert send(secured, "GET", "/", Authorization=f"Basic {basic}").status_code == 200
    wrong = base64.b64encode(b"anyone:fk_not-a-key").decode()
    assert send(secured, "GET", "/", Authorization=f"Basic {wrong}").status_code == 401
    # The JSON API keeps its one Bearer challenge, and the metrics need a key too.
    assert send(secured, "GET", "/api/v1/products").headers.getlist("WWW-Authenticate") == ['Bearer realm="forecasting"']
    assert send(secured, "GET", "/metrics").status_code == 401
    assert send(secured, "GET", "/metrics", token=secured.tokens["read"]).status_code == 200


@pytest.mark.parametrize("token", ["fk_not-a-key", "something-else", "fk_" + "a" * 43])
def test_an_unknown_key_is_401_invalid_token(secured, token):
    response = send(secured, "GET", "/api/v1/products", token=token)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert response.json["detail"] == "The API key is unknown or revoked."


def test_a_revoked_key_is_refused_from_then_on(secured):
    token = secured.tokens["read"]
    assert send(secured, "GET", "/api/v1/products", token=token).status_code == 200
    revoke_key(secured.extensions["forecasting"].engine, "read-key")
    assert send(secured, "GET", "/api/v1/products", token=token).status_code == 401


@pytest.mark.parametrize(("method", "path", "body", "needed"), REQUESTS)
@pytest.mark.parametrize("scope", SCOPES)
def test_a_scope_includes_the_lower_ones_and_no_more(secured, method, path, body, needed, scope):
    response = send(secured, method, path, body, token=secured.tokens[scope])
    if SCOPES.index(scope) < SCOPES.index(needed):
        assert response.status_code == 403
        assert response.mimetype == "application/problem+json"
        assert response.json["required_scope"] == needed
        assert f"scope '{needed}'" in response.json["detail"]
        assert f'scope="{needed}"' in response.headers["WWW-Authenticate"]
    else:
        assert response.status_code not in (401, 403), response.json


def test_a_refused_bulk_retrain_queues_nothing(secured):
    response = send(secured, "POST", "/api/v1/models/retrain", {"all": True}, token=secured.tokens["write"])
    assert response.status_code == 403
    broker = secured.extensions["forecasting"].redis
    assert [broker.llen(queue) for queue in ("forecast", "forecast-training", "training", "batch")] == [0, 0, 0, 0]


@pytest.mark.parametrize("content_type", ["application/merge+json", "text/plain"])
def test_a_bulk_retrain_of_all_needs_admin_however_it_is_declared(secured, content_type):
    response = secured.test_client().post(
        "/api/v1/models/retrain", data='{"all": true}',
        headers={"Content-Type": content_type, "Authorization": f"Bearer {secured.tokens['write']}"})
    assert response.status_code == 403 and response.json["required_scope"] == "admin"


def test_health_is_open_but_shows_details_to_admin_only(secured):
    anonymous = send(secured, "GET", "/api/v1/health")
    assert anonymous.status_code == 503  # no worker runs in these tests
    assert anonymous.json["status"] == "degraded"
    assert anonymous.json["checks"] == {"database": {"ok": True}, "broker": {"ok": True}, "workers": {"ok": False},
                                        "model_volume": {"ok": True}, "disk": {"ok": True}}
    assert send(secured, "GET", "/api/v1/health", token=secured.tokens["write"]).json == anonymous.json
    admin = send(secured, "GET", "/api/v1/health", token=secured.tokens["admin"]).json
    assert "no Celery worker" in admin["checks"]["workers"]["error"]
    assert admin["checks"]["model_volume"]["path"]


def test_without_auth_health_keeps_its_details_and_start_up_says_keys_are_off(tmp_path, redis_url, capsys):
    app = create_app({"DATABASE_URL": services.migrated(f"sqlite:///{tmp_path / 's.db'}"), "REDIS_URL": redis_url,
                      "FORECASTING_MODELS_PATH": tmp_path / "m", "LOG_LEVEL": "WARNING"})
    warnings = [json.loads(line) for line in capsys.readouterr().err.splitlines() if '"AUTH_REQUIRED"' in line]
    assert len(warnings) == 1 and warnings[0]["level"] == "warning" and warnings[0]["value"] is False
    checks = app.test_client().get("/api/v1/health").json["checks"]
    assert "error" in checks["workers"] and "ms" in checks["database"]


def _production(tmp_path, redis_url, database_url=None, **overrides):
    return create_app({"DATABASE_URL": services.migrated(database_url or f"sqlite:///{tmp_path / 'p.db'}"), "REDIS_URL": redis_url,
                       "FORECASTING_MODELS_PATH": tmp_path / "m", "LOG_LEVEL": "WARNING", "ENV": "production",
                       "MODEL_SIGNING_KEYS": "k" * 64, **overrides})


def test_production_refuses_to_start_with_auth_off(tmp_path, redis_url):
    with pytest.raises(InsecureConfiguration, match="AUTH_REQUIRED is not safe for production"):
        _production(tmp_path, redis_url, AUTH_REQUIRED=False)


def test_production_refuses_to_start_without_a_key_then_starts_with_one(tmp_path, redis_url):
    with pytest.raises(InsecureConfiguration, match="no API key exists; create one with `manage.py api-keys"):
        _production(tmp_path, redis_url)
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    _, token = create_key(engine, name="ops", scope="admin")
    app = _production(tmp_path, redis_url)
    assert app.config["AUTH_REQUIRED"] is True  # the production default
    assert send(app, "GET", "/api/v1/products").status_code == 401
    assert send(app, "GET", "/api/v1/products", token=token).status_code == 200
    revoke_key(engine, "ops")
    with pytest.raises(InsecureConfiguration, match="no API key exists"):
        _production(tmp_path, redis_url)


def test_production_refuses_a_placeholder_password(tmp_path, redis_url, postgres_url):
    # The local PostgreSQL trusts every password, so only the check can refuse this one.
    url = postgres_url.replace("postgres@", "postgres:change-me@")
    with pytest.raises(InsecureConfiguration, match=r"DATABASE_URL is not safe .*placeholder"):
        _production(tmp_path, redis_url, url, AUTH_REQUIRED=True)


def test_an_admin_key_manages_keys_over_http(secured):
    admin = secured.tokens["admin"]
    created = send(secured, "POST", "/api/v1/keys", {"name": "dashboard", "scope": "write"}, token=admin)
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    token = created.json["key"]
    assert created.json["scope"] == "write" and token.startswith(created.json["prefix"])
    assert send(secured, "POST", "/api/v1/products", {"name": "n"}, token=token).status_code == 201
    listed = send(secured, "GET", "/api/v1/keys", token=admin).json["keys"]
    assert [k["name"] for k in listed] == ["read-key", "write-key", "admin-key", "dashboard"]
    assert token not in json.dumps(listed)
    assert send(secured, "DELETE", f"/api/v1/keys/{created.json['id']}", token=admin).status_code == 204
    assert send(secured, "GET", "/api/v1/products", token=token).status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "needle"),
    [
        ("POST", "/api/v1/keys", {"name": "admin-key"}, 409, "exists already"),
        ("POST", "/api/v1/keys", {"name": "x", "scope": "root"}, 422, "Scope must be one of read, write, admin"),
        ("POST", "/api/v1/keys", {"name": 7}, 422, "must be strings"),
        ("DELETE", "/api/v1/keys/999", None, 404, "No key has the name or id '999'"),
        ("DELETE", "/api/v1/keys/abc", None, 404, "No key has the id 'abc'"),
        ("DELETE", "/api/v1/keys/99999999999999", None, 404, "No key"),
    ],
)
def test_bad_key_requests_say_why(secured, method, path, body, status, needle):
    response = send(secured, method, path, body, token=secured.tokens["admin"])
    assert response.status_code == status and response.mimetype == "application/problem+json"
    assert needle in response.json["detail"]
