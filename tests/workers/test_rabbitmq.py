"""RabbitMQ as broker, Redis kept for locks and job-end events: a real worker, end to end."""

from __future__ import annotations

from kombu import Connection

from api import create_app
from forecasting.data.products import create_product
from forecasting.data.sales import upsert_sales
from tests import services
from tests.api.conftest import history
from tests.workers.celery_process import celery_worker
from tests.workers.conftest import Stack, make_stack


def test_a_forecast_runs_on_a_worker_fed_by_rabbitmq(tmp_path, redis_url, amqp_url):
    env = make_stack(tmp_path, services.migrated(f"sqlite:///{tmp_path / 'sales.db'}"), redis_url,
                     CELERY_BROKER_URL=amqp_url)
    app = create_app(env)
    svc = app.extensions["forecasting"]
    assert svc.celery.conf.broker_url.startswith("amqp://") and svc.settings.lock_url == redis_url
    assert svc.celery.conf.broker_transport_options == {"confirm_publish": True}
    create_product(svc.engine, name="long", product_id=1)
    upsert_sales(svc.engine, product_id=1, rows=history(400))

    # Queued while no worker runs: the message waits on RabbitMQ, not in Redis (on the queue of
    # forecasts that must train first: the product has no set yet).
    queued = app.test_client().post("/api/v1/forecast", json={"product_id": 1, "forecast_horizon": 14})
    assert queued.status_code == 202, queued.json
    with Connection(amqp_url) as conn:
        assert conn.default_channel.queue_declare("forecast-training", passive=True).message_count == 1
    assert not any(key.startswith(b"_kombu") for key in svc.redis.keys("*"))

    with celery_worker(env, log=tmp_path / "worker.log") as worker:
        stack = Stack(app=app, client=app.test_client(), models=tmp_path / "models", env=env, worker=worker)
        first = stack.poll(queued.headers["Location"])
        assert first["status"] == "succeeded", first["error"]
        assert len(first["result"]["points"]) == 14 and first["result"]["model"]["trained_now"] is True
        # The job-end event travels through Redis: a waiting request is answered as the job ends.
        waited = stack.client.post("/api/v1/forecast", json={"product_id": 1, "forecast_horizon": 7},
                                   headers={"Prefer": "wait=30"})
        assert waited.status_code == 200 and waited.json["status"] == "succeeded"
        assert waited.json["result"]["points"] == first["result"]["points"][:7]
        health = stack.client.get("/api/v1/health").json
        assert health["checks"]["broker"]["ok"] and health["checks"]["workers"]["ok"], health
    assert (tmp_path / "models" / "1" / "model_info.json").exists()
