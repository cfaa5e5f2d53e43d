"""Settings: ENV decides whether API keys are required; unsafe production settings are named."""

from __future__ import annotations

import pytest

from config.settings import insecure_settings, load_settings

#: Production refuses to start without a signing key; these tests are about the other settings.
SIGNING_KEY = {"MODEL_SIGNING_KEYS": "k" * 64}


def settings(**env: str):
    return load_settings(environ={**SIGNING_KEY, **env}, dotenv=None)


@pytest.mark.parametrize(
    ("env", "required"),
    [({}, False), ({"ENV": "production"}, True), ({"ENV": "production", "AUTH_REQUIRED": "false"}, False),
     ({"AUTH_REQUIRED": "true"}, True)],
)
def test_keys_are_required_by_default_in_production_only(env, required):
    assert settings(**env).auth_required is required


def test_an_unknown_env_is_refused():
    with pytest.raises(ValueError, match="ENV must be one of development, production"):
        settings(ENV="prod")


def test_cors_origins_are_a_comma_separated_list():
    assert settings().cors_origins == ()
    assert settings(CORS_ORIGINS="https://a.example, https://b.example,").cors_origins == (
        "https://a.example", "https://b.example")


@pytest.mark.parametrize(
    ("env", "unsafe"),
    [
        ({"ENV": "production"}, []),
        ({"ENV": "production", "AUTH_REQUIRED": "0"}, ["AUTH_REQUIRED"]),
        ({"ENV": "production", "DATABASE_URL": "postgresql+psycopg2://forecast:change-me@db/forecast"},
         ["DATABASE_URL"]),
        ({"ENV": "production", "REDIS_URL": "redis://:CHANGEME@redis:6379/0"}, ["REDIS_URL"]),
        ({"ENV": "production", "DATABASE_URL": "postgresql+psycopg2://forecast:s3cr3t-long@db/forecast",
          "CELERY_BROKER_URL": "amqp://guest:password@mq//"}, ["CELERY_BROKER_URL"]),
    ],
)
def test_insecure_settings_names_each_unsafe_setting(env, unsafe):
    assert insecure_settings(settings(**env)) == unsafe
