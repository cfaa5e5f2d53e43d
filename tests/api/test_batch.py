import pytest

URL = "/api/v1/models/retrain"


@pytest.mark.parametrize(
    ("body", "selection"),
    [({"product_ids": [1, 2]}, "ids"), ({"all": True}, "all"), ({"only_stale": True}, "stale")],
)
def test_batch_is_one_job_queued_for_dispatch(client, queued, body, selection):
    response = client.post(URL, json=body)
    assert response.status_code == 202
    job = client.get(response.headers["Location"]).json
    assert job["kind"] == "batch" and job["params"]["selection"] == selection
    assert job["params"]["force"] is (selection != "stale")
    assert job["counts"]["total"] == 0 and job["failures"] == []
    # The batch queues its trainings itself, on a queue of its own: no forecast waits behind it.
    assert queued("batch") == 1 and queued("forecast") == 0 and queued("training") == 0


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({}, 422, "exactly one of"),
        ({"all": True, "product_ids": [1]}, 422, "exactly one of"),
        ({"all": False}, 422, "'all' must be true"),
        ({"product_ids": []}, 422, "non-empty array"),
        ({"product_ids": [1, "2"]}, 422, "must be an integer"),
        ({"product_ids": [1, 1]}, 422, "more than once"),
        ({"product_ids": [1, 998, 999]}, 404, "2 product(s) do not exist: 998, 999"),
        ({"all": True, "force": "yes"}, 422, "'force' must be true or false"),
    ],
)
def test_bad_batch_requests(client, queued, body, status, needle):
    response = client.post(URL, json=body)
    assert response.status_code == status
    assert needle in response.json["detail"]
    assert queued("forecast") == 0


def test_history_of_a_product_without_runs(client):
    assert client.get("/api/v1/models/1/history").json == {"product_id": 1, "count": 0, "runs": []}
    assert client.get("/api/v1/models/999/history").status_code == 404
