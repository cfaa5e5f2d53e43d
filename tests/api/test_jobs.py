import uuid

import pytest


@pytest.mark.parametrize("job_id", [str(uuid.uuid4()), "not-a-uuid", "1"])
def test_unknown_job_is_404(client, job_id):
    response = client.get(f"/api/v1/jobs/{job_id}")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert job_id in response.json["detail"]


def queue_job(client) -> str:
    response = client.post("/api/v1/forecast", json={"product_id": 1, "forecast_horizon": 7})
    assert response.status_code == 202
    return response.json["job_id"]


@pytest.mark.parametrize("wait, needle", [("soon", "must be an integer"), ("-1", "between 0 and 30"),
                                          ("31", "between 0 and 30")])
def test_a_bad_wait_is_422_naming_it(client, wait, needle):
    job_id = queue_job(client)
    response = client.get(f"/api/v1/jobs/{job_id}?wait={wait}")
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert "'wait'" in response.json["detail"] and needle in response.json["detail"]


def test_waiting_on_a_job_that_does_not_end_returns_it_as_it_is(client):
    job_id = queue_job(client)
    response = client.get(f"/api/v1/jobs/{job_id}?wait=1")
    assert response.status_code == 200 and response.json["status"] == "queued"
    assert client.get(f"/api/v1/jobs/{uuid.uuid4()}?wait=1").status_code == 404


def test_a_waiting_request_returns_the_job_its_worker_ended(app, client):
    import threading

    from workers.jobrun import end_job

    svc = app.extensions["forecasting"]
    job_id = queue_job(client)
    # A worker ends the job while the request waits (the wake-up itself: tests/workers/test_job_events.py).
    timer = threading.Timer(0.3, end_job, args=(svc.engine, svc.redis, job_id),
                            kwargs={"status": "succeeded", "result": {"ok": True}})
    timer.start()
    response = client.get(f"/api/v1/jobs/{job_id}?wait=30")
    timer.join()
    assert response.json["status"] == "succeeded" and response.json["result"] == {"ok": True}


def test_a_failed_job_shows_its_code_and_message_apart(app, client):
    from jobs import records

    engine = app.extensions["forecasting"].engine
    job = records.create_job(engine, kind="train", product_id=2, params={})
    records.fail_job(engine, job_id=job["id"], error=records.coded_error(
        "insufficient_history", "Product 2 has 30 days of sales history; at least 100 are needed."))
    shown = client.get(f"/api/v1/jobs/{job['id']}").json
    assert shown["error_code"] == "insufficient_history"
    assert shown["error"] == "Product 2 has 30 days of sales history; at least 100 are needed."
