"""What the views use: settings, database, model store, Celery, Redis."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from celery import Celery
from flask import current_app
from sqlalchemy.engine import Engine

from config.settings import Settings, make_model_store
from forecasting.data import migrations
from forecasting.data.database import make_engine
from forecasting.errors import SchemaNotCurrent
from forecasting.store.contract import ModelSets
from jobs import events as job_events
from jobs.celery_app import create_celery


@dataclass(frozen=True)
class Services:
    """The API's connections, built once per app."""

    settings: Settings
    engine: Engine
    # The same database for reads of one statement outside a transaction (a saved forecast's
    # freshness): on PostgreSQL one round trip where a transaction takes three (BEGIN, SELECT,
    # ROLLBACK). SQLite begins no transaction to read, so there it is `engine` itself.
    reader: Engine
    store: ModelSets
    celery: Celery
    redis: redis.Redis
    job_ends: job_events.Listener

    @classmethod
    def create(cls, settings: Settings) -> "Services":
        """Connect everything the API needs; refuse a database whose schema is not this release's."""
        ping = settings.api_database_ping_after_idle_seconds
        engine = make_engine(settings.database_url, ping_after_idle_seconds=ping)
        try:
            migrations.require_current(engine)
        except SchemaNotCurrent:
            engine.dispose()
            raise
        reader = engine if engine.dialect.name == "sqlite" else \
            make_engine(settings.database_url, ping_after_idle_seconds=ping, isolation_level="AUTOCOMMIT")
        client = redis.Redis.from_url(settings.lock_url, socket_connect_timeout=2, socket_timeout=5)
        return cls(
            settings=settings,
            engine=engine,
            reader=reader,
            store=make_model_store(settings),
            celery=create_celery(settings),
            redis=client,
            job_ends=job_events.Listener(client),
        )


def services() -> Services:
    """Return the current app's services."""
    return current_app.extensions["forecasting"]
