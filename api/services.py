"""What the views use: settings, database, model store, Celery, Redis."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from celery import Celery
from flask import current_app
from sqlalchemy.engine import Engine

# The api_keys table joins the metadata before init_db creates what is missing.
import api.keys  # noqa: F401
from config.settings import Settings
from forecasting.data.database import init_db, make_engine
from forecasting.store.model_store import ModelStore
from jobs import events as job_events
from jobs.celery_app import create_celery


@dataclass(frozen=True)
class Services:
    """The API's connections, built once per app."""

    settings: Settings
    engine: Engine
    store: ModelStore
    celery: Celery
    redis: redis.Redis
    job_ends: job_events.Listener

    @classmethod
    def create(cls, settings: Settings) -> "Services":
        """Connect everything the API needs and make sure the tables exist."""
        engine = make_engine(settings.database_url)
        init_db(engine)
        client = redis.Redis.from_url(settings.lock_url, socket_connect_timeout=2, socket_timeout=5)
        return cls(
            settings=settings,
            engine=engine,
            store=ModelStore(settings.forecasting_models_path),
            celery=create_celery(settings),
            redis=client,
            job_ends=job_events.Listener(client),
        )


def services() -> Services:
    """Return the current app's services."""
    return current_app.extensions["forecasting"]
