"""Forecast accuracy measures used to validate, weight and describe the models."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

#: Season of the naive forecast that scales MASE: demand repeats weekly.
MASE_SEASON = 7


def _pair(actual: ArrayLike, forecast: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(actual, dtype=float).ravel()
    f = np.asarray(forecast, dtype=float).ravel()
    if a.shape != f.shape:
        raise ValueError(f"actual has {a.size} values but forecast has {f.size}.")
    if a.size == 0:
        raise ValueError("Cannot score an empty forecast.")
    return a, f


def mae(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Return the mean absolute error."""
    a, f = _pair(actual, forecast)
    return float(np.mean(np.abs(f - a)))


def mse(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Return the mean squared error (what the mean of the demand minimises, not its median)."""
    a, f = _pair(actual, forecast)
    return float(np.mean((f - a) ** 2))


def rmse(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Return the root mean squared error."""
    a, f = _pair(actual, forecast)
    return float(np.sqrt(np.mean((f - a) ** 2)))


def smape(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Return the symmetric mean absolute percentage error, in percent (0 to 200).

    Each day contributes ``2 |F - A| / (|A| + |F|)``; a day where actual and forecast
    are both 0 contributes 0 (a perfect forecast of no demand), not a division by zero.
    """
    a, f = _pair(actual, forecast)
    denominator = np.abs(a) + np.abs(f)
    safe = np.where(denominator == 0, 1.0, denominator)
    terms = np.where(denominator == 0, 0.0, 2.0 * np.abs(f - a) / safe)
    return float(100.0 * np.mean(terms))


def mase(actual: ArrayLike, forecast: ArrayLike, insample: ArrayLike, season: int = MASE_SEASON) -> float:
    """Return the mean absolute scaled error.

    The MAE of the forecast divided by the in-sample MAE of the seasonal naive
    forecast ``y[t] = y[t - season]`` (weekly by default) on the training history.
    Below 1 the forecast beats "same day last week" as fitted in-sample.

    Parameters
    ----------
    actual, forecast : array-like
        Held-out demand and its forecast.
    insample : array-like
        The history the models were trained on.
    season : int, default 7
        Season of the naive forecast; a history of ``season`` days or fewer falls back to 1.

    Returns
    -------
    float
        NaN when the scale is undefined: fewer than 2 in-sample values, or an in-sample
        naive error of 0 (a constant history).
    """
    history = np.asarray(insample, dtype=float).ravel()
    if len(history) <= season:
        season = 1
    if len(history) <= season:
        return float("nan")
    scale = float(np.mean(np.abs(history[season:] - history[:-season])))
    if scale == 0:
        return float("nan")
    return mae(actual, forecast) / scale


def coverage(actual: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float:
    """Return the share (0 to 1) of actual values inside ``[lower, upper]``."""
    a, lo = _pair(actual, lower)
    _, hi = _pair(actual, upper)
    return float(np.mean((a >= lo) & (a <= hi)))


def score(actual: ArrayLike, forecast: ArrayLike, insample: ArrayLike) -> dict[str, float]:
    """Return mae, rmse, smape and mase of `forecast` as a dict."""
    return {
        "mae": mae(actual, forecast),
        "rmse": rmse(actual, forecast),
        "smape": smape(actual, forecast),
        "mase": mase(actual, forecast, insample),
    }
