"""Train, reuse and forecast one product's model set: the steps a worker runs."""

from __future__ import annotations

import logging
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pandas as pd
from sqlalchemy.engine import Engine

from forecasting.data import sales_token
from forecasting.data.calendar import load_calendar_frame
from forecasting.data.recent_tokens import RecentTokens
from forecasting.data.sales import SalesHistory, load_history
from forecasting.errors import ForecastingError, ModelIntegrityError, ModelSetNotFound, UntrustedModelSet
from forecasting.lifecycle import saved_forecasts, training_runs
from forecasting.lifecycle.calendar_warnings import calendar_warnings
from forecasting.lifecycle.staleness import (
    library_versions,
    recorded_fingerprint,
    recorded_sales_token,
    sales_unchanged,
    stale_reason,
)
from forecasting.params import ModelParams
from forecasting.store.caches import ForecastMemo, LoadedCache, TrustedInfos
from forecasting.store.model_store import ModelStore

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
    saved_forecast_days : int
        Days of forecast computed and saved with each new set (0: none).
    holidays_place : tuple of (str or None, str or None)
        Country and subdivision whose public holidays a product without a country of its own gets.
    max_gap_days : int or None
        Runs of more missing days are gaps, left out of training (None: all missing days are 0).
    max_history_days : int, optional
        Latest days of history a training or forecast reads; all when None.
    """

    params: ModelParams
    min_samples: int
    max_age: timedelta
    saved_forecast_days: int = 0
    holidays_place: tuple[str | None, str | None] = (None, None)
    max_gap_days: int | None = None
    max_history_days: int | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> "Policy":
        """Return the policy the service's settings (config.settings.Settings) describe."""
        return cls(
            params=settings.model_params,
            min_samples=settings.min_training_samples,
            max_age=timedelta(days=settings.model_retrain_interval_days),
            saved_forecast_days=min(settings.saved_forecast_days, settings.max_forecast_horizon),
            holidays_place=settings.holidays_place,
            max_gap_days=settings.max_gap_days,
            max_history_days=settings.max_history_days,
        )

    def stale_reason(self, info: dict[str, Any] | None, fingerprint: str, now: datetime | None = None) -> str | None:
        """Return why the set `info` describes must be retrained for data of `fingerprint`, or None."""
        return stale_reason(info, fingerprint=fingerprint, versions=library_versions(),
                            now=now or datetime.now(timezone.utc), max_age=self.max_age)


@dataclass(frozen=True)
class Prepared:
    """A usable model set with the history it was checked against."""

    model_set: Any
    info: dict[str, Any]
    history: SalesHistory
    trained: bool
    reason: str | None


@dataclass(frozen=True)
class Forecast:
    """A product's forecast and the model set that made it."""

    points: list[dict[str, Any]]
    info: dict[str, Any]
    history_end: str | None
    trained: bool
    reason: str | None
    # 'saved' when read from a forecast kept for this set and data, 'computed' when the models ran.
    source: str = "computed"
    #: Forecast days whose calendar values were not given and took the defaults (:func:`calendar_warnings`).
    warnings: list[dict[str, Any]] = field(default_factory=list)
    #: What a request with options asked and got (levels, frequency, members and their weights); None without.
    options: dict[str, Any] | None = None


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
    from forecasting.models.model_set import train_model_set

    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    run_id = training_runs.start_run(engine, product_id=history.product_id, job_id=job_id, reason=reason,
                                     fingerprint=history.fingerprint)
    try:
        days = policy.saved_forecast_days
        calendar = product_calendar(engine, history, days, policy)
        model_set = train_model_set(
            history.series,
            calendar=calendar,
            params=policy.params,
            min_samples=policy.min_samples,
            product_id=history.product_id,
            progress=progress,
        )
        # Before the save: a set that cannot forecast never replaces the one in use.
        if progress and days:
            progress("forecasting", 94)
        points = forecast_points(model_set, history.series, days, calendar) if days else None
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
                "sales_token": history.sales_token,
            },
            "versions": library_versions(),
        })
        if points:
            saved_forecasts.save(engine, product_id=history.product_id, set_id=info["set_id"], points=points)
    except BaseException as exc:
        training_runs.finish_run(engine, run_id=run_id, status="failed", seconds=time.perf_counter() - clock,
                                 error=_run_error(exc))
        raise
    training_runs.finish_run(engine, run_id=run_id, status="succeeded", seconds=time.perf_counter() - clock,
                             metrics=info.get("metrics"))
    return info


