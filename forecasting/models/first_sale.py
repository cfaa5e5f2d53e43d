"""The days before a product's first sale: not demand of zero, a product not yet on sale.

A store that opens, or an item that is listed, months after the data begin has a history
that starts with a run of zeros. Fitted as demand they drag the level, the seasonal
profile and the lags of the first weeks towards 0 (Rossmann store 103 starts with 185 such
days). They are dropped from the fits and from the history a forecast starts from when
the opening run is longer than any later run of days without a sale: a few quiet days
at the start of an intermittent item are its ordinary demand (dropping the 5 of a
dead test item let Prophet's forecast win its validation). A history that never sold
is kept whole (a dead item: TSB forecasts it), and training keeps at least the fewest
days a set needs, so a product that qualifies by its length still trains.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def since_first_sale(history: pd.Series, keep: int = 0) -> pd.Series:
    """Return `history` from its first day of positive demand, never fewer than its last `keep` days.

    Only an opening run without sales longer than every later one is dropped.

    Parameters
    ----------
    history : pandas.Series
        Daily demand (NaN on closed and gap days, which are neither sales nor zeros).
    keep : int
        Fewest days returned (all of `history` when it is shorter).

    Returns
    -------
    pandas.Series
        A tail of `history`; `history` itself when it never sold or its start is no quieter than later stretches.
    """
    sold = np.flatnonzero(np.nan_to_num(history.to_numpy(dtype=float), nan=0.0) > 0)
    if sold.size == 0:
        return history
    later_gaps = np.diff(sold) - 1
    if sold[0] <= max(int(later_gaps.max(initial=0)), len(history) - 1 - int(sold[-1])):
        return history
    start = min(int(sold[0]), max(len(history) - keep, 0))
    return history.iloc[start:]
