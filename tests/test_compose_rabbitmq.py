"""docker-compose.rabbitmq.yml: every process that talks to Celery gets RabbitMQ, with a long enough consumer timeout."""

from __future__ import annotations

import re

import yaml

from config.settings import ROOT, Settings

CELERY_SERVICES = {"api", "worker", "forecast-worker", "forecast-training-worker", "beat", "flower"}


def test_every_celery_process_uses_rabbitmq_once_it_is_healthy():
    override = yaml.safe_load((ROOT / "docker-compose.rabbitmq.yml").read_text())
    main = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = override["services"]
    assert set(services) == CELERY_SERVICES | {"rabbitmq"} and set(services) - {"rabbitmq"} <= set(main["services"])
    for name in CELERY_SERVICES:
        assert services[name]["environment"]["CELERY_BROKER_URL"].startswith("amqp://forecast:"), name
        assert services[name]["depends_on"]["rabbitmq"]["condition"] == "service_healthy", name
    # Locks and job-end events stay on the main file's Redis.
    assert "REDIS_URL" in main["x-app"]["environment"]


def test_rabbitmqs_consumer_timeout_outlasts_the_longest_task():
    args = yaml.safe_load((ROOT / "docker-compose.rabbitmq.yml").read_text())["services"]["rabbitmq"]["environment"]
    timeout_ms = int(re.search(r"consumer_timeout (\d+)", args["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"]).group(1))
    assert timeout_ms > Settings().task_time_limit * 1000
