"""Undo and control over the API: delete a sales range or a product, list and cancel jobs."""

from __future__ import annotations

import pytest

from forecasting.data.sales import load_history
from forecasting.lifecycle import saved_forecasts
from jobs import control, records


def _engine(app):
    return app.extensions["forecasting"].engine


def test_deleting_a_sales_range_removes_both_ends_and_moves_the_fingerprint(app, client):
    before = load_history(_engine(app), product_id=1)
    response = client.delete("/api/v1/products/1/sales?start=2024-06-01&end=2024-06-10")
    assert response.status_code == 200, response.json
    assert response.json["deleted"] == 10 and response.json["rows"] == 190
    assert response.json["fingerprint"] != before.fingerprint
    after = load_history(_engine(app), product_id=1)
    assert after.sales_token != before.sales_token  # the token triggers saw the delete: the set reads stale
    dates = [row["date"] for row in client.get("/api/v1/products/1/sales?start=2024-05-31&end=2024-06-11").json["sales"]]
    assert dates == ["2024-05-31", "2024-06-11"]


def test_a_sales_range_may_be_open_on_one_side(client):
    assert client.delete("/api/v1/products/1/sales?start=2024-06-21").json["deleted"] == 10
    assert client.delete("/api/v1/products/1/sales?end=2023-12-31").json["end"] == "2024-06-20"


@pytest.mark.parametrize("query,status,needle", [
    ("", 422, "Give the range to delete"),
    ("?start=2024-06-10&end=2024-06-01", 422, "is after end"),
    ("?start=2024-13-01", 422, "'start' must be a YYYY-MM-DD date"),
])
def test_a_bad_sales_range_is_refused_and_deletes_nothing(client, query, status, needle):
    response = client.delete(f"/api/v1/products/1/sales{query}")
    assert response.status_code == status and response.mimetype == "application/problem+json"
    assert needle in response.json["detail"]
    assert client.get("/api/v1/products/1").json["rows"] == 200


def test_deleting_sales_of_an_unknown_product_is_404(client):
    assert client.delete("/api/v1/products/99/sales?start=2024-01-01").status_code == 404


def test_deleting_a_product_removes_its_data_and_model_set_and_keeps_its_jobs(app, client):
    svc = app.extensions["forecasting"]
    live = svc.store.path(1)
    live.mkdir(parents=True)
    (live / "model_info.json").write_text("{}")
    saved_forecasts.save(svc.engine, product_id=1, set_id="s", points=[{"date": "2024-07-01", "forecast": 1.0}])
    assert client.put("/api/v1/products/1/calendar", json=[{"date": "2024-07-01", "open": False}]).status_code == 200
    job = records.create_job(svc.engine, kind="forecast", product_id=1, params={"horizon": 7})
    response = client.delete("/api/v1/products/1")
    assert response.status_code == 200, response.json
    assert response.json["deleted"] == {"sales": 200, "calendar": 1, "model_set": True}
    assert client.get("/api/v1/products/1").status_code == 404
    assert not live.exists()
    assert saved_forecasts.load(svc.engine, product_id=1, set_id="s") is None
    assert client.get(f"/api/v1/jobs/{job['id']}").json["product_id"] == 1
    assert client.get("/api/v1/products/2").status_code == 200
    assert client.delete("/api/v1/products/1").status_code == 404


def test_listing_jobs_filters_and_pages_with_a_total_and_a_next_link(app, client):
    engine = _engine(app)
    for n in range(5):
        records.create_job(engine, kind="forecast", product_id=1 + n % 2, params={})
    batch = records.create_job(engine, kind="batch", params={"selection": "all"})
    child = records.create_job(engine, kind="train", product_id=1, parent_id=batch["id"], params={})
    records.finish_job(engine, job_id=child["id"], status="skipped")
    page = client.get("/api/v1/jobs?limit=3").json
    assert page["total"] == 7 and page["count"] == 3
    following = client.get(page["links"]["next"]).json
    assert following["offset"] == 3 and following["count"] == 3
    assert "next" not in client.get(following["links"]["next"]).json["links"]
    assert client.get("/api/v1/jobs?kind=forecast&product_id=2").json["total"] == 2
    assert client.get("/api/v1/jobs?status=skipped").json["jobs"][0]["id"] == child["id"]
    assert [j["id"] for j in client.get(f"/api/v1/jobs?parent_id={batch['id']}").json["jobs"]] == [child["id"]]


@pytest.mark.parametrize("query,status", [("status=done", 422), ("kind=x", 422), ("product_id=abc", 422),
                                          ("limit=0", 422), ("parent_id=not-a-job", 404)])
def test_bad_job_filters_are_refused(client, query, status):
    response = client.get(f"/api/v1/jobs?{query}")
    assert response.status_code == status and response.mimetype == "application/problem+json"


def test_cancelling_a_queued_job_ends_it_and_a_second_cancel_is_409(app, client, queued):
    created = client.post("/api/v1/forecast", json={"product_id": 1})
    job_id = created.json["job_id"]
    response = client.delete(f"/api/v1/jobs/{job_id}")
    assert response.status_code == 200 and response.json["status"] == "cancelled"
    assert response.json["finished_at"] is not None
    again = client.delete(f"/api/v1/jobs/{job_id}")
    assert again.status_code == 409 and again.json["job_status"] == "cancelled"
    assert client.delete("/api/v1/jobs/00000000-0000-0000-0000-000000000000").status_code == 404
    # A worker that receives the message now does not start it.
    assert records.start_job(_engine(app), job_id=job_id) is None


def test_cancelling_a_batch_cancels_its_children_that_have_not_ended(app, client):
    engine = _engine(app)
    batch = records.create_job(engine, kind="batch", params={"selection": "all"})
    waiting = records.create_job(engine, kind="train", product_id=1, parent_id=batch["id"], params={})
    done = records.create_job(engine, kind="train", product_id=2, parent_id=batch["id"], params={})
    records.finish_job(engine, job_id=done["id"], status="succeeded")
    response = client.delete(f"/api/v1/jobs/{batch['id']}")
    assert response.status_code == 200 and response.json["counts"]["cancelled"] == 1
    assert records.get_job(engine, job_id=waiting["id"])["status"] == "cancelled"
    assert records.get_job(engine, job_id=done["id"])["status"] == "succeeded"


def test_a_cancelled_training_frees_the_product_for_a_new_one(client):
    first = client.post("/api/v1/models/1/retrain")
    assert first.status_code == 202 and first.json["created"] is True
    assert client.delete(f"/api/v1/jobs/{first.json['job_id']}").status_code == 200
    second = client.post("/api/v1/models/1/retrain")
    assert second.json["created"] is True and second.json["job_id"] != first.json["job_id"]


def test_a_worker_end_never_overwrites_a_cancel(app):
    engine = _engine(app)
    job = records.create_job(engine, kind="train", product_id=1, params={})
    records.start_job(engine, job_id=job["id"])
    control.cancel_job(engine, job_id=job["id"])
    assert records.set_progress(engine, job_id=job["id"], stage="fit", progress=50) is False
    assert records.finish_job(engine, job_id=job["id"], status="succeeded")["status"] == "cancelled"
