"""Train, describe, persist and forecast a product's three-model ensemble.

Validation
    Each member is fitted on the history minus its last ``validation_days`` days and
    forecasts that held-out tail recursively, as it will forecast the future. For short
    histories the tail shrinks to ``len(history) // 5`` days, never below
    ``MIN_VALIDATION_DAYS``. The member errors give the ensemble weights; the
    ensemble's own errors give the forecast intervals.

Final models
    The models that forecast must have seen the whole history. Prophet and the forest
    are cheap and are refitted on all of it. The LSTM is the expensive member: the
    validated network trains ``LSTM_UPDATE_EPOCHS`` more epochs on the windows of the
    whole history instead of a second full fit (its scaler stays the one it learned).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.errors import InsufficientHistory, ModelIntegrityError
from forecasting.models import calendar_inputs, ensemble, features, metrics
from forecasting.models.forest import ForestModel
from forecasting.models.intermittent import INTERMITTENT_CLASSES, TSBModel, demand_shape
from forecasting.models.lstm.deseasonalised import DeseasonalisedLSTM
from forecasting.models.member import Member
from forecasting.models.prophet_model import ProphetModel
from forecasting.models.set_version import MODEL_SET_VERSION, recorded_set_version
from forecasting.params import ModelParams

MEMBERS: dict[str, type[Member]] = {"prophet": ProphetModel, "lstm": DeseasonalisedLSTM, "random_forest": ForestModel}
#: Members a product's demand shape adds (:mod:`forecasting.models.intermittent`).
SHAPE_MEMBERS: dict[str, type[Member]] = {"tsb": TSBModel}
ALL_MEMBERS: dict[str, type[Member]] = {**MEMBERS, **SHAPE_MEMBERS}
MIN_VALIDATION_DAYS = 7
#: Extra epochs the validated LSTM trains on the whole history (see the module docstring).
#: One: the validation loss is usually best after the first epochs (measured on the
#: yearly-baseline deviations the LSTM learned before the seasonal profile), and each
#: further epoch costs a tenth of the LSTM's training time.
LSTM_UPDATE_EPOCHS = 1
#: Rows the forest needs after its feature context, in the validation fit.
MIN_FOREST_ROWS = 14

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
        JSON-able interval description of :func:`forecasting.models.ensemble.fit_intervals`.
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
            "params": {k: list(v) if isinstance(v, tuple) else v for k, v in self.params.to_dict().items()},
        }


def params_from_dict(values: Mapping[str, Any]) -> ModelParams:
    """Rebuild ModelParams from its JSON form (lists back to tuples)."""
    return ModelParams(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def _to_json(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _from_json(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def validation_days(length: int, requested: int) -> int:
    """Return the held-out tail used for a history of `length` days (see the module docstring)."""
    return max(MIN_VALIDATION_DAYS, min(requested, length // 5))


def minimum_days(params: ModelParams, min_samples: int) -> int:
    """Return the fewest days a history needs: `min_samples`, or more if the models need it.

    After the validation tail is held out, the LSTM needs one window and a target and
    the forest ``MIN_FOREST_ROWS`` rows past its feature context.
    """
    needed = max(params.lstm_window + 1, features.MIN_CONTEXT + MIN_FOREST_ROWS)
    length = needed
    while length - validation_days(length, params.validation_days) < needed:
        length += 1
    return max(min_samples, length)


def _check_history(history: pd.Series) -> None:
    if not isinstance(history, pd.Series) or not isinstance(history.index, pd.DatetimeIndex):
        raise TypeError("history must be a pandas Series on a DatetimeIndex.")
    if len(history) > 1 and not (history.index.to_series().diff().iloc[1:] == pd.Timedelta(days=1)).all():
        raise ValueError("history must have one value per day with no gaps (fill missing days with 0).")
    values = history.to_numpy(dtype=float)
    # NaN marks a day that is not demand (a gap in the sales); infinite demand is an error.
    if np.isinf(values).any() or np.isnan(values).all():
        raise ValueError("history contains infinite demand or none at all.")


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


def train_model_set(
    history: pd.Series,
    *,
    calendar: pd.DataFrame | None = None,
    params: ModelParams,
    min_samples: int,
    product_id: int,
    progress: Progress | None = None,
) -> ModelSet:
    """Validate, weight and fit the three members on a product's history.

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
    _check_history(history)
    history = calendar_inputs.mask_closed(history, calendar)
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
    # Closed and gap days are not scored: the set forecasts a closed day 0 whatever the members say.
    scored = np.isfinite(actual)
    if not scored.any():
        raise InsufficientHistory(product_id, int(np.isfinite(history.to_numpy()).sum()), minimum)
    insample = train.dropna().to_numpy()

    seconds: dict[str, float] = {}
    members: dict[str, Any] = {}
    forecasts: dict[str, np.ndarray] = {}
    shape = demand_shape(history)
    # Intermittent and lumpy products get the member made for them; the others keep the three.
    classes = {**MEMBERS, **(SHAPE_MEMBERS if shape["class"] in INTERMITTENT_CLASSES else {})}
    for name, member_class in classes.items():
        report(f"validating {name}", STAGES[f"validating {name}"])
        clock = time.perf_counter()
        members[name] = _fit(member_class, params, train, calendar_for_members)
        seconds[name] = time.perf_counter() - clock
        forecasts[name] = _predict(members[name], train, held_out, calendar_for_members)

    report("weighting", STAGES["weighting"])
    actual, forecasts = actual[scored], {name: values[scored] for name, values in forecasts.items()}
    scores = {name: metrics.score(actual, forecasts[name], insample) for name in classes}
    errors = {name: scores[name]["mae"] if np.isfinite(forecasts[name]).all() else float("inf") for name in classes}
    weights = ensemble.inverse_error_weights(errors)
    combined = ensemble.combine(forecasts, weights)
    if "tsb" in classes and errors["tsb"] < metrics.mae(actual, combined):
        # A dead or sparse item: TSB alone beat the blend on validation, and any weight on
        # the others (which never forecast 0) keeps a stopped item selling.
        weights = {name: float(name == "tsb") for name in classes}
        combined = ensemble.combine(forecasts, weights)
    scores["ensemble"] = metrics.score(actual, combined, insample)
    intervals = ensemble.fit_intervals(actual, combined, params.interval_levels)

    for name, member_class in classes.items():
        report(f"fitting {name}", STAGES[f"fitting {name}"])
        clock = time.perf_counter()
        if name == "lstm":
            members[name].continue_fit(history, min(LSTM_UPDATE_EPOCHS, params.lstm_epochs))
        else:
            members[name] = _fit(member_class, params, history, calendar_for_members)
        seconds[name] += time.perf_counter() - clock
    seconds["total"] = time.perf_counter() - started
    report("done", STAGES["done"])
    return ModelSet(members, weights, scores, intervals, seconds, params, validation_days=held_out,
                    calendar=None if columns is None else columns.to_dict(), demand=shape)


