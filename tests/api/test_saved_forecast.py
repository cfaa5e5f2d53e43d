"""A fresh saved forecast is answered by the API itself, without a worker; everything else goes to one.

No worker runs in these tests: what is answered, is answered from the database; what is
queued stays on its queue (real Redis), where its queue name is read.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import event, func, select

from api import create_app
from config.settings import load_settings
from forecasting.data.calendar import upsert_calendar
from forecasting.data.sales import load_history, upsert_sales
from forecasting.lifecycle import saved_forecasts, steps
from forecasting.store import model_store
from jobs.celery_app import FORECAST_QUEUE, FORECAST_TRAINING_QUEUE, TRAINING_QUEUE
from jobs.table import jobs as jobs_table
from tests import services
from tests.conftest import SMALL_MODELS

URL = "/api/v1/forecast"
SAVED_DAYS = 60
HISTORY_END = date(2024, 6, 30)  # the last sales day of product 1 (tests/api/conftest.py)


def trained(app, product_id: int = 1) -> dict:
    """Train the product in this process (small models, a saved forecast of SAVED_DAYS); return model_info."""
    svc = app.extensions["forecasting"]
    policy = steps.Policy(params=load_settings(overrides=SMALL_MODELS).model_params, min_samples=100,
                          max_age=timedelta(days=7), saved_forecast_days=SAVED_DAYS)
    return steps.train(engine=svc.engine, store=svc.store, history=load_history(svc.engine, product_id=product_id),
                       policy=policy, reason="test")


def saved_points(app, info: dict) -> list[dict]:
    points = saved_forecasts.load(app.extensions["forecasting"].engine, product_id=1, set_id=info["set_id"])
    assert points is not None and len(points) == SAVED_DAYS
    return points


def job_rows(app) -> list:
    with app.extensions["forecasting"].engine.connect() as conn:
        return conn.execute(select(jobs_table)).all()


def job_count(app) -> int:
    with app.extensions["forecasting"].engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(jobs_table)).scalar_one()


def queues(queued) -> dict[str, int]:
    return {name: queued(name) for name in (FORECAST_QUEUE, FORECAST_TRAINING_QUEUE, TRAINING_QUEUE)}


def test_get_answers_a_fresh_saved_forecast_without_a_job_or_a_worker(app, client, queued):
    info = trained(app)
    saved = saved_points(app, info)

    response = client.get("/api/v1/products/1/forecast?horizon=30")

    assert response.status_code == 200, response.json
    body = response.json
    assert body["product_id"] == 1 and body["horizon"] == 30
    assert body["points"] == saved[:30]
    assert body["history_end"] == info["data"]["end"]
    assert body["model"] == {"trained_at": info["trained_at"], "weights": info["weights"], "metrics": info["metrics"],
                             "trained_now": False, "reason": None}
    assert job_count(app) == 0 and queues(queued) == {FORECAST_QUEUE: 0, FORECAST_TRAINING_QUEUE: 0, TRAINING_QUEUE: 0}
    # The default horizon is DEFAULT_FORECAST_HORIZON (90), beyond what this set saved.
    assert client.get("/api/v1/products/1/forecast").status_code == 404


def test_prefer_wait_is_answered_at_once_with_a_truthful_job(app, client, queued):
    info = trained(app)
    saved = saved_points(app, info)

    response = client.post(URL, json={"product_id": 1, "forecast_horizon": 45}, headers={"Prefer": "wait=5"})

    assert response.status_code == 200, response.json
    assert response.headers["Preference-Applied"] == "wait=5"
    job = response.json
    assert response.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    assert job["status"] == "succeeded" and job["kind"] == "forecast" and job["params"] == {"horizon": 45}
    assert job["result"]["points"] == saved[:45] and job["result"]["model"]["trained_at"] == info["trained_at"]
    # No worker ran it, and the row says so: no attempt, started and finished as it was created.
    assert job["attempts"] == 0 and job["progress"] == {"percent": 100, "stage": "done"}
    assert job["created_at"] == job["started_at"] == job["finished_at"]
    assert queues(queued) == {FORECAST_QUEUE: 0, FORECAST_TRAINING_QUEUE: 0, TRAINING_QUEUE: 0}
    [row] = job_rows(app)
    assert row.status == "succeeded" and json.loads(row.result)["points"] == saved[:45]
    polled = client.get(f"/api/v1/jobs/{job['id']}").json
    assert polled == job


def test_a_polling_client_still_gets_a_queued_job_on_the_forecast_queue(app, client, queued):
    trained(app)

    response = client.post(URL, json={"product_id": 1, "forecast_horizon": 30})

    assert response.status_code == 202
    body = response.json
    assert body["status"] == "queued" and body["links"]["self"] == response.headers["Location"]
    assert client.get(response.headers["Location"]).json["status"] == "queued"
    assert queues(queued) == {FORECAST_QUEUE: 1, FORECAST_TRAINING_QUEUE: 0, TRAINING_QUEUE: 0}


def test_a_horizon_beyond_the_saved_days_is_computed_by_the_forecast_worker(app, client, queued):
    trained(app)

    missing = client.get(f"/api/v1/products/1/forecast?horizon={SAVED_DAYS + 1}")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    assert missing.json["title"] == "No fresh saved forecast" and missing.json["fresh"] is True
    assert "POST /api/v1/forecast" in missing.json["detail"]

    response = client.post(URL, json={"product_id": 1, "forecast_horizon": SAVED_DAYS + 1},
                           headers={"Prefer": "wait=1"})
    assert response.status_code == 202
    assert queues(queued) == {FORECAST_QUEUE: 1, FORECAST_TRAINING_QUEUE: 0, TRAINING_QUEUE: 0}


def test_new_sales_make_the_saved_forecast_stale_and_send_the_forecast_to_be_trained(app, client, queued):
    trained(app)
    assert client.get("/api/v1/products/1/forecast?horizon=30").status_code == 200
    upsert_sales(app.extensions["forecasting"].engine, product_id=1, rows=[(date(2024, 7, 1), 99.0)])

    stale = client.get("/api/v1/products/1/forecast?horizon=30")
    assert stale.status_code == 404 and stale.json["fresh"] is False
    response = client.post(URL, json={"product_id": 1, "forecast_horizon": 30}, headers={"Prefer": "wait=1"})
    assert response.status_code == 202 and response.json["status"] == "queued"
    assert queues(queued) == {FORECAST_QUEUE: 0, FORECAST_TRAINING_QUEUE: 1, TRAINING_QUEUE: 0}


def test_a_set_past_its_age_is_not_served(tmp_path, redis_url):
    # MODEL_RETRAIN_INTERVAL_DAYS=0: every set is too old, by the worker's rule (Policy.stale_reason).
    app = create_app({"DATABASE_URL": services.migrated(f"sqlite:///{tmp_path / 'sales.db'}"),
                      "REDIS_URL": redis_url, "FORECASTING_MODELS_PATH": tmp_path / "models",
                      "LOG_LEVEL": "WARNING", "MODEL_RETRAIN_INTERVAL_DAYS": 0})
    from forecasting.data.products import create_product
    from tests.api.conftest import history

    create_product(app.extensions["forecasting"].engine, name="old", product_id=1)
    upsert_sales(app.extensions["forecasting"].engine, product_id=1, rows=history(200))
    services.flush(redis_url)
    trained(app)

    assert app.test_client().get("/api/v1/products/1/forecast?horizon=10").json["fresh"] is False


def test_a_set_whose_signature_fails_is_not_served(app, client):
    info = trained(app)
    path = app.extensions["forecasting"].store.path(1) / "model_info.json"
    path.write_text(json.dumps({**info, "trained_at": "2099-01-01T00:00:00+00:00"}))

    response = client.get("/api/v1/products/1/forecast?horizon=10")

    assert response.status_code == 404 and response.json["fresh"] is False


def test_a_first_forecast_goes_to_the_queue_of_forecasts_that_train(app, client, queued):
    response = client.post(URL, json={"product_id": 1, "forecast_horizon": 30}, headers={"Prefer": "wait=1"})

    assert response.status_code == 202
    assert queues(queued) == {FORECAST_QUEUE: 0, FORECAST_TRAINING_QUEUE: 1, TRAINING_QUEUE: 0}
    assert client.get("/api/v1/products/1/forecast?horizon=30").json["fresh"] is False


@pytest.mark.parametrize("path, status", [
    ("/api/v1/products/99/forecast", 404),
    ("/api/v1/products/0001/forecast", 404),
    ("/api/v1/products/abc/forecast", 422),
    ("/api/v1/products/1/forecast?horizon=0", 422),
    ("/api/v1/products/1/forecast?horizon=366", 422),
    ("/api/v1/products/1/forecast?horizon=%C2%B2", 422),
])
def test_bad_requests_are_clear_problems(app, client, path, status):
    response = client.get(path)
    assert response.status_code == status and response.mimetype == "application/problem+json"


def _answer(client, horizon: int = 30):
    response = client.get(f"/api/v1/products/1/forecast?horizon={horizon}")
    assert response.status_code == 200, response.json
    return response


def test_a_fresh_saved_forecast_answered_again_reads_only_the_sales_token(app, client):
    trained(app)
    first = _answer(client)
    statements = []
    listen = lambda *args: statements.append(args[2])  # noqa: E731 - (conn, cursor, statement, ...)
    event.listen(app.extensions["forecasting"].reader, "before_cursor_execute", listen)
    try:
        again = _answer(client)
    finally:
        event.remove(app.extensions["forecasting"].reader, "before_cursor_execute", listen)
    assert again.get_data() == first.get_data()
    # The token itself may be the one read moments ago (SAVED_FORECAST_TOKEN_TTL_MS).
    assert len(statements) <= 1 and all("sales_token" in statement for statement in statements)


def test_each_horizon_is_answered_with_its_own_calendar_warnings(app, client):
    # The calendar states the first 20 forecast days open: later days are read as open by default.
    upsert_calendar(app.extensions["forecasting"].engine, product_id=1,
                    rows=[{"date": HISTORY_END + timedelta(days=d), "open": True} for d in range(1, 21)])
    trained(app)

    for horizon, unstated in [(30, 10), (10, 0), (60, 40), (30, 10)]:
        warnings = _answer(client, horizon).json["warnings"]
        assert [w["count"] for w in warnings if w["field"] == "open"] == ([unstated] if unstated else [])
    assert _answer(client, 30).get_data() == _answer(client, 30).get_data()


def test_a_calendar_change_after_an_answer_makes_the_next_one_stale(app, client):
    trained(app)
    _answer(client)

    upsert_calendar(app.extensions["forecasting"].engine, product_id=1,
                    rows=[{"date": HISTORY_END + timedelta(days=3), "open": False}])

    stale = client.get("/api/v1/products/1/forecast?horizon=30")
    assert stale.status_code == 404 and stale.json["fresh"] is False


@pytest.mark.parametrize("settled_ns", [model_store.SETTLED_NS, 0])
def test_a_retrained_set_is_answered_from_the_next_request_on(app, client, monkeypatch, settled_ns):
    # With 0, model_info.json is known by its stat at once, as a set is once past its first seconds.
    monkeypatch.setattr(model_store, "SETTLED_NS", settled_ns)
    old = trained(app)
    assert _answer(client).json["model"]["trained_at"] == old["trained_at"]

    new = trained(app)

    body = _answer(client).json
    assert new["set_id"] != old["set_id"]
    assert body["model"]["trained_at"] == new["trained_at"] and body["points"] == saved_points(app, new)[:30]


def test_a_deleted_product_is_not_answered_from_what_was_sent_before(app, client):
    trained(app)
    _answer(client)

    assert client.delete("/api/v1/products/1").status_code == 200

    gone = client.get("/api/v1/products/1/forecast?horizon=30")
    assert gone.status_code == 404 and gone.json["title"] == "Product not found"


def test_on_postgresql_the_freshness_read_outside_a_transaction_sees_each_write(tmp_path, redis_url, postgres_url):
    from forecasting.data.products import create_product
    from tests.api.conftest import history

    app = create_app({"DATABASE_URL": services.emptied(postgres_url), "REDIS_URL": redis_url,
                      "FORECASTING_MODELS_PATH": tmp_path / "models", "LOG_LEVEL": "WARNING"})
    svc = app.extensions["forecasting"]
    with svc.reader.connect() as conn:
        assert conn.connection.dbapi_connection.autocommit is True  # no BEGIN, no ROLLBACK around a read
    create_product(svc.engine, name="long", product_id=1)
    upsert_sales(svc.engine, product_id=1, rows=history(200))
    client = app.test_client()
    assert client.get("/api/v1/products/1/forecast?horizon=30").json["fresh"] is False

    trained(app)
    first = _answer(client)
    assert _answer(client).get_data() == first.get_data()
    upsert_sales(svc.engine, product_id=1, rows=[(HISTORY_END, 99.0)])

    assert client.get("/api/v1/products/1/forecast?horizon=30").json["fresh"] is False
    for engine in (svc.engine, svc.reader):
        engine.dispose()


def _app_with_token_window(tmp_path, redis_url, milliseconds: int):
    from forecasting.data.products import create_product
    from tests.api.conftest import history

    app = create_app({"DATABASE_URL": services.migrated(f"sqlite:///{tmp_path / 'sales.db'}"), "REDIS_URL": redis_url,
                      "FORECASTING_MODELS_PATH": tmp_path / "models", "LOG_LEVEL": "WARNING",
                      "SAVED_FORECAST_TOKEN_TTL_MS": milliseconds})
    create_product(app.extensions["forecasting"].engine, name="long", product_id=1)
    upsert_sales(app.extensions["forecasting"].engine, product_id=1, rows=history(200))
    trained(app)
    return app


def _written_elsewhere(tmp_path) -> None:
    # Another process's write: through an engine of its own, so this API process is not told of it.
    from forecasting.data.database import make_engine

    other = make_engine(f"sqlite:///{tmp_path / 'sales.db'}")
    try:
        upsert_sales(other, product_id=1, rows=[(HISTORY_END, 99.0)])
    finally:
        other.dispose()


@pytest.mark.parametrize("write", ["sales", "calendar", "sales deleted"])
def test_a_write_of_this_process_is_seen_at_once_whatever_the_token_window(tmp_path, redis_url, write):
    app = _app_with_token_window(tmp_path, redis_url, 3_600_000)
    client = app.test_client()
    _answer(client)

    if write == "sales":
        assert client.post("/api/v1/products/1/sales", json=[{"date": "2024-06-30", "quantity": 99}]).status_code == 200
    elif write == "calendar":
        assert client.put("/api/v1/products/1/calendar", json=[{"date": "2024-07-03", "open": False}]).status_code == 200
    else:
        assert client.delete("/api/v1/products/1/sales?start=2024-06-30").status_code == 200

    assert client.get("/api/v1/products/1/forecast?horizon=30").json["fresh"] is False


def test_a_write_of_another_process_is_seen_once_the_token_window_has_passed(tmp_path, redis_url):
    # A window longer than the test: the write stays unseen (what the window allows, no more).
    app = _app_with_token_window(tmp_path, redis_url, 3_600_000)
    client = app.test_client()
    before = _answer(client)
    _written_elsewhere(tmp_path)

    assert _answer(client).get_data() == before.get_data()
    app.extensions["saved_forecast_reads"].tokens.ttl_seconds = 0  # the window has passed
    assert client.get("/api/v1/products/1/forecast?horizon=30").json["fresh"] is False


def test_without_a_token_window_a_write_of_another_process_is_seen_at_once(tmp_path, redis_url):
    app = _app_with_token_window(tmp_path, redis_url, 0)
    client = app.test_client()
    _answer(client)
    _written_elsewhere(tmp_path)

    assert client.get("/api/v1/products/1/forecast?horizon=30").json["fresh"] is False
