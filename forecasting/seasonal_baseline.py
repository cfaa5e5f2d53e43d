"""The yearly baseline of daily demand: the same weekday a year before, averaged over a few weeks.

The baseline of a day reads only days at least 343 days before it, so a forecast of up
to 343 days uses observed demand only.
"""

from __future__ import annotations

import numpy as np

#: The same weekday a year before (52 weeks).
YEAR = 364
#: Weeks on each side of the same weekday a year before that the baseline averages.
BASELINE_WEEKS = 3
#: The first day with a complete baseline.
BASELINE_START = YEAR + 7 * BASELINE_WEEKS


def yearly_baseline(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Return the yearly baseline of the days at `positions` (see the module docstring).

    Parameters
    ----------
    values : numpy.ndarray
        Observed daily demand, oldest first.
    positions : numpy.ndarray
        Integer day positions, possibly past ``len(values)`` (forecast days). Only
        observed values are averaged; a day with none of its 7 values observed takes
        the baseline of the day a year before it, and NaN when that is unknown too.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(positions),)``.
    """
    values = np.asarray(values, dtype=float)
    positions = np.asarray(positions, dtype=np.int64)
    offsets = YEAR + 7 * np.arange(-BASELINE_WEEKS, BASELINE_WEEKS + 1)
    index = positions[:, None] - offsets[None, :]
    valid = (index >= 0) & (index < len(values))
    total = np.where(valid, values[np.clip(index, 0, len(values) - 1)], 0.0).sum(axis=1)
    count = valid.sum(axis=1)
    out = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    # Past the 343rd forecast day: repeat the baseline of a year before (forecasts beyond a year).
    known = dict(zip(positions.tolist(), out.tolist()))
    for i in np.flatnonzero(~np.isfinite(out) & (positions >= len(values))):
        before = known.get(int(positions[i]) - YEAR)
        if before is not None:
            out[i] = before
            known[int(positions[i])] = before
    return out
