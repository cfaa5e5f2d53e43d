"""Train, describe, persist and forecast a product's ensemble.

Members
    Prophet, the LSTM and the forest for every product; intermittent and lumpy products
    (:mod:`forecasting.models.intermittent`) add TSB, and their members are weighted by the
    fold squared error instead of the MAE (:func:`choose_set_weights`); one that stopped
    selling is forecast by TSB alone. A member that fails is left out with the reason
    (``excluded``), and the set is made of the others.

Calendar
    With a calendar (:mod:`forecasting.models.calendar_inputs`) closed days are not
    demand: left out of every fit and score, forecast exactly 0. Days of a gap in the
    history (NaN) are left out the same way. Without a calendar that states them, closed
    weekdays and isolated zero days are read from the history
    (:mod:`forecasting.models.closures`): left out of every fit, the closed weekdays
    forecast exactly 0, and recorded as ``closures``. The days before a product's first
    sale are not demand either (:mod:`forecasting.models.first_sale`): dropped.

Validation
    Each member is fitted on the history minus its last ``validation_days`` days and
    forecasts that held-out tail recursively, as it will forecast the future. For short
    histories the tail shrinks to ``len(history) // 5`` days, never below
    ``MIN_VALIDATION_DAYS`` (:mod:`forecasting.models.validation`). The member errors
    from several origins in the tail give the ensemble weights; the ensemble's own
    forecasts from every origin give the forecast intervals (:mod:`forecasting.models.intervals`).

Final models
    The models that forecast must have seen the whole history. Prophet and the forest
    are cheap and are refitted on all of it. The LSTM is the expensive member: the
    validated network trains ``LSTM_UPDATE_EPOCHS`` more epochs on the windows of the
    whole history instead of a second full fit (its scaler stays the one it learned).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.errors import InsufficientHistory, ModelIntegrityError
from forecasting.models import calendar_inputs, closures, ensemble, features, first_sale, metrics, validation
from forecasting.models import intervals as fold_intervals
from forecasting.models.blends import (
    blend_folds, bound_columns, chosen_intervals, chosen_weights, validation_record,
)
from forecasting.models.forest import ForestModel
from forecasting.models.intermittent import (
    INTERMITTENT_CLASSES, TSBModel, demand_shape, stopped_selling, weight_error,
)
from forecasting.models.lstm.deseasonalised import DeseasonalisedLSTM
from forecasting.models.member import Member
from forecasting.models.prophet_model import ProphetModel
from forecasting.models.set_version import MODEL_SET_VERSION, recorded_set_version
from forecasting.models.validation import check_history, minimum_days, validation_days
from forecasting.params import ModelParams

MEMBERS: dict[str, type[Member]] = {"prophet": ProphetModel, "lstm": DeseasonalisedLSTM, "random_forest": ForestModel}
#: Members a product's demand shape adds (:mod:`forecasting.models.intermittent`).
SHAPE_MEMBERS: dict[str, type[Member]] = {"tsb": TSBModel}
ALL_MEMBERS: dict[str, type[Member]] = {**MEMBERS, **SHAPE_MEMBERS}
#: Extra epochs the validated LSTM trains on the whole history (see the module docstring).
#: One: the validation loss is usually best after the first epochs (measured on the
#: yearly-baseline deviations the LSTM learned before the seasonal profile), and each
#: further epoch costs a tenth of the LSTM's training time.
LSTM_UPDATE_EPOCHS = 1

Progress = Callable[[str, int], None]


def import_model_libraries() -> None:
    """Import the libraries the members import lazily (Prophet alone takes about a second)."""
    import h5py  # noqa: F401
    import prophet  # noqa: F401
    import sklearn.ensemble  # noqa: F401


# Percent reported when each stage starts, spaced by its measured share of the time.
STAGES: dict[str, int] = {
    "validating prophet": 0,
    "validating lstm": 12,
    "validating random_forest": 61,
    "validating tsb": 73,
    "weighting": 74,
    "fitting prophet": 74,
    "fitting lstm": 82,
    "fitting random_forest": 88,
    "fitting tsb": 93,
    "done": 100,
}


@dataclass
class ModelSet:
    """A product's fitted members with what validation learned about them.

    Attributes
    ----------
    members : dict of str to model
        Fitted ProphetModel, DeseasonalisedLSTM and ForestModel by name (order of ``MEMBERS``).
    weights : dict of str to float
        Ensemble weights, summing to 1.
    metrics : dict of str to dict
        Validation mae, rmse, smape, mase per member and for ``"ensemble"``.
    intervals : dict
        JSON-able interval description of :func:`forecasting.models.intervals.calibrate`.
    training_seconds : dict of str to float
        Fit time per member (validation and final fit) and ``"total"``.
    params : ModelParams
        The parameters the set was trained with.
    """

    members: dict[str, Any]
    weights: dict[str, float]
    metrics: dict[str, dict[str, float]]
    intervals: dict[str, Any]
    training_seconds: dict[str, float]
    params: ModelParams
    validation_days: int = field(default=0)
    #: The calendar columns the set was trained with (``CalendarColumns.to_dict``), None without a calendar.
    calendar: dict[str, list[str]] | None = field(default=None)
    #: The product's demand shape (``intermittent.demand_shape``), None for sets that recorded none.
    demand: dict[str, Any] | None = field(default=None)
    #: Members left out of the set, with why (:mod:`forecasting.models.validation`).
    excluded: dict[str, str] = field(default_factory=dict)
    #: Closed weekdays and isolated zeros read from the history (``closures.Closures.to_dict``).
    closures: dict[str, Any] | None = field(default=None)
    #: The validation tail (``actual``) and each member's forecast from every fold origin
    #: (:func:`forecasting.models.blends.validation_record`), so a forecast from some of the
    #: members gets intervals calibrated on their own blend's folds.
    validation_forecasts: dict[str, Any] | None = field(default=None)

    def save(self, directory: Path) -> None:
        """Write every member's files into the existing `directory`."""
        for member in self.members.values():
            member.save(Path(directory))

    @classmethod
    def load(cls, directory: Path, info: Mapping[str, Any]) -> ModelSet:
        """Read the members from `directory` and the rest from `info` (a :meth:`describe` dict).

        Parameters
        ----------
        directory : pathlib.Path
            Folder the set was saved to; the caller has checked the checksums.
        info : mapping
            What :meth:`describe` returned, possibly with extra keys and read back from JSON.

        Returns
        -------
        ModelSet

        Raises
        ------
        ModelIntegrityError
            When the set was saved by models of another ``MODEL_SET_VERSION`` (its files
            are not what these members read; the pipeline retrains it).
        """
        version = recorded_set_version(info)
        if version != MODEL_SET_VERSION:
            raise ModelIntegrityError(
                f"The model set in {directory} has model set version {version}; this code reads "
                f"{MODEL_SET_VERSION}. Retrain it."
            )
        params = params_from_dict(info["params"])
        names = info.get("members") or list(MEMBERS)
        members = {name: ALL_MEMBERS[name].load(Path(directory), params) for name in names}
        return cls(
            members=members,
            weights={name: float(w) for name, w in info["weights"].items()},
            metrics={name: {k: _from_json(v) for k, v in values.items()} for name, values in info["metrics"].items()},
            intervals=dict(info["intervals"]),
            training_seconds={name: float(s) for name, s in info["training_seconds"].items()},
            params=params,
            validation_days=int(info.get("validation_days", 0)),
            calendar=info.get("calendar"),
            demand=info.get("demand"),
            excluded=dict(info.get("excluded") or {}),
            closures=info.get("closures"),
            validation_forecasts=info.get("validation_forecasts"),
        )

    def describe(self) -> dict[str, Any]:
        """Return weights, metrics, intervals, timings and params as JSON-able values (NaN as None)."""
        return {
            "model_set_version": MODEL_SET_VERSION,
            "members": list(self.members),
            "weights": dict(self.weights),
            "metrics": {name: {k: _to_json(v) for k, v in values.items()} for name, values in self.metrics.items()},
            "intervals": self.intervals,
            "training_seconds": {name: round(s, 3) for name, s in self.training_seconds.items()},
            "validation_days": self.validation_days,
            "calendar": self.calendar,
            "demand": self.demand,
            "excluded": dict(self.excluded),
            "closures": self.closures,
            "validation_forecasts": self.validation_forecasts,
            "params": {k: list(v) if isinstance(v, tuple) else v for k, v in self.params.to_dict().items()},
        }


