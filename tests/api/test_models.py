from datetime import timedelta

import pytest

from forecasting.data.sales import load_history
from forecasting.errors import ModelIntegrityError
from forecasting.lifecycle import saved_forecasts, steps
from tests.conftest import SMALL_MODELS


@pytest.fixture
def trained(app):
    """Train product 1 for real, with small model settings."""
    svc = app.extensions["forecasting"]
    from config.settings import load_settings

    params = load_settings(overrides=SMALL_MODELS).model_params
    policy = steps.Policy(params=params, min_samples=100, max_age=timedelta(days=7), saved_forecast_days=7)
    history = load_history(svc.engine, product_id=1)
    return steps.train(engine=svc.engine, store=svc.store, history=history, policy=policy, reason="test")


def test_no_models_yet(client):
    assert client.get("/api/v1/models").json == {"total": 0, "count": 0, "limit": 100, "offset": 0, "models": [],
                                                 "links": {}}
    for method in (client.get, client.delete):
        response = method("/api/v1/models/1")
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"
        assert "No trained models are stored for product 1" in response.json["detail"]


@pytest.mark.slow
def test_list_inspect_delete(app, client, trained):
    listing = client.get("/api/v1/models").json
    assert listing["count"] == 1 and listing["models"][0]["product_id"] == 1
    info = client.get("/api/v1/models/1").json
    assert info["trained_at"] == trained["trained_at"]
    assert set(info["files"]) == {"prophet_model.pkl", "lstm_model.h5", "rf_model.pkl", "scaler.pkl"}
    assert info["data"]["fingerprint"] == trained["data"]["fingerprint"]
    assert info["trusted"] is True and info["untrusted_reason"] is None
    assert info["signature"] == trained["signature"]
    engine = app.extensions["forecasting"].engine
    assert len(saved_forecasts.load(engine, product_id=1, set_id=trained["set_id"])) == 7
    assert client.delete("/api/v1/models/1").status_code == 204
    assert client.get("/api/v1/models/1").status_code == 404
    assert saved_forecasts.load(engine, product_id=1, set_id=trained["set_id"]) is None


@pytest.mark.parametrize("path", ["/api/v1/models/abc", "/api/v1/models/-1", "/api/v1/models/0"])
def test_bad_product_id_in_path(client, path):
    response = client.get(path)
    assert response.status_code == 422
    assert "must be a positive integer" in response.json["detail"]


def test_retrain_queues_one_training_job(client, queued):
    first = client.post("/api/v1/models/1/retrain")
    assert first.status_code == 202 and first.json["created"] is True
    again = client.post("/api/v1/models/1/retrain", json={"force": True})
    assert again.status_code == 202
    assert again.json["job_id"] == first.json["job_id"] and again.json["created"] is False
    assert queued("training") == 1 and queued("forecast") == 0
    job = client.get(first.headers["Location"]).json
    assert job["kind"] == "train" and job["params"]["force"] is True


@pytest.mark.parametrize(
    ("path", "data", "status", "needle"),
    [
        ("/api/v1/models/999/retrain", None, 404, "Product 999 does not exist"),
        ("/api/v1/models/1/retrain", '{"force": "yes"}', 422, "'force' must be true or false"),
        ("/api/v1/models/1/retrain", '{"forse": true}', 422, "Unknown field(s): forse"),
        ("/api/v1/models/1/retrain", "[]", 400, "must be a JSON object"),
    ],
)
def test_retrain_bad_input(client, queued, path, data, status, needle):
    response = client.post(path, data=data, content_type="application/json")
    assert response.status_code == status
    assert needle in response.json["detail"]
    assert queued("training") == 0


@pytest.mark.parametrize("error", [ModelIntegrityError("/srv/models/1/rf_model.pkl does not match"),
                                   OSError("[Errno 5] /srv/models/1: input/output error")])
def test_an_internal_error_is_a_500_that_names_no_path(app, client, monkeypatch, error):
    def broken(product_id):
        raise error

    monkeypatch.setattr(app.extensions["forecasting"].store, "inspect", broken)
    response = client.get("/api/v1/models/1")
    assert response.status_code == 500 and response.mimetype == "application/problem+json"
    assert "/srv" not in response.get_data(as_text=True)
