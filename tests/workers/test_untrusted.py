"""Through the API and a real worker: an untrusted set is shown as such, never unpickled, and retrained."""

import pytest

from api import create_app
from config.settings import load_settings
from forecasting.data.products import create_product
from forecasting.data.sales import load_history, upsert_sales
from forecasting.lifecycle import steps
from forecasting.store.model_store import ModelStore
from forecasting.store.signature import Signer
from tests.api.conftest import history
from tests.forecasting.store.test_untrusted_sets import plant
from tests.workers.celery_process import celery_worker
from tests.workers.conftest import Stack, make_stack

KEY = "signing key of the worker tests, 32+ characters long"


@pytest.fixture
def signed_stack(tmp_path, redis_url):
    env = make_stack(tmp_path, f"sqlite:///{tmp_path / 'sales.db'}", redis_url, MODEL_SIGNING_KEYS=KEY)
    app = create_app(env)
    engine = app.extensions["forecasting"].engine
    create_product(engine, name="long", product_id=1)
    upsert_sales(engine, product_id=1, rows=history(400))
    with celery_worker(env, log=tmp_path / "worker.log") as worker:
        yield Stack(app=app, client=app.test_client(), models=tmp_path / "models", env=env, worker=worker)


@pytest.mark.parametrize("how", ["planted pickle", "copied from another environment"])
def test_an_untrusted_set_is_retrained_by_the_next_forecast(signed_stack, tmp_path, how):
    stack, svc = signed_stack, signed_stack.app.extensions["forecasting"]
    settings = load_settings(overrides=stack.env)
    policy = steps.Policy.from_settings(settings)
    assert policy.saved_forecast_days == 90
    store = svc.store if how == "planted pickle" else ModelStore(stack.models, signer=Signer(["another environment"]))
    steps.train(engine=svc.engine, store=store, history=load_history(svc.engine, product_id=1), policy=policy,
                reason="test")
    marker = tmp_path / "marker"
    if how == "planted pickle":
        plant(stack.models / "1", marker, "prophet_model.pkl")

    shown = stack.client.get("/api/v1/models/1").json
    assert shown["trusted"] is False and "Model set of product 1 is untrusted" in shown["untrusted_reason"]
    assert "files" in shown  # shown as found, for whoever investigates
    assert stack.client.get("/api/v1/models").json["models"][0]["status"] == "untrusted"

    job = stack.forecast(1, horizon=120)  # beyond the saved 90 days: the worker loads the models
    assert job["status"] == "succeeded", job["error"]
    assert job["result"]["model"]["reason"] == "untrusted" and job["result"]["model"]["trained_now"] is True
    assert len(job["result"]["points"]) == 120
    assert not marker.exists(), "the planted pickle ran"

    shown = stack.client.get("/api/v1/models/1").json
    assert shown["trusted"] is True and shown["untrusted_reason"] is None
    runs = stack.client.get("/api/v1/models/1/history").json["runs"]
    assert [r["reason"] for r in runs] == ["untrusted", "test"]
    # The next long forecast uses the new set as it is.
    again = stack.forecast(1, horizon=120)
    assert again["result"]["model"]["trained_now"] is False and not marker.exists()