def _run_error(exc: BaseException) -> str:
    # Training history is shown over the API: other errors may name paths, hosts or drivers,
    # and their full text is in the worker's log of the job.
    if isinstance(exc, ForecastingError) and not isinstance(exc, ModelIntegrityError):
        return str(exc)
    return f"internal error ({type(exc).__name__}); see the service logs"


def check(*, store: ModelStore, history: SalesHistory, policy: Policy, now: datetime | None = None,
          warn: bool = True) -> str | None:
    """Return why the stored set of `history`'s product must be retrained, or None.

    ``'untrusted'`` when its model_info.json is not signed by a key of `store`
    (logged as a warning unless `warn` is False), ``'corrupt'`` when it cannot be
    read, else :meth:`Policy.stale_reason`.
    """
    try:
        info = store.read_info(history.product_id)
    except UntrustedModelSet as exc:
        if warn:
            warn_untrusted(exc)
        return "untrusted"
    except ModelIntegrityError:
        return "corrupt"
    return policy.stale_reason(info, history.fingerprint, now)


def warn_untrusted(error: UntrustedModelSet) -> None:
    """Log an untrusted set as a warning: someone other than the service wrote it, or another key signed it."""
    log.warning("untrusted model set, retraining it",
                extra={"fields": {"product_id": error.product_id, "problem": error.problem}})


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
    """Return the product's model set, training it first when missing, stale, untrusted or corrupt."""
    from forecasting.models.model_set import ModelSet

    history = load_history(engine, product_id=product_id, max_gap_days=policy.max_gap_days,
                           max_days=policy.max_history_days)
    # A first look without the lock; the answer that counts (and is logged) is the one under it.
    trained, reason = False, check(store=store, history=history, policy=policy, warn=False)
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
    except (ModelIntegrityError, ModelSetNotFound) as exc:
        # Removed, damaged or replaced between the check and the load: one fresh training settles it.
        reason = "untrusted" if isinstance(exc, UntrustedModelSet) else "corrupt"
        if isinstance(exc, UntrustedModelSet):
            warn_untrusted(exc)
        with (lock or _no_lock)(product_id):
            train(engine=engine, store=store, history=history, policy=policy, reason=reason, job_id=job_id,
                  progress=progress)
        model_set, info = cache.load(store, product_id, ModelSet.load)
        trained = True
    return Prepared(model_set=model_set, info=info, history=history, trained=trained, reason=reason)


def forecast(
    *,
    engine: Engine,
    store: ModelStore,
    cache: LoadedCache,
    memo: ForecastMemo,
    product_id: int,
    horizon: int,
    policy: Policy,
    lock: LockFactory | None = None,
    job_id: str | None = None,
    progress: Progress | None = None,
) -> Forecast:
    """Forecast the `horizon` days after the product's history, training first when needed.

    When the product's sales token shows its sales unchanged since its set was
    trained and the set is fresh, the set's forecast is read (from this worker's
    memo, else as saved at training) without loading the history or the models.
    Otherwise the history is loaded and checked, the set trained when missing or
    stale, and the forecast computed (or read, when it is kept for this data).
    A request with options is :func:`forecasting.lifecycle.custom_forecasts.forecast`'s.
    """
    kept = kept_forecast(engine=engine, store=store, memo=memo, product_id=product_id, horizon=horizon,
                         policy=policy)
    if kept.forecast is not None:
        return kept.forecast
    prepared = prepare(engine=engine, store=store, cache=cache, product_id=product_id, policy=policy, lock=lock,
                       job_id=job_id, progress=progress)
    history = prepared.history
    points = _kept_points(engine, memo, product_id, prepared.info, history.fingerprint, horizon)
    source = "saved" if points is not None else "computed"
    if points is None:
        if progress:
            progress("forecasting", 98)
        calendar = product_calendar(engine, history, horizon, policy)
        points = forecast_points(prepared.model_set, history.series, horizon, calendar)
        memo.put((product_id, prepared.info.get("set_id"), history.fingerprint), points)
    end = history.end.isoformat() if history.end else None
    return Forecast(points, prepared.info, end, trained=prepared.trained, reason=prepared.reason, source=source,
                    warnings=calendar_warnings(engine, product_id, prepared.info, end, horizon))