def params_from_dict(values: Mapping[str, Any]) -> ModelParams:
    """Rebuild ModelParams from its JSON form (lists back to tuples)."""
    return ModelParams(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def _to_json(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _from_json(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _fit(member_class: type[Member], params: ModelParams, history: pd.Series,
         calendar: pd.DataFrame | None) -> Any:
    # Only the members that read the calendar get it; the others see closed days as NaN.
    if calendar is not None and member_class.USES_CALENDAR:
        return member_class(params).fit(history, calendar=calendar)
    return member_class(params).fit(history)


def _predict(member: Member, history: pd.Series, horizon: int, calendar: pd.DataFrame | None) -> np.ndarray:
    if calendar is not None and member.USES_CALENDAR:
        return member.predict(history, horizon, calendar=calendar)
    return member.predict(history, horizon)


def _blend_fold_error(found: validation.Validation, weights: Mapping[str, float], tail: np.ndarray,
                      error: Callable[[np.ndarray, np.ndarray], float] = metrics.mae) -> float:
    """Return the mean fold `error` of the blend of the members with `weights` (what the weights are chosen by)."""
    used = {name: w for name, w in weights.items() if w > 0}
    blends = [ensemble.combine({name: found.fold_forecasts[name][k] for name in used}, used)
              for k in range(len(found.origins))]
    return validation.fold_error(tail, found.origins, blends, error)


def choose_set_weights(found: validation.Validation, tail: np.ndarray, shape: Mapping[str, Any] | None,
                       history: pd.Series) -> dict[str, float]:
    """Return the weights of the validated members: the blend that errs least on the folds.

    Parameters
    ----------
    found : Validation
        The members' fold forecasts (``fold_forecasts``, ``origins``, ``fold_errors``).
    tail : numpy.ndarray
        The validation tail the folds forecast (NaN days not scored).
    shape : mapping, optional
        The product's demand shape: intermittent and lumpy ones are weighted by the squared
        error (:func:`forecasting.models.intermittent.weight_error`), the others by the MAE.
    history : pandas.Series
        The training history: a product with TSB that stopped selling gives TSB the whole weight.

    Returns
    -------
    dict of str to float
        One weight per member of ``found``, summing to 1.
    """
    error = weight_error(dict(shape) if shape is not None else None)
    member_errors = (found.fold_errors if error is metrics.mae else
                     {name: validation.fold_error(tail, found.origins, found.fold_forecasts[name], error)
                      for name in found.fold_forecasts})
    if "tsb" in member_errors and stopped_selling(history):
        # Stopped more recently than the folds can show: any weight on the others (which
        # never forecast 0) keeps a stopped item selling; TSB decays.
        return {name: float(name == "tsb") for name in member_errors}
    return ensemble.choose_weights(member_errors, lambda candidate: _blend_fold_error(found, candidate, tail, error))


def train_model_set(
    history: pd.Series,
    *,
    calendar: pd.DataFrame | None = None,
    params: ModelParams,
    min_samples: int,
    product_id: int,
    progress: Progress | None = None,
) -> ModelSet:
    """Validate, weight and fit the members on a product's history.

    Parameters
    ----------
    history : pandas.Series
        Daily demand on a contiguous daily DatetimeIndex (days without sales 0; NaN for
        the days of a gap, which are not demand and are left out of every fit).
    calendar : pandas.DataFrame, optional
        The product's calendar (:mod:`forecasting.models.calendar_inputs`). Closed days
        are left out of the fits, the seasonal profile and the validation scores;
        Prophet and the forest take its holidays and regressors. Only the days of
        `history` and of the validation tail's forecast are read.
    params : ModelParams
        Hyper-parameters of the set.
    min_samples : int
        Fewest days of history accepted (MIN_TRAINING_SAMPLES).
    product_id : int
        Named in errors.
    progress : callable, optional
        Called with ``(stage, percent)``; percent never decreases and ends at 100.

    Returns
    -------
    ModelSet

    Raises
    ------
    InsufficientHistory
        When `history` is shorter than ``minimum_days(params, min_samples)``.
    """
    started = time.perf_counter()
    report = progress or (lambda stage, percent: None)
    minimum = minimum_days(params, min_samples)
    if len(history) < minimum:
        raise InsufficientHistory(product_id, len(history), minimum)
    check_history(history)
    history = first_sale.since_first_sale(history, keep=minimum)
    history = calendar_inputs.mask_closed(history, calendar)
    # Read from the training history only, before any split: the forecast applies the same record.
    found_closures = closures.infer(history, calendar)
    history = closures.apply(history, found_closures, calendar)
    columns = None
    if calendar is not None:
        aligned = calendar_inputs.align(calendar, pd.DatetimeIndex(history.index))
        columns = calendar_inputs.columns_of(aligned, history.notna().to_numpy())
        if not (columns.regressors or columns.holidays):
            # Nothing but open days to tell: the members fit exactly as they do without a calendar.
            columns = None
    calendar_for_members = calendar if columns is not None else None
    held_out = validation_days(len(history), params.validation_days)
    train, actual = history.iloc[:-held_out], history.iloc[-held_out:].to_numpy()
    tail = actual
    # Closed and gap days are not scored: the set forecasts a closed day 0 whatever the members say.
    scored = np.isfinite(actual)
    if not scored.any():
        raise InsufficientHistory(product_id, int(np.isfinite(history.to_numpy()).sum()), minimum)
    insample = train.dropna().to_numpy()

    shape = demand_shape(history)
    # Intermittent and lumpy products get the member made for them; the others keep the three.
    classes = {**MEMBERS, **(SHAPE_MEMBERS if shape["class"] in INTERMITTENT_CLASSES else {})}
    found = validation.validate(
        classes, history, held_out,
        fit=lambda member_class, series: _fit(member_class, params, series, calendar_for_members),
        predict=lambda member, series, horizon: _predict(member, series, horizon, calendar_for_members),
        report=lambda name: report(f"validating {name}", STAGES[f"validating {name}"]),
    )
    members, seconds, excluded = found.members, found.seconds, found.excluded
    if not members:
        raise RuntimeError(f"Every member of product {product_id}'s set failed: {excluded}.")

    report("weighting", STAGES["weighting"])
    actual, forecasts = actual[scored], {name: values[scored] for name, values in found.forecasts.items()}
    scores = {name: metrics.score(actual, forecasts[name], insample) for name in members}
    weights = choose_set_weights(found, tail, shape, history)
    combined = ensemble.combine(forecasts, weights)
    scores["ensemble"] = metrics.score(actual, combined, insample)
    record = validation_record(found, tail)
    intervals = fold_intervals.calibrate(blend_folds(record, weights), held_out, params.interval_levels)

    for name in list(members):
        report(f"fitting {name}", STAGES[f"fitting {name}"])
        clock = time.perf_counter()
        try:
            if name == "lstm":
                extra = {"calendar": calendar_for_members} if calendar_for_members is not None else {}
                members[name].continue_fit(history, min(LSTM_UPDATE_EPOCHS, params.lstm_epochs), **extra)
            else:
                members[name] = _fit(classes[name], params, history, calendar_for_members)
        except validation.MEMBER_ERRORS as exc:
            # Validated but failed on the whole history: the others share its weight.
            excluded[name] = validation.failure(exc)
            del members[name]
        seconds[name] += time.perf_counter() - clock
    if not members:
        raise RuntimeError(f"Every member of product {product_id}'s set failed: {excluded}.")
    if set(weights) - set(members):
        kept = {name: w for name, w in weights.items() if name in members}
        total = sum(kept.values())
        weights = {name: (w / total if total > 0 else 1 / len(kept)) for name, w in kept.items()}
    seconds["total"] = time.perf_counter() - started
    report("done", STAGES["done"])
    return ModelSet(members, weights, scores, intervals, seconds, params, validation_days=held_out,
                    calendar=None if columns is None else columns.to_dict(), demand=shape, excluded=excluded,
                    closures=found_closures.to_dict(), validation_forecasts=record)


def forecast(model_set: ModelSet, history: pd.Series, horizon: int, *,
             calendar: pd.DataFrame | None = None, members: Sequence[str] | None = None,
             levels: Sequence[float] | None = None) -> pd.DataFrame:
    """Forecast the `horizon` days after `history` with the ensemble and its intervals.

    Parameters
    ----------
    model_set : ModelSet
        Trained or loaded set.
    history : pandas.Series
        Daily demand up to the last known day (it may be longer than the training history).
    horizon : int
        Days to forecast, at least 1.
    calendar : pandas.DataFrame, optional
        The product's calendar over `history` and the forecast days; days it lacks are
        open, without holiday, regressors 0. Closed forecast days (the calendar's, and the
        set's recorded closed weekdays on days the calendar leaves unstated) are 0 in every column.
    members : sequence of str, optional
        Forecast with these members only (each held by the set), their weights
        renormalised (:func:`chosen_weights`) and the intervals of their own blend; all by default.
    levels : sequence of float, optional
        Interval levels in (0, 1); by default the set's (``interval_levels``).

    Returns
    -------
    pandas.DataFrame
        Indexed by the dates after `history`; columns ``forecast``, ``lower``, ``upper``
        (first interval level), ``lower_<pct>``, ``upper_<pct>`` for each further level,
        then one column per member used. Every value finite and >= 0.
    """
    check_history(history)
    weights = chosen_weights(model_set, members)
    dates = features.forecast_dates(history, horizon)
    # As in training: the days before the first sale are no demand (never fewer than the members' context).
    history = first_sale.since_first_sale(history, keep=minimum_days(model_set.params, 0))
    history = calendar_inputs.mask_closed(history, calendar)
    recorded = closures.Closures.from_dict(model_set.closures)
    history = closures.apply(history, recorded, calendar)
    open_days = (calendar_inputs.align(calendar, dates)["open"].to_numpy()
                 & ~closures.closed_days(recorded, dates, calendar))
    predictions = {}
    for name, member in model_set.members.items():
        if name not in weights:
            continue
        values = _predict(member, history, horizon, calendar)
        # A diverged member has weight 0 and never reaches the ensemble; keep its column finite.
        predictions[name] = np.where(np.isfinite(values), values, 0.0)
    combined = np.clip(ensemble.combine(predictions, weights), 0.0, None)
    bounds = ensemble.interval_bounds(combined, chosen_intervals(model_set, weights), levels)
    columns: dict[str, np.ndarray] = {"forecast": combined}
    for (low_name, high_name), (lower, upper) in zip(bound_columns(list(bounds)), bounds.values(), strict=True):
        columns[low_name], columns[high_name] = lower, upper
    columns.update(predictions)
    # A closed day sells nothing: exactly 0, bounds included.
    return pd.DataFrame({name: np.where(open_days, values, 0.0) for name, values in columns.items()}, index=dates)
