"""POST -> real Celery worker -> poll, on SQLite and on PostgreSQL."""

from datetime import date

from forecasting.data.sales import upsert_sales

ARTIFACTS = {"prophet_model.pkl", "lstm_model.h5", "rf_model.pkl", "scaler.pkl", "model_info.json"}


def test_first_forecast_trains_then_later_ones_reuse(stack):
    first = stack.forecast(1, 90)
    assert first["status"] == "succeeded", first["error"]
    points = first["result"]["points"]
    assert len(points) == 90
    assert points[0]["date"] == "2024-07-01" and points[-1]["date"] == "2024-09-28"
    for p in points:
        assert 0 <= p["lower"] <= p["forecast"] <= p["upper"]
        assert {"prophet", "lstm", "random_forest"} <= set(p)
    assert first["result"]["model"]["trained_now"] is True
    assert any(s == "running" and 0 < pct < 100 for s, pct, _ in first["seen"]), first["seen"]

    folder = stack.models / "1"
    assert {p.name for p in folder.iterdir()} == ARTIFACTS
    mtimes = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}

    second = stack.forecast(1, 30)
    assert second["status"] == "succeeded"
    assert len(second["result"]["points"]) == 30
    assert second["result"]["model"]["trained_now"] is False
    assert second["result"]["model"]["trained_at"] == first["result"]["model"]["trained_at"]
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == mtimes
    # Same stored models, same history: the same numbers.
    assert [p["forecast"] for p in second["result"]["points"]] == [p["forecast"] for p in points[:30]]
    # Asked again, the same forecast (this time from the worker's memo of it).
    assert stack.forecast(1, 90)["result"]["points"] == points

    # Asked to wait, the POST answers with the ended job itself.
    waited = stack.client.post("/api/v1/forecast", json={"product_id": 1, "forecast_horizon": 60},
                               headers={"Prefer": "wait=30"})
    assert waited.status_code == 200 and waited.headers["Preference-Applied"] == "wait=30"
    assert waited.json["status"] == "succeeded" and waited.json["result"]["points"] == points[:60]
    assert waited.headers["Location"] == waited.json["links"]["self"]
    # So does a GET that waits on a job it did not start.
    queued = stack.client.post("/api/v1/forecast", json={"product_id": 1, "forecast_horizon": 5})
    ended = stack.client.get(queued.headers["Location"] + "?wait=30").json
    assert ended["status"] == "succeeded" and ended["result"]["points"] == points[:5]


def test_new_sales_change_the_fingerprint_and_retrain(stack):
    assert stack.forecast(1, 7)["result"]["model"]["trained_now"] is True
    upsert_sales(stack.app.extensions["forecasting"].engine, product_id=1, rows=[(date(2024, 7, 1), 99.0)])
    job = stack.forecast(1, 7)
    assert job["status"] == "succeeded"
    assert job["result"]["model"]["trained_now"] is True
    assert job["result"]["model"]["reason"] == "data_changed"
    assert job["result"]["points"][0]["date"] == "2024-07-02"


def test_short_history_fails_with_count_and_minimum(stack):
    job = stack.forecast(2, 30)
    assert job["status"] == "failed"
    assert "50 days" in job["error"] and "at least 100" in job["error"]
    assert not (stack.models / "2").exists()
