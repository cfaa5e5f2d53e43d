"""Which Redis holds locks and events, and the broker's options, with Redis or RabbitMQ as broker."""

from __future__ import annotations

import pytest

from config import settings as settings_module
from config.settings import Settings, load_settings
from jobs.celery_app import broker_transport_options, create_celery

AMQP = "amqp://guest:guest@127.0.0.1:5672//"


def test_a_redis_broker_also_holds_the_locks_when_redis_url_is_unset():
    settings = Settings(celery_broker_url="redis://127.0.0.1:6379/3")
    assert settings.lock_url == settings.broker_url == "redis://127.0.0.1:6379/3"
    assert broker_transport_options(settings) == {"visibility_timeout": settings.task_time_limit + 600}


def test_rabbitmq_as_broker_keeps_redis_for_locks():
    settings = Settings(celery_broker_url=AMQP, redis_url="redis://127.0.0.1:6379/4")
    assert settings.broker_url == AMQP and settings.lock_url == "redis://127.0.0.1:6379/4"
    app = create_celery(settings)
    # visibility_timeout means nothing to RabbitMQ; publisher confirms do.
    assert app.conf.broker_transport_options == {"confirm_publish": True}


def test_rabbitmq_without_a_redis_is_refused_by_name():
    with pytest.raises(RuntimeError, match="Set REDIS_URL: locks and job-end events need Redis"):
        _ = Settings(celery_broker_url=AMQP).lock_url


def test_commands_find_the_redis_make_run_started_beside_rabbitmq(tmp_path, monkeypatch):
    recorded = tmp_path / "redis.url"
    recorded.write_text("redis://127.0.0.1:6390/0\n")
    monkeypatch.setattr(settings_module, "EMBEDDED_REDIS_FILE", recorded)
    env = {"MODEL_SIGNING_KEY_FILE": str(tmp_path / "key")}
    assert load_settings(environ={**env, "CELERY_BROKER_URL": AMQP}, dotenv=None).lock_url == \
        "redis://127.0.0.1:6390/0"
    assert load_settings(environ={**env, "CELERY_BROKER_URL": "redis://127.0.0.1:6379/5"},
                         dotenv=None).redis_url is None
