"""A daily forecast summed into weeks or months, with interval bounds for the sums.

Points
    The forecast and each member's values of the days of a period are summed. Weeks run
    Monday to Sunday and months are calendar months; the first and last periods hold only
    the forecast days inside them (``days`` says how many).

Bounds
    A period's bound is not the sum of its days' bounds: that sum is the quantile of the
    total only when the days' errors move in lockstep (comonotonic), and it overstates
    the band of a total whose days' errors partly cancel. Nor are the days independent:
    a forecast whose level is off is off on every day. The dependence model is an AR(1)
    correlation of the days' scaled errors, ``corr(e_i, e_j) = rho ** |i - j|``, with
    ``rho`` the lag-1 autocorrelation (uncentred, so a persistent bias counts as
    dependence) of the set's scaled validation residuals, clipped to [0, 1]. Each day's
    half-width (``upper - forecast`` above, ``forecast - lower`` below) stands for its
    error's scale, and a period's half-width is ``sqrt(w' R w)``: exact for Gaussian
    errors of that correlation, the plain sum when ``rho`` is 1, the root of the sum of
    squares when it is 0. Lower bounds are clipped at 0. Closed days (0 with bounds 0)
    add nothing.

    Checked on held-out real series (``tests/forecasting/models/test_aggregation_coverage.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

FREQUENCIES = ("daily", "weekly", "monthly")
_PERIODS = {"weekly": "W-SUN", "monthly": "M"}


def residual_dependence(residuals: Sequence[float]) -> float:
    """Return ``rho``: the uncentred lag-1 autocorrelation of `residuals`, clipped to [0, 1] (0 for fewer than 2)."""
    r = np.asarray(residuals, dtype=float)
    r = r[np.isfinite(r)]
    denominator = float(np.sum(r * r))
    if r.size < 2 or denominator == 0:
        return 0.0
    return float(np.clip(np.sum(r[1:] * r[:-1]) / denominator, 0.0, 1.0))


def _combined_width(widths: np.ndarray, rho: float) -> float:
    positions = np.arange(widths.size)
    correlation = rho ** np.abs(positions[:, None] - positions[None, :]) if rho > 0 else np.eye(widths.size)
    return float(np.sqrt(max(widths @ correlation @ widths, 0.0)))


def aggregate(frame: pd.DataFrame, frequency: str, *, rho: float,
              bounds: Sequence[tuple[str, str]] = (("lower", "upper"),)) -> pd.DataFrame:
    """Return `frame` (daily: ``forecast``, bound columns, member columns) summed per period.

    Parameters
    ----------
    frame : pandas.DataFrame
        A daily forecast, indexed by day (:func:`forecasting.models.model_set.forecast`).
    frequency : str
        ``daily`` (returned as it is), ``weekly`` or ``monthly``.
    rho : float
        The days' error correlation at lag 1 (:func:`residual_dependence`).
    bounds : sequence of (str, str)
        The (lower, upper) column pairs; every other column is summed.

    Returns
    -------
    pandas.DataFrame
        Indexed by each period's first forecast day; ``end`` (its last forecast day) and
        ``days``, then the columns of `frame`.
    """
    if frequency not in FREQUENCIES:
        raise ValueError(f"frequency must be one of {', '.join(FREQUENCIES)}, got {frequency!r}.")
    if frequency == "daily":
        return frame
    bound_columns = {name for pair in bounds for name in pair}
    rows = []
    index = pd.DatetimeIndex(frame.index)
    for _, days in frame.groupby(index.to_period(_PERIODS[frequency]), sort=True):
        row: dict[str, object] = {"date": days.index[0], "end": days.index[-1], "days": len(days)}
        for name in frame.columns:
            if name not in bound_columns:
                row[name] = float(days[name].sum())
        daily = days["forecast"].to_numpy(dtype=float)
        for lower, upper in bounds:
            above = _combined_width(days[upper].to_numpy(dtype=float) - daily, rho)
            below = _combined_width(daily - days[lower].to_numpy(dtype=float), rho)
            row[lower], row[upper] = max(row["forecast"] - below, 0.0), row["forecast"] + above
        rows.append(row)
    out = pd.DataFrame(rows).set_index("date")
    return out[["end", "days", *frame.columns]]
