"""A worker whose only state shared with the API is PostgreSQL, RabbitMQ, S3 (and Redis for locks and events)."""

from __future__ import annotations

from api import create_app
from forecasting.data.products import create_product
from forecasting.data.sales import upsert_sales
from tests import services
from tests.api.conftest import history
from tests.s3_server import ACCESS_KEY, REGION, SECRET_KEY
from tests.workers.celery_process import celery_worker
from tests.workers.conftest import Stack, make_stack

KEY = "signing key both machines are given"


def test_api_and_worker_meet_only_in_shared_services(tmp_path, postgres_url, redis_url, amqp_url, s3):
    shared = dict(CELERY_BROKER_URL=amqp_url, MODEL_SIGNING_KEYS=KEY,
                  MODEL_STORE_URL=f"s3://{s3.bucket}/{s3.new_prefix()}",
                  S3_ENDPOINT_URL=s3.endpoint_url, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                  AWS_DEFAULT_REGION=REGION)
    api_env = make_stack(tmp_path / "api", services.emptied(postgres_url), redis_url, **shared,
                         MODEL_STORE_CACHE_DIR=tmp_path / "api" / "cache")
    worker_env = {**api_env, "FORECASTING_MODELS_PATH": str(tmp_path / "worker" / "models"),
                  "MODEL_STORE_CACHE_DIR": str(tmp_path / "worker" / "cache")}
    app = create_app(api_env)
    svc = app.extensions["forecasting"]
    create_product(svc.engine, name="long", product_id=1)
    upsert_sales(svc.engine, product_id=1, rows=history(400))

    with celery_worker(worker_env, log=tmp_path / "worker.log") as worker:
        stack = Stack(app=app, client=app.test_client(), models=tmp_path / "api" / "models", env=api_env,
                      worker=worker)
        first = stack.forecast(1, 14)
        assert first["status"] == "succeeded", first["error"]
        assert first["result"]["model"]["trained_now"] is True
        # The API sees the set the worker saved, through S3 alone.
        info = svc.store.read_info(1)
        assert info is not None and stack.client.get("/api/v1/models/1").json["set_id"] == info["set_id"]
        assert [e["status"] for e in stack.client.get("/api/v1/models").json["models"]] == ["ok"]
        again = stack.forecast(1, 14)
        assert again["result"]["model"]["trained_now"] is False
        assert again["result"]["points"] == first["result"]["points"]
        assert stack.client.get("/api/v1/health").json["status"] == "ok"

        assert stack.client.delete("/api/v1/models/1").status_code == 204
        assert svc.store.read_info(1) is None
        assert stack.forecast(1, 7)["result"]["model"]["trained_now"] is True
    # No model folder on either machine; the worker kept verified copies in its cache only.
    assert not (tmp_path / "api" / "models").exists() and not (tmp_path / "worker" / "models").exists()
    assert info["set_id"] in {p.name for p in (tmp_path / "worker" / "cache").iterdir()}
