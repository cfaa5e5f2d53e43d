"""What a request may carry: JSON bodies only, bounded in size, ids in range; CORS only when set."""

from __future__ import annotations

import http.client
import io
import threading

import pytest
from sqlalchemy import text
from werkzeug.serving import make_server

from api import create_app
from forecasting.data.products import MAX_PRODUCT_ID
from tests import services

LIMIT = 1000


@pytest.fixture
def small_bodies(tmp_path, redis_url):
    return create_app({"DATABASE_URL": services.migrated(f"sqlite:///{tmp_path / 's.db'}"), "REDIS_URL": redis_url,
                       "FORECASTING_MODELS_PATH": tmp_path / "m", "LOG_LEVEL": "WARNING",
                       "MAX_CONTENT_LENGTH": LIMIT})


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_declared_json_is_415(client, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/api/v1/products", data='{"name": "x"}', headers=headers)
    assert response.status_code == 415
    assert response.mimetype == "application/problem+json"
    assert "'Content-Type: application/json'" in response.json["detail"]
    assert client.get("/api/v1/products").json["count"] == 2  # nothing created


def test_a_body_over_the_limit_is_413_and_left_unread(small_bodies):
    body = io.BytesIO(b'{"name": "' + b"x" * LIMIT + b'"}')
    response = small_bodies.test_client().post("/api/v1/products", input_stream=body,
                                               content_length=len(body.getvalue()),
                                               content_type="application/json")
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert "MAX_CONTENT_LENGTH" in response.json["detail"]
    assert body.tell() == 0


def test_the_default_limit_is_10_mb(app):
    assert app.config["MAX_CONTENT_LENGTH"] == 10 * 2**20


@pytest.fixture
def served(small_bodies):
    """Serve the app over real HTTP, where a chunked body arrives without a Content-Length."""
    server = make_server("127.0.0.1", 0, small_bodies, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    thread.join(5)


def _chunked_post(port: int, chunks: list[bytes]) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/api/v1/products", body=iter(chunks), encode_chunked=True,
                     headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        conn.close()


def test_a_chunked_body_is_cut_off_at_the_limit(served):
    status, content_type, body = _chunked_post(served, [b'{"name": "'] + [b"x" * 100] * 20 + [b'"}'])
    assert status == 413, body
    assert content_type == "application/problem+json"
    assert b'"status": 413' in body


def test_a_small_chunked_body_is_read(served):
    status, _, body = _chunked_post(served, [b'{"name": ', b'"chunked"}'])
    assert status == 201, body


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/products/0001", 404),
        ("/api/v1/products/2147483648", 404),
        ("/api/v1/products/99999999999999999999999", 404),
        ("/api/v1/models/007/history", 404),
        ("/api/v1/products/%D9%A3", 422),  # ARABIC-INDIC DIGIT THREE: a digit to str.isdigit
        ("/api/v1/products/%C2%B2", 422),  # SUPERSCRIPT TWO
        ("/api/v1/products/0", 422),
        ("/api/v1/products/1e3", 422),
    ],
)
def test_path_ids_are_canonical_ascii_in_range(client, path, status):
    response = client.get(path)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("body", [{"name": "x", "product_id": 2**31}, {"name": "x", "product_id": 2**63}])
def test_a_client_product_id_above_the_range_is_422(client, body):
    response = client.post("/api/v1/products", json=body)
    assert response.status_code == 422
    assert f"at most {MAX_PRODUCT_ID}" in response.json["detail"]


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request, tmp_path, redis_url):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 's.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    app = create_app({"DATABASE_URL": services.migrated(url), "REDIS_URL": redis_url, "FORECASTING_MODELS_PATH": tmp_path / "m",
                      "LOG_LEVEL": "WARNING"})
    if request.param == "postgresql":
        with app.extensions["forecasting"].engine.begin() as conn:
            conn.execute(text("TRUNCATE products, jobs, training_runs RESTART IDENTITY CASCADE"))
    return app


def test_the_largest_id_leaves_product_creation_working(any_db):
    client = any_db.test_client()
    assert client.post("/api/v1/products", json={"name": "a"}).json["id"] == 1
    top = client.post("/api/v1/products", json={"name": "top", "product_id": MAX_PRODUCT_ID})
    assert top.status_code == 201 and top.json["id"] == MAX_PRODUCT_ID
    assert client.get(f"/api/v1/products/{MAX_PRODUCT_ID}").status_code == 200
    ids = [client.post("/api/v1/products", json={"name": f"n{i}"}).json["id"] for i in range(3)]
    assert ids == [2, 3, 4]
    assert client.post("/api/v1/forecast", json={"product_id": 2**31}).status_code == 422


def _cors_app(tmp_path, redis_url, **config):
    return create_app({"DATABASE_URL": services.migrated(f"sqlite:///{tmp_path / 's.db'}"), "REDIS_URL": redis_url,
                       "FORECASTING_MODELS_PATH": tmp_path / "m", "LOG_LEVEL": "WARNING", **config})


PREFLIGHT = {"Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization, content-type"}


def test_cors_is_off_unless_origins_are_set(tmp_path, redis_url):
    client = _cors_app(tmp_path, redis_url).test_client()
    assert "Access-Control-Allow-Origin" not in client.get("/api/v1/products",
                                                           headers={"Origin": "https://shop.example"}).headers
    assert "Access-Control-Allow-Methods" not in client.options("/api/v1/forecast", headers=PREFLIGHT).headers


def test_cors_answers_listed_origins_only(tmp_path, redis_url):
    client = _cors_app(tmp_path, redis_url, CORS_ORIGINS="https://shop.example, https://other.example",
                       AUTH_REQUIRED=True).test_client()
    preflight = client.options("/api/v1/forecast", headers=PREFLIGHT)
    assert preflight.status_code == 204  # a preflight carries no key, and needs none
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    refused = client.get("/api/v1/products", headers={"Origin": "https://shop.example"})
    assert refused.status_code == 401  # CORS does not stand in for a key
    assert refused.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "WWW-Authenticate" in refused.headers["Access-Control-Expose-Headers"]
    stranger = {**PREFLIGHT, "Origin": "https://evil.example"}
    assert "Access-Control-Allow-Origin" not in client.options("/api/v1/forecast", headers=stranger).headers
    assert "Access-Control-Allow-Origin" not in client.get("/api/v1/health", headers=stranger).headers
