"""`make run` with RabbitMQ as broker still starts its own Redis for locks and job-end events."""

from __future__ import annotations

import pytest
import redis

import launcher
from tests.test_launcher import launched, tiny_procfile, wait_for

AMQP = "amqp://guest:guest@127.0.0.1:5672//"


@pytest.mark.integration
def test_run_with_rabbitmq_starts_a_redis_for_locks(tmp_path):
    with launched(tmp_path, tiny_procfile(tmp_path), celery_broker_url=AMQP,
                  embedded_redis_port=launcher.free_port(6393), api_port=8126) as proc:
        _, url, _ = wait_for(tmp_path / "probe.out", proc).split()
        assert url.startswith("redis://127.0.0.1:") and redis.Redis.from_url(url).ping()
        assert (tmp_path / "var" / "redis.url").read_text() == url
    assert not (tmp_path / "var" / "redis.url").exists()
