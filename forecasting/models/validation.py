"""Fit and validate the members of a set, leaving out (with the reason) one that fails.

A member that raises while it fits or forecasts, or whose forecast is not finite, is
left out of the set: the product still gets a set of the others, and model_info.json
records why the member is missing (``excluded``). Only the errors a numerical fit
raises are caught (bad values, a solver that failed, a singular matrix); a programming
error still stops the training.

Weights
    Each member forecasts the validation tail from ``FOLDS`` origins (the start of the
    tail and evenly spaced days inside it), each time up to ``fold_days`` ahead with
    the history up to its origin, and is weighted by its mean MAE over the folds: one
    window's errors are noisy, several origins weigh a member by how it usually does.
    The members are fitted once, on the days before the tail; later origins only give
    them more recent history to forecast from (no refit), so the folds cost forecasts,
    not fits.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecasting.models import features, metrics
from forecasting.models.member import Member
from forecasting.params import ModelParams

MIN_VALIDATION_DAYS = 7
#: Rows the forest needs after its feature context, in the validation fit.
MIN_FOREST_ROWS = 14
#: Origins the weights are measured from (the first is the start of the validation tail).
FOLDS = 3
#: What a failing member raises: bad inputs or values, a solver that gave up, overflow.
MEMBER_ERRORS: tuple[type[BaseException], ...] = (ValueError, RuntimeError, ArithmeticError)


@dataclass
class Validation:
    """What validating the members found.

    Attributes
    ----------
    members : dict of str to Member
        The members that fitted and forecast finite values, fitted on the days before the tail.
    forecasts : dict of str to numpy.ndarray
        Each member's forecast of the whole tail from its start.
    fold_errors : dict of str to float
        Each member's mean MAE over the folds.
    seconds : dict of str to float
        Fit time per member.
    excluded : dict of str to str
        Why each member left out was left out.
    origins : list of int
        Offsets into the tail the folds forecast from (the first is 0, the whole tail).
    fold_forecasts : dict of str to list of numpy.ndarray
        Each member's forecast from each origin, ``fold_days`` days each.
    """

    members: dict[str, Any] = field(default_factory=dict)
    forecasts: dict[str, np.ndarray] = field(default_factory=dict)
    fold_errors: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    excluded: dict[str, str] = field(default_factory=dict)
    origins: list[int] = field(default_factory=list)
    fold_days: int = 0
    fold_forecasts: dict[str, list[np.ndarray]] = field(default_factory=dict)


def failure(exc: BaseException) -> str:
    """Return how a member's failure is recorded: the exception's type and first line."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def fold_origins(held_out: int, folds: int = FOLDS) -> list[int]:
    """Return the offsets into the tail the folds forecast from: 0 and evenly spaced days, each with days ahead."""
    step = max(held_out // folds, 1)
    return sorted({min(k * step, held_out - 1) for k in range(folds)})


def validate(
    classes: Mapping[str, type[Member]],
    history: pd.Series,
    held_out: int,
    fit: Callable[[type[Member], pd.Series], Any],
    predict: Callable[[Any, pd.Series, int], np.ndarray],
    report: Callable[[str], None],
) -> Validation:
    """Fit every member on `history` less its last `held_out` days and score it from ``FOLDS`` origins.

    Parameters
    ----------
    classes : mapping of str to member class
        The members to try, in order.
    history : pandas.Series
        The whole training history (NaN days not scored).
    held_out : int
        Days of the validation tail.
    fit, predict : callable
        Fit a member class on a series; forecast with a fitted member from a series.
    report : callable
        Called with each member's name as its validation starts.

    Returns
    -------
    Validation
    """
    origins = fold_origins(held_out)
    result = Validation(origins=origins)
    result.fold_days = held_out - origins[-1] if len(origins) > 1 else held_out
    fold_days = result.fold_days
    actual = history.iloc[-held_out:].to_numpy()
    for name, member_class in classes.items():
        report(name)
        clock = time.perf_counter()
        train = history.iloc[:-held_out]
        try:
            member = fit(member_class, train)
            result.seconds[name] = time.perf_counter() - clock
            whole = predict(member, train, held_out)
            folds = [whole[:fold_days]] + [predict(member, history.iloc[: len(train) + o], fold_days)
                                           for o in origins[1:]]
        except MEMBER_ERRORS as exc:
            result.excluded[name] = failure(exc)
            continue
        values = np.concatenate([whole, *folds])
        if not np.isfinite(values).all():
            result.excluded[name] = "its validation forecast is not finite"
            continue
        result.members[name], result.forecasts[name] = member, whole
        result.fold_forecasts[name] = folds
        result.fold_errors[name] = fold_error(actual, origins, folds)
    return result


def fold_error(actual: np.ndarray, origins: list[int], folds: list[np.ndarray],
               error: Callable[[np.ndarray, np.ndarray], float] = metrics.mae) -> float:
    """Return the mean over the folds of `error` (MAE by default) of `folds` (one forecast per origin) on the scored days of `actual`."""
    errors = []
    for origin, forecast in zip(origins, folds):
        truth = actual[origin : origin + len(forecast)]
        known = np.isfinite(truth)
        if known.any():
            errors.append(error(truth[known], forecast[known]))
    return float(np.mean(errors)) if errors else float("inf")


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


def check_history(history: pd.Series) -> None:
    """Raise TypeError or ValueError unless `history` is daily demand on a contiguous DatetimeIndex."""
    if not isinstance(history, pd.Series) or not isinstance(history.index, pd.DatetimeIndex):
        raise TypeError("history must be a pandas Series on a DatetimeIndex.")
    if len(history) > 1 and not (history.index.to_series().diff().iloc[1:] == pd.Timedelta(days=1)).all():
        raise ValueError("history must have one value per day with no gaps (fill missing days with 0).")
    values = history.to_numpy(dtype=float)
    # NaN marks a day that is not demand (a gap in the sales); infinite demand is an error.
    if np.isinf(values).any() or np.isnan(values).all():
        raise ValueError("history contains infinite demand or none at all.")
