"""Per-process resources of a worker child: engine, model store, cache, Redis."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache

import redis
from celery import current_app
from celery.signals import celeryd_after_setup, worker_process_init
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from threadpoolctl import threadpool_limits

from config.settings import Settings, make_model_store
from forecasting.data import migrations
from forecasting.data.database import make_engine
from forecasting.errors import SchemaNotCurrent
from forecasting.lifecycle.steps import Policy
from forecasting.models.model_set import import_model_libraries
from forecasting.store.caches import ForecastMemo, LoadedCache
from forecasting.store.contract import ModelSets
from forecasting.store.s3_store import StoreUnavailable
from workers.jobrun import Lease

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Runtime:
    """What a task needs, built once per worker child (after the fork)."""

    settings: Settings
    engine: Engine
    store: ModelSets
    cache: LoadedCache
    forecasts: ForecastMemo
    redis: redis.Redis
    policy: Policy
    lease: Lease

    @classmethod
    def create(cls, settings: Settings) -> "Runtime":
        """Connect everything a task needs from `settings`."""
        return cls(
            settings=settings,
            engine=make_engine(settings.database_url),
            store=make_model_store(settings),
            cache=LoadedCache(settings.model_cache_size),
            forecasts=ForecastMemo(settings.forecast_memo_size),
            redis=redis.Redis.from_url(settings.lock_url),
            policy=Policy.from_settings(settings),
            lease=Lease(max_attempts=settings.task_max_redeliveries + 1, min_step=settings.progress_min_step,
                        heartbeat_seconds=settings.job_heartbeat_seconds,
                        stale_after=settings.job_heartbeat_timeout_seconds,
                        end_retry_seconds=settings.job_end_retry_seconds),
        )


@cache
def runtime() -> Runtime:
    """Return this process's runtime, creating it on first use."""
    return Runtime.create(current_app.conf.forecasting_settings)


@celeryd_after_setup.connect
def _prepare_worker(**kwargs: object) -> None:
    # In the parent, once logging is set up (so their import chatter is filtered) and before
    # the pool forks: every child then starts with Prophet, scikit-learn and h5py already
    # imported (shared pages) instead of importing them on its first task. None of them
    # starts threads at import, so they are safe to fork with.
    import_model_libraries()
    settings = current_app.conf.forecasting_settings
    try:
        make_model_store(settings)  # an S3 bucket that does not exist stops the worker here, named
    except StoreUnavailable as exc:
        log.error("worker refuses to start: %s", exc)
        raise SystemExit(f"worker refuses to start: {exc}") from exc
    # Once per worker, not per child: a worker must not run this release's code on a schema
    # it was not written for. A database that is down now may be up by the first task, so
    # that only warns. The engine is disposed, so no connection crosses the fork.
    engine = make_engine(current_app.conf.forecasting_settings.database_url)
    try:
        migrations.require_current(engine)
    except DBAPIError as exc:
        log.warning("database unreachable at worker start; its schema revision is not checked",
                    extra={"fields": {"error": str(exc)}})
    except SchemaNotCurrent as exc:
        log.error("worker refuses to start: %s", exc)
        # Celery logs and swallows a handler's Exception; SystemExit stops the worker.
        raise SystemExit(f"worker refuses to start: {exc}") from exc
    finally:
        engine.dispose()


@worker_process_init.connect
def _init_child(**kwargs: object) -> None:
    # Connections must not be shared across the fork.
    runtime.cache_clear()
    # One pool of threads per child: children share the machine's cores, and BLAS/OpenMP
    # pools sized to every core would make concurrent children slow each other down.
    threadpool_limits(limits=current_app.conf.forecasting_settings.worker_threads)
