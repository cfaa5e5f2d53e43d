"""Train, reuse and forecast one product's model set: the steps a worker runs."""

from __future__ import annotations

import logging
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pandas as pd
from sqlalchemy.engine import Engine

from forecasting import training_runs
from forecasting.errors import ModelIntegrityError, ModelSetNotFound
from forecasting.model_cache import ForecastMemo, LoadedCache
from forecasting.params import ModelParams
from forecasting.sales import SalesHistory, all_fingerprints, load_history
from forecasting.staleness import library_versions, stale_reason
from forecasting.store import ModelStore

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
    *,
    engine: Engine,
    store: ModelStore,
    history: SalesHistory,
    policy: Policy,
    reason: str,
    job_id: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Train the three models on `history`, save them atomically, record the run; return model_info."""
    from forecasting.training import train_model_set

    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    run_id = training_runs.start_run(engine, product_id=history.product_id, job_id=job_id, reason=reason,
                                     fingerprint=history.fingerprint)
    try:
        model_set = train_model_set(
            history.series,
            params=policy.params,
            min_samples=policy.min_samples,
            product_id=history.product_id,
            progress=progress,
        )
        if progress:
            progress("saving", 97)
        info = store.save(history.product_id, model_set, {
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
        })
    except BaseException as exc:
        training_runs.finish_run(engine, run_id=run_id, status="failed", seconds=time.perf_counter() - clock,
                                 error=str(exc) or type(exc).__name__)
        raise
    training_runs.finish_run(engine, run_id=run_id, status="succeeded", seconds=time.perf_counter() - clock,
                             metrics=info.get("metrics"))
    return info


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


def stale_products(
    *, engine: Engine, store: ModelStore, policy: Policy, product_ids: list[int] | None = None,
    now: datetime | None = None,
) -> tuple[list[tuple[int, str]], dict[str, int]]:
    """Find products whose model set is missing or stale, in one pass over the sales.

    Returns
    -------
    stale : list of (product_id, reason)
        Products with at least ``policy.min_samples`` days of history that need training.
    counts : dict
        ``products``, ``too_short``, ``fresh`` and ``stale`` counts.
    """
    now, versions = now or datetime.now(timezone.utc), library_versions()
    stale: list[tuple[int, str]] = []
    counts = {"products": 0, "too_short": 0, "fresh": 0, "stale": 0}
    for product_id, summary in all_fingerprints(engine, product_ids=product_ids).items():
        counts["products"] += 1
        days = (summary.end - summary.start).days + 1 if summary.start and summary.end else 0
        if days < policy.min_samples:
            counts["too_short"] += 1
            continue
        try:
            reason = stale_reason(store.read_info(product_id), fingerprint=summary.fingerprint, versions=versions,
                                  now=now, max_age=policy.max_age)
        except ModelIntegrityError:
            reason = "corrupt"
        if reason is None:
            counts["fresh"] += 1
        else:
            counts["stale"] += 1
            stale.append((product_id, reason))
    return stale, counts


def prepare(
    *,
    engine: Engine,
    store: ModelStore,
    cache: LoadedCache,
    product_id: int,
    policy: Policy,
    lock: LockFactory | None = None,
    job_id: str | None = None,
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
                train(engine=engine, store=store, history=history, policy=policy, reason=reason,
                      job_id=job_id, progress=progress)
                trained = True
    try:
        model_set, info = cache.load(store, product_id, ModelSet.load)
    except (ModelIntegrityError, ModelSetNotFound):
        # Removed or damaged between the check and the load: one fresh training settles it.
        with (lock or _no_lock)(product_id):
            train(engine=engine, store=store, history=history, policy=policy, reason="corrupt", job_id=job_id,
                  progress=progress)
        model_set, info = cache.load(store, product_id, ModelSet.load)
        trained, reason = True, "corrupt"
    return Prepared(model_set=model_set, info=info, history=history, trained=trained, reason=reason)


def forecast_points(prepared: Prepared, horizon: int, memo: ForecastMemo | None = None) -> list[dict[str, Any]]:
    """Forecast `horizon` days after the history and return one JSON-able dict per day.

    With a `memo`, a forecast this process already made from the same model set
    (``set_id``), on the same data (fingerprint), for the same horizon is returned
    again instead of computed: the models are deterministic, so it is the same answer.
    """
    key = (prepared.history.product_id, prepared.info.get("set_id"), prepared.history.fingerprint, horizon)
    if memo is not None and key[1] is not None:
        return memo.get_or_compute(key, lambda: _points(prepared, horizon))
    return _points(prepared, horizon)


def _points(prepared: Prepared, horizon: int) -> list[dict[str, Any]]:
    from forecasting.training import forecast

    frame: pd.DataFrame = forecast(prepared.model_set, prepared.history.series, horizon)
    dates = [day.date().isoformat() for day in frame.index]
    columns = {name: [round(value, 4) for value in frame[name].to_numpy(dtype=float).tolist()] for name in frame}
    return [{"date": date, **{name: values[i] for name, values in columns.items()}} for i, date in enumerate(dates)]


def _no_lock(product_id: int) -> AbstractContextManager[None]:
    return nullcontext()