def forecast(model_set: ModelSet, history: pd.Series, horizon: int, *,
             calendar: pd.DataFrame | None = None) -> pd.DataFrame:
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
        open, without holiday, regressors 0. Closed forecast days are 0 in every column.

    Returns
    -------
    pandas.DataFrame
        Indexed by the dates after `history`; columns ``forecast``, ``lower``, ``upper``
        (first interval level), ``lower_<pct>``, ``upper_<pct>`` for each further level,
        then one column per member. Every value finite and >= 0.
    """
    _check_history(history)
    dates = features.forecast_dates(history, horizon)
    history = calendar_inputs.mask_closed(history, calendar)
    open_days = calendar_inputs.align(calendar, dates)["open"].to_numpy()
    predictions = {}
    for name, member in model_set.members.items():
        values = _predict(member, history, horizon, calendar)
        # A diverged member has weight 0 and never reaches the ensemble; keep its column finite.
        predictions[name] = np.where(np.isfinite(values), values, 0.0)
    combined = np.clip(ensemble.combine(predictions, model_set.weights), 0.0, None)
    bounds = ensemble.interval_bounds(combined, model_set.intervals)
    columns: dict[str, np.ndarray] = {"forecast": combined}
    for position, (level, (lower, upper)) in enumerate(bounds.items()):
        suffix = "" if position == 0 else f"_{int(round(level * 100))}"
        columns[f"lower{suffix}"], columns[f"upper{suffix}"] = lower, upper
    columns.update(predictions)
    # A closed day sells nothing: exactly 0, bounds included.
    return pd.DataFrame({name: np.where(open_days, values, 0.0) for name, values in columns.items()}, index=dates)
