"""The production model configuration, trained for real through a real worker."""

from datetime import date

import pytest

from api import create_app
from config.settings import load_settings
from forecasting.data.demo import seed_demo
from tests.workers.celery_process import celery_worker
from tests.workers.conftest import Stack, make_stack

ARTIFACTS = {"prophet_model.pkl", "lstm_model.h5", "rf_model.pkl", "scaler.pkl", "model_info.json"}


@pytest.mark.slow
def test_production_models_train_and_forecast(tmp_path, redis_url):
    env = make_stack(tmp_path, f"sqlite:///{tmp_path / 'sales.db'}", redis_url, small=False)
    app = create_app(env)
    seed_demo(app.extensions["forecasting"].engine, products=1, days=3 * 365, end=date(2024, 6, 30), seed=7)
    with celery_worker(env, log=tmp_path / "worker.log") as worker:
        stack = Stack(app=app, client=app.test_client(), models=tmp_path / "models", env=env, worker=worker)
        job = stack.forecast(1, 90)
    assert job["status"] == "succeeded", job["error"]
    points = job["result"]["points"]
    assert len(points) == 90 and points[0]["date"] == "2024-07-01"
    assert {p.name for p in (tmp_path / "models" / "1").iterdir()} == ARTIFACTS

    info = stack.client.get("/api/v1/models/1").json
    production = load_settings(dotenv=None, environ={}).model_params
    assert info["params"]["lstm_units"] == [128, 64, 32, 16]
    assert info["params"]["rf_trees"] == 100
    assert info["params"] == {k: list(v) if isinstance(v, tuple) else v for k, v in production.to_dict().items()}
    assert set(info["metrics"]) == {"prophet", "lstm", "random_forest", "ensemble"}
    assert abs(sum(info["weights"].values()) - 1) < 1e-9
    assert set(info["training_seconds"]) >= {"prophet", "lstm", "random_forest", "total"}