@dataclass(frozen=True)
class Kept:
    """What one look at a product's sales token and model_info.json tells, without its history or models."""

    # The set is fresh and its sales are those it was trained on: a forecast needs no training.
    fresh: bool
    # The forecast of `horizon` days kept for that set (memo or saved at training), when one covers it.
    forecast: Forecast | None


def kept_forecast(*, engine: Engine, store: ModelStore, memo: ForecastMemo, product_id: int, horizon: int,
                  policy: Policy, infos: TrustedInfos | None = None, read_forecast: bool = True) -> Kept:
    """Return whether the product's set is fresh by its sales token, and its kept forecast of `horizon` days.

    The first step of :func:`forecast`, on its own: the API answers a request from it
    (and routes the others) with exactly the worker's rules: the sales token the set
    recorded is the product's token now, :meth:`Policy.stale_reason` finds nothing,
    and the forecast kept is that of the set's ``set_id`` on the fingerprint it recorded.
    `infos` keeps the model_info.json files already verified (read through the store without it).
    Without `read_forecast` (a request the saved forecast cannot answer) only freshness is looked at.

    Raises
    ------
    ProductNotFound
        When no such product exists.
    """
    info = fresh_info(engine=engine, store=store, product_id=product_id, policy=policy, infos=infos)
    if not read_forecast:
        return Kept(fresh=info is not None, forecast=None)
    return kept_for_info(engine=engine, memo=memo, product_id=product_id, horizon=horizon, info=info)


def kept_for_info(*, engine: Engine, memo: ForecastMemo, product_id: int, horizon: int,
                  info: dict[str, Any] | None) -> Kept:
    """Return :func:`kept_forecast`'s answer for the set `info` that :func:`fresh_info` returned (None: not fresh)."""
    if info is None:
        return Kept(fresh=False, forecast=None)
    points = _kept_points(engine, memo, product_id, info, recorded_fingerprint(info), horizon)
    if points is None:
        return Kept(fresh=True, forecast=None)
    end = (info.get("data") or {}).get("end")
    return Kept(fresh=True, forecast=Forecast(points, info, end, trained=False, reason=None, source="saved",
                                              warnings=calendar_warnings(engine, product_id, info, end, horizon)))


def kept_answer_key(product_id: int, horizon: int, info: dict[str, Any]) -> tuple[Any, ...] | None:
    """Return what exactly determines the kept forecast of `horizon` days of the fresh set `info` (None: nothing kept).

    While `info` is fresh the product's sales and calendar are those its sales token names
    (any change draws a new one), and its ``set_id`` names one set, its saved forecast and
    model summary: so everything :func:`kept_for_info` answers (points, warnings included)
    is the same for the same key, and an answer kept under it is never stale.
    """
    set_id, token = info.get("set_id"), recorded_sales_token(info)
    if not set_id or not token:
        return None
    return product_id, set_id, token, horizon


def forecast_result(product_id: int, horizon: int, made: Forecast) -> dict[str, Any]:
    """Return the result of a forecast job (what GET /jobs/<id> shows under ``result``)."""
    result = {
        "product_id": product_id,
        "horizon": horizon,
        "history_end": made.history_end,
        "model": {**model_summary(made.info), "trained_now": made.trained, "reason": made.reason},
        "warnings": made.warnings,
        "points": made.points,
    }
    if made.options is not None:
        result["options"] = made.options
    return result


