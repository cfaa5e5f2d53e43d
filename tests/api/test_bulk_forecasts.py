"""Bulk forecasts (POST /forecasts) and forecast results as JSON, CSV and JSON Lines (GET /jobs/<id>/result).

The jobs here are recorded in the real database as a worker records them (children with
their results); tests/workers/test_bulk_forecast.py runs the same through real workers.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

import pytest

from api import create_app
from api.exports import BOUNDS, MEMBERS, columns
from forecasting.data.products import create_product
from jobs import records
from tests import services

URL = "/api/v1/forecasts"
MEMBER_NAMES = ("prophet", "lstm", "random_forest")


def points(days: int, *, members=MEMBER_NAMES, start: date = date(2024, 7, 1)) -> list[dict]:
    """Return `days` points shaped as a forecast job records them."""
    out = []
    for i in range(days):
        value = 10.0 + i
        out.append({"date": (start + timedelta(days=i)).isoformat(), "forecast": value,
                    "lower": value - 2, "upper": value + 2, "lower_95": value - 4, "upper_95": value + 4,
                    **{name: value + n / 10 for n, name in enumerate(members)}})
    return out


def ended_batch(app, product_ids, horizon=3, *, failed=(), tsb=()):
    """Record a bulk forecast whose children ended: one per product, failed for those in `failed`."""
    engine = app.extensions["forecasting"].engine
    batch = records.create_job(engine, kind="batch", params={"action": "forecast", "selection": "ids",
                                                             "product_ids": list(product_ids), "horizon": horizon})
    records.start_job(engine, job_id=batch["id"])
    for pid in product_ids:
        child = records.create_job(engine, kind="forecast", product_id=pid, parent_id=batch["id"],
                                   params={"horizon": horizon})
        if pid in failed:
            records.fail_job(engine, job_id=child["id"], error=records.coded_error("insufficient_history", "short"))
            continue
        members = (*MEMBER_NAMES, "tsb") if pid in tsb else MEMBER_NAMES
        records.finish_job(engine, job_id=child["id"], status="succeeded", result={
            "product_id": pid, "horizon": horizon, "history_end": "2024-06-30",
            "model": {"trained_at": "2024-07-01T00:00:00+00:00", "weights": {}, "metrics": {}},
            "points": points(horizon, members=members)})
    records.finish_job(engine, job_id=batch["id"], status="failed" if failed else "succeeded",
                       result={"total": len(product_ids), "dispatched": True})
    return batch["id"]


def result(client, job_id, accept=None):
    return client.get(f"/api/v1/jobs/{job_id}/result", headers={"Accept": accept} if accept else {})


@pytest.mark.parametrize(("body", "selection", "horizon"),
                         [({"product_ids": [2, 1], "forecast_horizon": 30}, "ids", 30), ({"all": True}, "all", 90)])
def test_a_bulk_forecast_is_one_batch_job_queued_for_dispatch(client, queued, body, selection, horizon):
    response = client.post(URL, json=body)
    assert response.status_code == 202, response.json
    assert response.json["selection"] == selection and response.json["forecast_horizon"] == horizon
    job = client.get(response.headers["Location"]).json
    assert job["kind"] == "batch" and job["status"] == "queued"
    assert job["params"]["action"] == "forecast" and job["params"]["horizon"] == horizon
    assert job["params"].get("product_ids") == body.get("product_ids")
    assert job["links"]["result"] == response.json["links"]["result"] == f"/api/v1/jobs/{job['id']}/result"
    # The batch queues its forecast children itself, on a queue of its own; nothing trains yet.
    assert queued("batch") == 1 and queued("forecast") == 0 and queued("training") == 0


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({}, "exactly one of 'product_ids' or 'all'"),
        ({"all": True, "product_ids": [1]}, "exactly one of"),
        ({"all": False}, "'all' must be true"),
        ({"product_ids": []}, "non-empty array"),
        ({"product_ids": "1,2"}, "non-empty array"),
        ({"product_ids": [1, "2"]}, "'product_ids[]' must be an integer, got a string \"2\""),
        ({"product_ids": [1, 0]}, "must be at least 1"),
        ({"product_ids": [1, 1]}, "more than once"),
        ({"product_ids": [1, 998, 999]}, "names 2 product(s) that do not exist: 998, 999"),
        ({"all": True, "forecast_horizon": 0}, "'forecast_horizon' must be at least 1"),
        ({"all": True, "forecast_horizon": 366}, "'forecast_horizon' must be at most 365"),
        ({"all": True, "horizon": 30}, "Unknown field(s): horizon"),
    ],
)
def test_bad_bulk_forecasts_are_422_and_queue_nothing(client, queued, body, needle):
    response = client.post(URL, json=body)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert needle in response.json["detail"]
    assert queued("forecast") == 0
    assert client.get("/api/v1/jobs").json["total"] == 0


def test_the_list_is_limited_by_max_batch_products(tmp_path, redis_url):
    app = create_app({"DATABASE_URL": services.migrated(f"sqlite:///{tmp_path / 'sales.db'}"), "REDIS_URL": redis_url,
                      "FORECASTING_MODELS_PATH": tmp_path / "models", "LOG_LEVEL": "WARNING",
                      "MAX_BATCH_PRODUCTS": 2})
    for pid in (1, 2, 3):
        create_product(app.extensions["forecasting"].engine, name=f"p{pid}", product_id=pid)
    client = app.test_client()
    response = client.post(URL, json={"product_ids": [1, 2, 3]})
    assert response.status_code == 422
    assert response.json["detail"] == "'product_ids' may hold at most 2 ids (MAX_BATCH_PRODUCTS), got 3."
    assert client.post(URL, json={"product_ids": [1, 2]}).status_code == 202


def test_a_bulk_forecast_as_csv_has_a_row_per_product_and_day(app, client):
    create_product(app.extensions["forecasting"].engine, name="third", product_id=3)
    job_id = ended_batch(app, [1, 2, 3], horizon=5, tsb={3})
    response = result(client, job_id, "text/csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and response.mimetype_params["charset"] == "utf-8"
    assert response.headers["Content-Disposition"] == f'attachment; filename="forecast-{job_id}.csv"'
    assert response.headers["Vary"] == "Accept"
    reader = csv.DictReader(io.StringIO(response.get_data(as_text=True)))
    assert reader.fieldnames == ["product_id", "date", "forecast", *BOUNDS, *MEMBERS]
    rows = list(reader)
    assert len(rows) == 3 * 5
    assert [(r["product_id"], r["date"]) for r in rows[:2]] == [("1", "2024-07-01"), ("1", "2024-07-02")]
    for row in rows:
        low95, low, mid, up, up95 = (float(row[name]) for name in ("lower_95", "lower", "forecast", "upper", "upper_95"))
        assert low95 <= low <= mid <= up <= up95
        assert all(row[name] != "" for name in MEMBER_NAMES)
    # A member only some products have is an empty cell for the others.
    assert {row["product_id"] for row in rows if row["tsb"] != ""} == {"3"}
    assert float(rows[0]["prophet"]) == 10.0 and float(rows[0]["random_forest"]) == 10.2


def test_a_bulk_forecast_as_json_lines(app, client):
    job_id = ended_batch(app, [1, 2], horizon=4)
    response = result(client, job_id, "application/x-ndjson")
    assert response.status_code == 200 and response.mimetype == "application/x-ndjson"
    assert response.headers["Content-Disposition"].endswith(f'forecast-{job_id}.jsonl"')
    lines = response.get_data(as_text=True).splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 2 * 4
    assert rows[0] == {"product_id": 1, **points(4)[0]}
    assert {row["product_id"] for row in rows} == {1, 2}


def test_a_bulk_forecast_as_json_is_the_default(app, client):
    job_id = ended_batch(app, [1, 2], horizon=4)
    for accept in (None, "*/*", "application/json", "text/html;q=0.5, application/json"):
        response = result(client, job_id, accept)
        assert response.status_code == 200 and response.mimetype == "application/json", accept
        assert "Content-Disposition" not in response.headers
        body = response.json
        assert body["job_id"] == job_id and body["status"] == "succeeded" and body["forecast_horizon"] == 4
        assert body["counts"]["succeeded"] == 2
        assert [f["product_id"] for f in body["forecasts"]] == [1, 2]
        assert body["forecasts"][0]["points"] == points(4)


def test_a_failed_bulk_forecast_exports_the_products_that_were_forecast(app, client):
    job_id = ended_batch(app, [1, 2], horizon=3, failed={2})
    assert client.get(f"/api/v1/jobs/{job_id}").json["failures"][0]["product_id"] == 2
    rows = list(csv.DictReader(io.StringIO(result(client, job_id, "text/csv").get_data(as_text=True))))
    assert {row["product_id"] for row in rows} == {"1"} and len(rows) == 3
    assert result(client, job_id).json["counts"]["failed"] == 1


def test_an_export_with_no_forecast_is_the_header_alone(app, client):
    job_id = ended_batch(app, [1], horizon=3, failed={1})
    assert result(client, job_id, "text/csv").get_data(as_text=True).splitlines() == [
        ",".join(["product_id", "date", "forecast", *BOUNDS, *MEMBERS])]
    assert result(client, job_id, "application/x-ndjson").get_data(as_text=True) == ""
    assert result(client, job_id).json["forecasts"] == []


def test_the_result_is_streamed_a_chunk_of_products_at_a_time(tmp_path, redis_url):
    app = create_app({"DATABASE_URL": services.migrated(f"sqlite:///{tmp_path / 'sales.db'}"), "REDIS_URL": redis_url,
                      "FORECASTING_MODELS_PATH": tmp_path / "models", "LOG_LEVEL": "WARNING",
                      "EXPORT_CHUNK_PRODUCTS": 2})
    for pid in range(1, 6):
        create_product(app.extensions["forecasting"].engine, name=f"p{pid}", product_id=pid)
    job_id = ended_batch(app, range(1, 6), horizon=2)
    response = app.test_client().get(f"/api/v1/jobs/{job_id}/result", headers={"Accept": "text/csv"}, buffered=False)
    assert response.is_streamed
    pieces = [piece.decode() for piece in response.response]
    # Products 1-2, 3-4 and 5: three reads of the database, three pieces of text.
    assert len(pieces) == 3
    assert [line.split(",")[0] for line in pieces[1].splitlines()] == ["3", "3", "4", "4"]
    response.close()


def test_a_single_forecast_job_as_csv(app, client):
    engine = app.extensions["forecasting"].engine
    job = records.create_job(engine, kind="forecast", product_id=1, params={"horizon": 7})
    records.start_job(engine, job_id=job["id"])
    conflict = result(client, job["id"], "text/csv")
    assert conflict.status_code == 409 and conflict.mimetype == "application/problem+json"
    assert conflict.json["job_status"] == "running"
    assert f"/api/v1/jobs/{job['id']}?wait=30" in conflict.json["detail"]
    records.finish_job(engine, job_id=job["id"], status="succeeded",
                       result={"product_id": 1, "horizon": 7, "points": points(7)})
    assert client.get(f"/api/v1/jobs/{job['id']}").json["links"]["result"] == f"/api/v1/jobs/{job['id']}/result"
    rows = list(csv.DictReader(io.StringIO(result(client, job["id"], "text/csv").get_data(as_text=True))))
    assert len(rows) == 7 and {row["product_id"] for row in rows} == {"1"}
    assert rows[-1]["date"] == "2024-07-07" and float(rows[-1]["upper_95"]) == 20.0
    assert result(client, job["id"]).json["forecasts"][0]["points"] == points(7)


def test_a_result_is_refused_while_the_job_has_not_ended(client):
    job_id = client.post(URL, json={"product_ids": [1]}).json["job_id"]
    for accept in ("text/csv", "application/x-ndjson", "application/json"):
        response = result(client, job_id, accept)
        assert response.status_code == 409, accept
        assert response.json["title"] == "Job not ended" and response.json["job_status"] == "queued"


def test_a_forecast_that_failed_has_no_result(app, client):
    engine = app.extensions["forecasting"].engine
    job = records.create_job(engine, kind="forecast", product_id=2, params={"horizon": 7})
    records.fail_job(engine, job_id=job["id"], error=records.coded_error("insufficient_history", "too short"))
    response = result(client, job["id"], "text/csv")
    assert response.status_code == 409
    assert response.json["title"] == "Job has no result" and response.json["job_status"] == "failed"


@pytest.mark.parametrize("accept", ["application/xml", "text/html", "text/csv;q=0, application/xml"])
def test_an_unsupported_accept_is_406(app, client, accept):
    job_id = ended_batch(app, [1], horizon=2)
    response = result(client, job_id, accept)
    assert response.status_code == 406
    assert response.mimetype == "application/problem+json"
    assert response.json["available"] == ["application/json", "text/csv", "application/x-ndjson"]
    assert "text/csv" in response.json["detail"]


def test_jobs_without_a_forecast_result_are_404(app, client):
    engine = app.extensions["forecasting"].engine
    retrain = records.create_job(engine, kind="batch", params={"selection": "all", "force": True})
    training = records.create_job(engine, kind="train", product_id=1, params={"force": True})
    assert "is a bulk retrain" in result(client, retrain["id"], "text/csv").json["detail"]
    assert result(client, training["id"]).status_code == 404
    assert result(client, "00000000-0000-0000-0000-000000000000").status_code == 404
    assert result(client, "not-a-job").status_code == 404


def test_the_member_columns_are_the_model_sets_members():
    from forecasting.models.model_set import ALL_MEMBERS

    assert MEMBERS == tuple(ALL_MEMBERS)


def test_values_beyond_the_fixed_columns_follow_their_kind():
    sample = [{"product_id": 1, "points": [{"date": "2024-07-01", "forecast": 1.0, "lower_50": 0.5, "upper_50": 1.5,
                                            "prophet": 1.0, "seasonal": 0.9}]}]
    assert columns(sample) == ["product_id", "date", "forecast", *BOUNDS, "lower_50", "upper_50", *MEMBERS, "seasonal"]
    assert columns([]) == ["product_id", "date", "forecast", *BOUNDS, *MEMBERS]
