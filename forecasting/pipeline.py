"""Train, reuse and forecast one product's model set: the steps a worker runs."""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pandas as pd
from sqlalchemy.engine import Engine

from forecasting.errors import ModelIntegrityError, ModelSetNotFound
from forecasting.params import ModelParams
from forecasting.sales import SalesHistory, load_history
from forecasting.staleness import library_versions, stale_reason
from forecasting.store import LoadedCache, ModelStore

log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]
LockFactory = Callable[[int], AbstractContextManager[Any]]


@dataclass(frozen=True)
class Policy:
    """When a model set counts as stale, and how to train a new one.

    Parameters
    ----------
    params : ModelParams
        Hyper-parameters of the model set.
    min_samples : int
        Fewest days of history a product needs to be trained.
    max_age : timedelta
        Age after which a model set is retrained.
    """

    params: ModelParams
    min_samples: int
    max_age: timedelta


@dataclass(frozen=True)
class Prepared:
    """A usable model set with the history it was checked against."""

    model_set: Any
    info: dict[str, Any]
    history: SalesHistory
    trained: bool
    reason: str | None


def train(
    *, store: ModelStore, history: SalesHistory, policy: Policy, reason: str, progress: Progress | None = None
) -> dict[str, Any]:
    """Train the three models on `history`, save them atomically and return model_info."""
    from forecasting.training import train_model_set

    started = datetime.now(timezone.utc)
    model_set = train_model_set(
        history.series,
        params=policy.params,
        min_samples=policy.min_samples,
        product_id=history.product_id,
        progress=progress,
    )
    if progress:
        progress("saving", 97)
    info = {
        "trained_at": started.isoformat(),
        "reason": reason,
        "data": {
            "fingerprint": history.fingerprint,
            "rows": history.rows,
            "days": int(len(history.series)),
            "start": history.start.isoformat() if history.start else None,
            "end": history.end.isoformat() if history.end else None,
        },
        "versions": library_versions(),
    }
    return store.save(history.product_id, model_set, info)


def check(*, store: ModelStore, history: SalesHistory, policy: Policy, now: datetime | None = None) -> str | None:
    """Return why the stored set of `history`'s product must be retrained, or None."""
    try:
        info = store.read_info(history.product_id)
    except ModelIntegrityError:
        return "corrupt"
    return stale_reason(
        info,
        fingerprint=history.fingerprint,
        versions=library_versions(),
        now=now or datetime.now(timezone.utc),
        max_age=policy.max_age,
    )


def prepare(
    *,
    engine: Engine,
    store: ModelStore,
    cache: LoadedCache,
    product_id: int,
    policy: Policy,
    lock: LockFactory | None = None,
    progress: Progress | None = None,
) -> Prepared:
    """Return the product's model set, training it first when missing or stale."""
    from forecasting.training import ModelSet

    history = load_history(engine, product_id=product_id)
    trained, reason = False, check(store=store, history=history, policy=policy)
    if reason:
        with (lock or _no_lock)(product_id):
            # Another worker may have trained this product while we waited for the lock.
            reason = check(store=store, history=history, policy=policy)
            if reason:
                log.info("training product", extra={"fields": {"product_id": product_id, "reason": reason}})
                train(store=store, history=history, policy=policy, reason=reason, progress=progress)
                trained = True
    try:
        model_set, info = cache.load(store, product_id, ModelSet.load)
    except (ModelIntegrityError, ModelSetNotFound):
        # Removed or damaged between the check and the load: one fresh training settles it.
        with (lock or _no_lock)(product_id):
            train(store=store, history=history, policy=policy, reason="corrupt", progress=progress)
        model_set, info = cache.load(store, product_id, ModelSet.load)
        trained, reason = True, "corrupt"
    return Prepared(model_set=model_set, info=info, history=history, trained=trained, reason=reason)


def forecast_points(prepared: Prepared, horizon: int) -> list[dict[str, Any]]:
    """Forecast `horizon` days after the history and return one JSON-able dict per day."""
    from forecasting.training import forecast

    frame: pd.DataFrame = forecast(prepared.model_set, prepared.history.series, horizon)
    points = []
    for day, row in frame.iterrows():
        point = {"date": day.date().isoformat()}
        point.update({name: round(float(value), 4) for name, value in row.items()})
        points.append(point)
    return points


def _no_lock(product_id: int) -> AbstractContextManager[None]:
    return nullcontext()