def model_summary(info: dict[str, Any]) -> dict[str, Any]:
    """Return what a job's result tells of a model set: when it was trained, its weights and metrics."""
    return {key: info.get(key) for key in ("trained_at", "weights", "metrics")}


def fresh_info(*, engine: Engine, store: ModelStore, product_id: int, policy: Policy,
               infos: TrustedInfos | None = None, tokens: RecentTokens | None = None) -> dict[str, Any] | None:
    """Return the product's trusted model_info.json when its set is fresh by the sales token, else None.

    Fresh: the sales token the set recorded is the product's token now (its sales and
    calendar are those it was trained on) and nothing else makes it stale; None also when
    that takes a look at the history itself. With `tokens`, "now" is as read within its
    window (:class:`forecasting.data.recent_tokens.RecentTokens`). Raises ProductNotFound
    for an unknown product.
    """
    if tokens is None:
        with engine.connect() as conn:
            token = sales_token.current(conn, product_id=product_id)
    else:
        token = tokens.current(engine, product_id=product_id)
    try:
        info = infos.read(store, product_id) if infos is not None else store.read_info(product_id)
    except ModelIntegrityError:
        return None  # untrusted or unreadable: the long way retrains it (and says so)
    if info is None:
        return None
    if not sales_unchanged(info, token) and tokens is not None:
        # A set newer than the token kept (trained on data written since): only the database says.
        token = tokens.current(engine, product_id=product_id, recent=False)
    if not sales_unchanged(info, token):
        return None
    return info if policy.stale_reason(info, recorded_fingerprint(info) or "") is None else None


def _kept_points(engine: Engine, memo: ForecastMemo, product_id: int, info: dict[str, Any], fingerprint: str | None,
                 horizon: int) -> list[dict[str, Any]] | None:
    # A forecast of this set on this data made before: this worker's memo, else the one saved
    # at training (made on the data the set records, so only for that data).
    set_id = info.get("set_id")
    if not set_id or not fingerprint:
        return None
    key = (product_id, set_id, fingerprint)
    points = memo.get(key, horizon)
    # A kept forecast is at least as long as the saved one (the longest is kept): no need to read it again.
    if points is None and key not in memo and fingerprint == recorded_fingerprint(info):
        saved = saved_forecasts.load(engine, product_id=product_id, set_id=set_id)
        if saved is not None:
            memo.put(key, saved)
            points = saved[:horizon] if len(saved) >= horizon else None
    return points


def product_calendar(engine: Engine, history: SalesHistory, horizon: int, policy: Policy,
                     overrides: Any = ()) -> pd.DataFrame | None:
    """Return the product's calendar over its history and the `horizon` days after it (None without sales).

    Closed days, holidays (the product's country's, else the policy's) and regressors
    reach the models through it; days without a calendar row are open, no holiday,
    regressors 0. `overrides` (what-if CalendarEdits) are merged in, never stored.
    """
    if history.start is None or history.end is None:
        return None
    country, subdivision = policy.holidays_place
    return load_calendar_frame(engine, product_id=history.product_id, start=history.start,
                               end=history.end + timedelta(days=max(horizon, 0)), country=country,
                               subdivision=subdivision, overrides=overrides).frame


def forecast_points(model_set: Any, series: pd.Series, horizon: int,
                    calendar: pd.DataFrame | None = None) -> list[dict[str, Any]]:
    """Compute `model_set`'s forecast of the `horizon` days after `series`, one JSON-able dict per day."""
    from forecasting.models.model_set import forecast as forecast_frame

    frame: pd.DataFrame = forecast_frame(model_set, series, horizon, calendar=calendar)
    dates = [day.date().isoformat() for day in frame.index]
    columns = {name: [round(value, 4) for value in frame[name].to_numpy(dtype=float).tolist()] for name in frame}
    return [{"date": date, **{name: values[i] for name, values in columns.items()}} for i, date in enumerate(dates)]


def _no_lock(product_id: int) -> AbstractContextManager[None]:
    return nullcontext()
