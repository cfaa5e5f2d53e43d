"""A bulk forecast through a real Celery worker, on SQLite and PostgreSQL: batch, forecast children, exports."""

import csv
import io
import json

from forecasting.data.products import create_product
from forecasting.data.sales import upsert_sales
from jobs import control
from jobs.celery_app import FORECAST_QUEUE, FORECAST_TRAINING_QUEUE
from tests.api.conftest import history

HORIZON = 14
MEMBERS = ("prophet", "lstm", "random_forest")


def rows_of(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_a_bulk_forecast_runs_forecast_children_and_exports_their_rows(stack):
    engine = stack.app.extensions["forecasting"].engine
    create_product(engine, name="third", product_id=3)
    upsert_sales(engine, product_id=3, rows=history(300))
    # Product 2 has 50 days, below MIN_TRAINING_SAMPLES: its forecast fails, the others' do not.
    response = stack.client.post("/api/v1/forecasts", json={"product_ids": [1, 2, 3], "forecast_horizon": HORIZON})
    assert response.status_code == 202, response.json
    result_url = response.json["links"]["result"]
    early = stack.client.get(result_url, headers={"Accept": "text/csv"})
    if stack.client.get(response.headers["Location"]).json["status"] not in {"succeeded", "failed"}:
        # Still running after the result was asked for: it was refused, saying so.
        assert early.status_code == 409 and early.json["title"] == "Job not ended"

    batch = stack.poll(response.headers["Location"])
    assert batch["kind"] == "batch" and batch["status"] == "failed"
    assert batch["error_code"] == "batch_failed" and batch["error"] == "1 of 3 products failed to forecast."
    assert batch["counts"] == {"total": 3, "queued": 0, "running": 0, "succeeded": 2, "failed": 1, "skipped": 0,
                               "cancelled": 0}
    assert [(f["product_id"], f["error_code"]) for f in batch["failures"]] == [(2, "insufficient_history")]
    children = stack.client.get(f"/api/v1/jobs?parent_id={batch['id']}").json["jobs"]
    assert sorted((c["kind"], c["product_id"], c["params"]["horizon"]) for c in children) == [
        ("forecast", 1, HORIZON), ("forecast", 2, HORIZON), ("forecast", 3, HORIZON)]

    rows = rows_of(stack.client.get(result_url, headers={"Accept": "text/csv"}))
    assert len(rows) == 2 * HORIZON
    assert [row["product_id"] for row in rows] == ["1"] * HORIZON + ["3"] * HORIZON
    assert rows[0]["date"] == "2024-07-01" and rows[HORIZON - 1]["date"] == "2024-07-14"
    for row in rows:
        assert 0 <= float(row["lower_95"]) <= float(row["lower"]) <= float(row["forecast"]) \
            <= float(row["upper"]) <= float(row["upper_95"])
        assert all(row[name] != "" for name in MEMBERS)

    lines = stack.client.get(result_url, headers={"Accept": "application/x-ndjson"}).get_data(as_text=True)
    parsed = [json.loads(line) for line in lines.splitlines()]
    assert len(parsed) == 2 * HORIZON
    assert [(p["product_id"], p["date"]) for p in parsed] == [(int(r["product_id"]), r["date"]) for r in rows]

    # A child is an ordinary forecast job: its own result, as CSV, is the same rows.
    child = next(c for c in children if c["product_id"] == 3)
    assert child["status"] == "succeeded" and child["result"]["model"]["trained_now"] is True
    assert rows_of(stack.client.get(child["links"]["result"], headers={"Accept": "text/csv"})) == rows[HORIZON:]


def test_a_bulk_forecast_sends_each_child_to_the_queue_of_its_set(stack):
    # No product has a set: every child trains first, on the queue of such forecasts.
    engine = stack.app.extensions["forecasting"].engine
    first = stack.poll(stack.client.post("/api/v1/forecasts", json={"product_ids": [1, 2]}).headers["Location"])
    children, _ = control.list_jobs(engine, parent_id=first["id"])
    assert {(c["product_id"], c["queue"]) for c in children} == {(1, FORECAST_TRAINING_QUEUE), (2, FORECAST_TRAINING_QUEUE)}
    # Product 1 is trained now, product 2 still cannot be: only 1's forecast goes to the forecast worker.
    again = stack.poll(stack.client.post("/api/v1/forecasts", json={"product_ids": [1, 2]}).headers["Location"])
    children, _ = control.list_jobs(engine, parent_id=again["id"])
    assert {(c["product_id"], c["queue"]) for c in children} == {(1, FORECAST_QUEUE), (2, FORECAST_TRAINING_QUEUE)}
    assert again["counts"]["succeeded"] == 1 and again["failures"][0]["product_id"] == 2
