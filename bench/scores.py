"""Scores the service's metrics module lacks: RMSPE (Kaggle's Rossmann), RMSSE (M5's) and bias."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def rmspe(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Return the root mean squared percentage error (a fraction) over days with actual > 0."""
    a, f = np.asarray(actual, dtype=float).ravel(), np.asarray(forecast, dtype=float).ravel()
    keep = a > 0
    if not keep.any():
        return float("nan")
    return float(np.sqrt(np.mean(((a[keep] - f[keep]) / a[keep]) ** 2)))


def rmsse(actual: ArrayLike, forecast: ArrayLike, insample: ArrayLike) -> float:
    """Return M5's root mean squared scaled error.

    The scale is the mean squared one-step naive difference of the history from its
    first non-zero value on; NaN when that scale is 0 or undefined.
    """
    a, f = np.asarray(actual, dtype=float).ravel(), np.asarray(forecast, dtype=float).ravel()
    history = np.asarray(insample, dtype=float).ravel()
    nonzero = np.flatnonzero(history != 0)
    if len(nonzero) == 0:
        return float("nan")
    history = history[nonzero[0]:]
    if len(history) < 2:
        return float("nan")
    scale = float(np.mean(np.diff(history) ** 2))
    if scale == 0:
        return float("nan")
    return float(np.sqrt(np.mean((a - f) ** 2) / scale))


def bias_percent(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Return (forecast total - actual total) as a percentage of the actual total."""
    a, f = np.asarray(actual, dtype=float).ravel(), np.asarray(forecast, dtype=float).ravel()
    total = a.sum()
    return float(100.0 * (f.sum() - total) / total) if total else float("nan")
