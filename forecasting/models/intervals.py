"""Forecast intervals calibrated on the rolling-origin validation folds, at any level.

Calibration
    The ensemble forecasts the validation tail from every fold origin
    (:mod:`forecasting.models.validation`), with the weights the set keeps. Each scored day
    gives a residual ``actual - forecast`` divided by ``sqrt(forecast + 1)`` (demand is
    count-like: its spread grows with its level) and tagged with its horizon step, the
    days since its origin. Only days of the training history are used: the folds lie
    inside it, before any forecast.

    The residuals of every step are pooled and kept as their empirical quantiles on a
    fixed grid of probabilities (``GRID``, 0.5 % to 99.5 %), so any central level between
    1 and 99 % is read off the grid (outwards, to the next grid point): :func:`bounds`
    takes the level. Upper quantiles are observed residuals at or above the probability,
    lower ones at or below (demand is counted in units: an interpolated bound of 0.9 would
    leave out every day that sold 1). A
    split-conformal correction widens the probabilities by ``(n + 1) / n`` for n
    residuals. With fewer than ``MIN_EMPIRICAL`` residuals the band is never narrower
    than Poisson noise at the forecast level (``+-z_L``).

Whole units
    When every scored day of the folds sold a whole number of units, each count is
    spread evenly over its unit before the quantiles are taken (mid-p: on M5 items the
    80 % band otherwise covered 88 %, the next whole unit's share), and lower bounds are
    rounded down to whole units: an intermittent item's zero days give residuals of
    ``-f / sqrt(f + 1)`` at the validation forecast f, which read at another forecast
    level put the lower bound a little above 0 and leave out every day that sells nothing.

    Where the band reaches 0 (an intermittent item, or a quiet day), nothing lies below
    it, so the upper bound is the ``level`` quantile instead of the ``(1 + level) / 2``
    one: the central band of a demand with many zero days covered 92 % at 80 % on M5 items.
    (Bands of two close levels may then cross on a day where only the wider reaches 0.)

Dependence
    ``dependence`` is the lag-1 autocorrelation of the scaled residuals of the whole-tail
    fold in day order (:func:`forecasting.models.aggregation.residual_dependence`): how
    weekly and monthly sums of a forecast widen their bands (:mod:`forecasting.models.aggregation`).

Horizon
    The residuals pool every step from 1 to the validation tail's n days (the first
    fold reaches n days ahead, the later ones fewer), so the band is that of a forecast
    over the validated horizon. Beyond the n validated days it grows as ``sqrt(h / n)``.
    Bands per step (or per week of steps) were tried: with three origins a week of steps
    holds about 21 residuals, and their noise moved the 80 % coverage of stationary
    noise by up to 8 points, and rescaled count residuals off whole units.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from forecasting.models.aggregation import residual_dependence

METHOD = "fold_residual_quantiles"
#: Added to the forecast before the square root so zero forecasts keep a non-zero band.
SCALE_OFFSET = 1.0
#: Probabilities the residual quantiles are kept at: levels 1 % to 99 % are interpolated.
GRID: tuple[float, ...] = tuple(round(p, 4) for p in np.arange(0.005, 1.0, 0.005))
#: Fewer residuals than this keep the Poisson floor (a short window may have been predicted exactly).
MIN_EMPIRICAL = 30


def scale(forecast: ArrayLike) -> np.ndarray:
    """Return ``sqrt(max(forecast, 0) + SCALE_OFFSET)``, what residuals are divided by."""
    return np.sqrt(np.clip(np.asarray(forecast, dtype=float), 0.0, None) + SCALE_OFFSET)


def calibrate(folds: Iterable[tuple[ArrayLike, ArrayLike]], validation_days: int,
              levels: Sequence[float] = (0.8, 0.95)) -> dict[str, Any]:
    """Return the JSON-able interval description from the ensemble's fold forecasts.

    Parameters
    ----------
    folds : iterable of (actual, forecast)
        Per fold origin, the held-out demand from that origin on and the ensemble's
        forecast of it (step 1 first); NaN actual days (closed, gaps) are skipped.
    validation_days : int
        Days of the validation tail (beyond them the band grows as ``sqrt(h / n)``).
    levels : sequence of float
        The levels a forecast gives by default (``interval_levels``); any other can be asked for.

    Returns
    -------
    dict
        ``method``, ``validation_days``, ``levels``, ``residuals`` (count), ``grid`` and
        ``quantiles`` (scaled residual quantiles at ``grid``), ``poisson_floor`` (bool),
        ``whole_units`` (every scored demand a whole number: lower bounds round down to one),
        ``dependence`` (lag-1 dependence of the first fold's scaled residuals).

    Raises
    ------
    ValueError
        When no fold has a scored day.
    """
    errors, scales, whole = [], [], True
    folds = list(folds)
    for actual, forecast in folds:
        a, f = np.asarray(actual, dtype=float).ravel(), np.asarray(forecast, dtype=float).ravel()
        a, f = a[: f.size], f[: a.size]
        known = np.isfinite(a) & np.isfinite(f)
        errors.append((a - f)[known])
        scales.append(scale(f[known]))
        whole = whole and bool(np.all(a[known] == np.round(a[known])))
    error, spread = np.concatenate(errors or [np.zeros(0)]), np.concatenate(scales or [np.zeros(0)])
    if error.size == 0:
        raise ValueError("No fold has a scored day to calibrate the intervals on.")
    if whole:
        # Spread each count evenly over its unit (mid-p): a bound read off the quantiles then
        # covers its level on average over products, not the share up to the next whole unit.
        error = error + _unit_spread(error.size)
    first = errors[0] / scales[0] if errors else np.zeros(0)
    r = error / spread
    for level in levels:
        if not 0 < level < 1:
            raise ValueError(f"Interval levels must lie in (0, 1), got {level}.")
    # Conservative on count data: the upper quantiles round up to an observed residual, the lower ones down.
    grid = np.asarray(GRID)
    quantiles = np.where(grid >= 0.5, np.quantile(r, grid, method="higher"), np.quantile(r, grid, method="lower"))
    return {
        "method": METHOD,
        "validation_days": int(validation_days),
        "levels": [float(level) for level in levels],
        "residuals": int(r.size),
        "grid": list(GRID),
        "quantiles": [float(q) for q in quantiles],
        "poisson_floor": bool(r.size < MIN_EMPIRICAL),
        "whole_units": whole,
        "dependence": residual_dependence(first),
    }


def _unit_spread(size: int) -> np.ndarray:
    """Return `size` offsets spread evenly over (-0.5, 0.5), deterministic (a golden-ratio sequence)."""
    return (np.arange(1, size + 1) * 0.6180339887498949) % 1.0 - 0.5


def residual_quantile(intervals: Mapping[str, Any], probability: float) -> float:
    """Return the scaled residual quantile at `probability`, read outwards on the grid.

    Above the median the next grid point at or above `probability`, below it the last at
    or below (the grid's ends beyond them): never narrower than the probability asks.
    """
    grid, quantiles = np.asarray(intervals["grid"]), intervals["quantiles"]
    if probability >= 0.5:
        position = min(int(np.searchsorted(grid, probability - 1e-9, side="left")), len(grid) - 1)
    else:
        position = max(int(np.searchsorted(grid, probability + 1e-9, side="right")) - 1, 0)
    return float(quantiles[position])


def bounds(forecast: ArrayLike, intervals: Mapping[str, Any], level: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the `level` central interval around `forecast`.

    Parameters
    ----------
    forecast : array-like
        Ensemble forecast, step 1 first.
    intervals : mapping
        What :func:`calibrate` returned (possibly read back from JSON).
    level : float
        Nominal coverage in (0, 1), e.g. 0.8; any level, not only those the set was trained with.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Lower bounds clipped at 0, ``lower <= forecast <= upper``.
    """
    if not 0 < level < 1:
        raise ValueError(f"Interval levels must lie in (0, 1), got {level}.")
    f = np.clip(np.asarray(forecast, dtype=float).ravel(), 0.0, None)
    n = max(int(intervals["residuals"]), 1)
    upper_p = min(1.0, (1 + level) / 2 * (n + 1) / n)
    lower_p = max(0.0, 1 - (1 + level) / 2 * (n + 1) / n)
    low, high = residual_quantile(intervals, lower_p), residual_quantile(intervals, upper_p)
    if intervals.get("poisson_floor"):
        z = float(NormalDist().inv_cdf((1 + level) / 2))
        low, high = min(low, -z), max(high, z)
    low, high = min(low, 0.0), max(high, 0.0)
    steps = np.arange(1, f.size + 1)
    validated = max(int(intervals["validation_days"]), 1)
    width = scale(f) * np.sqrt(np.maximum(steps / validated, 1.0))
    lower, upper = np.clip(f + low * width, 0.0, f), f + high * width
    if intervals.get("whole_units"):
        # Demand counted in units: a lower bound of 0.1 would leave out every day that sold
        # nothing (the residual of a zero day read at another forecast level); round it down.
        lower = np.floor(lower + 1e-9)
    # Where the band reaches 0, no demand lies below it: the upper bound alone sets the
    # coverage, so it is the `level` quantile rather than the (1 + level) / 2 one.
    one_sided = f + max(residual_quantile(intervals, min(1.0, level * (n + 1) / n)), 0.0) * width
    upper = np.where(lower <= 0, np.minimum(upper, one_sided), upper)
    return lower, upper


def all_bounds(forecast: ArrayLike, intervals: Mapping[str, Any],
               levels: Sequence[float]) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """Return ``{level: bounds(forecast, intervals, level)}`` for each of `levels`."""
    return {float(level): bounds(forecast, intervals, float(level)) for level in levels}
