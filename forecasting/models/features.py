"""Calendar and history features of the RandomForest, on a deseasonalised log scale.

The forest models ``z``, the log demand minus its seasonal profile (see
:mod:`forecasting.models.decomposition`). A row describes one target day from its calendar
and from the ``z`` of the days before it, each history feature taken relative to the
day's *level*, the mean ``z`` of the ``LEVEL_DAYS`` days before it; the target is the
day's ``z`` minus that level. Rows are therefore free of the product's scale and of its
slow growth, and a forest trained on years of a growing product applies to its future.

A row uses only the days before its target day, so a model trained on
:func:`training_frame` can forecast recursively with :func:`next_features`: predict a
day, append it to the history, build the next row. Both paths compute the history
features with the same numpy code on index matrices, so a row built on the tail of a
history is identical to the row of the training frame for the same day.

Features (20 without a calendar; the forest adds the calendar's, see
:func:`forecasting.models.calendar_inputs.known_inputs`)
    Calendar of the target day: weekday, month, quarter, weekend, day of month, the
    year and week as sin/cos. History, each relative to the level: the means of the
    last 7, 14, 28 and 91 days, the same weekday 1 to 4 weeks back and their mean, the
    spread (standard deviation) of the last 7 and 28 days.

Strategy
    Recursive: one model predicts the next day, and a forecast feeds each prediction
    back as history, so a lag of any length is available at every step of any horizon
    and no row reads a day at or after its target (:func:`next_features` is the
    training row of the day after the values it is given). The shortest lag is 7
    days: on 10 store-item series (train to 2017-09-30, 92 days ahead) lags of 1 to 6
    days and day-of-year features let the trees fit the noise of single days (SMAPE
    13.9 with lags 1..364 on raw demand, 11.8 without short lags).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CALENDAR_FEATURES: tuple[str, ...] = (
    "day_of_week",
    "month",
    "quarter",
    "is_weekend",
    "day_of_month",
    "year_sin",
    "year_cos",
    "week_sin",
    "week_cos",
)
HISTORY_FEATURES: tuple[str, ...] = (
    "mean_7", "mean_14", "mean_28", "mean_91",
    "lag_7", "lag_14", "lag_21", "lag_28", "weekday_mean_4",
    "std_7", "std_28",
)
#: History features that are a spread, not a level: not taken relative to the level.
SPREAD_FEATURES: frozenset[str] = frozenset({"std_7", "std_28"})
FEATURE_NAMES: tuple[str, ...] = CALENDAR_FEATURES + HISTORY_FEATURES

#: Days of history a training row needs: the 28-day window is then complete.
MIN_CONTEXT = 28
#: Days averaged into a row's level: a year, so the seasons average out.
LEVEL_DAYS = 364
#: Longest look-back of any feature; :func:`next_features` only reads this many days.
MAX_LOOKBACK = LEVEL_DAYS


def forecast_dates(history: pd.Series, horizon: int) -> pd.DatetimeIndex:
    """Return the `horizon` days after the last day of `history` (an index named ``date``).

    Raises
    ------
    ValueError
        When `horizon` is below 1.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1, got {horizon}.")
    return pd.date_range(history.index[-1] + pd.Timedelta(days=1), periods=horizon, freq="D", name="date")


def calendar_features(dates: pd.DatetimeIndex) -> np.ndarray:
    """Return the calendar features of `dates`.

    Parameters
    ----------
    dates : pandas.DatetimeIndex
        Target days.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(dates), len(CALENDAR_FEATURES))``, float64.
    """
    dates = pd.DatetimeIndex(dates)
    dow = dates.day_of_week.to_numpy(dtype=float)
    year_angle = 2 * np.pi * dates.day_of_year.to_numpy(dtype=float) / 365.25
    week_angle = 2 * np.pi * dow / 7
    columns = [
        dow,
        dates.month.to_numpy(dtype=float),
        dates.quarter.to_numpy(dtype=float),
        (dow >= 5).astype(float),
        dates.day.to_numpy(dtype=float),
        np.sin(year_angle),
        np.cos(year_angle),
        np.sin(week_angle),
        np.cos(week_angle),
    ]
    return np.column_stack(columns)


def _window(values: np.ndarray, positions: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return values[p - offset] for each position and offset, with a mask of valid (>= 0) indices."""
    index = positions[:, None] - offsets[None, :]
    valid = index >= 0
    return np.where(valid, values[np.clip(index, 0, None)], 0.0), valid


def _masked_mean(window: np.ndarray, valid: np.ndarray) -> np.ndarray:
    return window.sum(axis=1) / np.maximum(valid.sum(axis=1), 1)


def _check_positions(values: np.ndarray, positions: np.ndarray) -> None:
    if positions.size and (positions.min() < MIN_CONTEXT or positions.max() > len(values)):
        raise ValueError(f"Positions must lie in [{MIN_CONTEXT}, {len(values)}] (need {MIN_CONTEXT} days of context).")


def level(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Return the mean of the up to ``LEVEL_DAYS`` values before each of `positions`.

    Parameters
    ----------
    values : numpy.ndarray
        Deseasonalised log demand, oldest first.
    positions : numpy.ndarray
        Integer positions of the target days, each in ``[MIN_CONTEXT, len(values)]``.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(positions),)``.
    """
    values = np.asarray(values, dtype=float)
    positions = np.asarray(positions, dtype=np.int64)
    _check_positions(values, positions)
    return trailing_mean(values, positions)


def trailing_mean(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Return the mean of the up to ``LEVEL_DAYS`` values before each of `positions` (each >= 1)."""
    # Cumulative sums: a year's mean per row without a (rows x 364) matrix.
    sums = np.concatenate([[0.0], np.cumsum(values)])
    start = np.maximum(positions - LEVEL_DAYS, 0)
    return (sums[positions] - sums[start]) / (positions - start)


def history_features(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Return the history features of the days at `positions`, relative to their level.

    Parameters
    ----------
    values : numpy.ndarray
        Deseasonalised log demand, oldest first.
    positions : numpy.ndarray
        Integer positions of the target days, each in ``[MIN_CONTEXT, len(values)]``;
        the row of position ``p`` reads only ``values[:p]`` (``p == len(values)`` is the
        day after the last value).

    Returns
    -------
    numpy.ndarray
        Shape ``(len(positions), len(HISTORY_FEATURES))``, float64.
    """
    return _history_rows(values, positions)[0]


def _history_rows(values: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the history features of the days at `positions` and their level (computed once)."""
    values = np.asarray(values, dtype=float)
    positions = np.asarray(positions, dtype=np.int64)
    _check_positions(values, positions)
    # Column k of the window is the day k + 1 before the target: never the target itself.
    last91, valid91 = _window(values, positions, np.arange(1, 92))
    weekly = last91[:, [6, 13, 20, 27]]
    columns = {
        "mean_7": last91[:, :7].mean(axis=1), "mean_14": last91[:, :14].mean(axis=1),
        "mean_28": last91[:, :28].mean(axis=1), "mean_91": _masked_mean(last91, valid91),
        "lag_7": weekly[:, 0], "lag_14": weekly[:, 1], "lag_21": weekly[:, 2], "lag_28": weekly[:, 3],
        "weekday_mean_4": weekly.mean(axis=1),
        "std_7": last91[:, :7].std(axis=1), "std_28": last91[:, :28].std(axis=1),
    }
    base = trailing_mean(values, positions)
    return np.column_stack([columns[name] - (0.0 if name in SPREAD_FEATURES else base)
                            for name in HISTORY_FEATURES]), base


def training_frame(values: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    """Return the features and targets of every day of `values` with enough context.

    Parameters
    ----------
    values : pandas.Series
        Deseasonalised log demand on a contiguous daily DatetimeIndex.

    Returns
    -------
    X : pandas.DataFrame
        One row per day from the ``MIN_CONTEXT``-th on, columns ``FEATURE_NAMES``.
    y : pandas.Series
        The value of those days minus their level.
    """
    if len(values) <= MIN_CONTEXT:
        raise ValueError(f"Need more than {MIN_CONTEXT} days of history to build features, got {len(values)}.")
    array = values.to_numpy(dtype=float)
    positions = np.arange(MIN_CONTEXT, len(array))
    dates = pd.DatetimeIndex(values.index[MIN_CONTEXT:])
    history, base = _history_rows(array, positions)
    X = pd.DataFrame(np.hstack([calendar_features(dates), history]), index=dates, columns=list(FEATURE_NAMES))
    y = pd.Series(array[MIN_CONTEXT:] - base, index=dates, name="target")
    return X, y


def next_features(
    values: np.ndarray, date: pd.Timestamp | None = None, calendar_row: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """Return the feature row and the level of the day after `values`.

    Parameters
    ----------
    values : numpy.ndarray
        Deseasonalised log demand up to the day before the target (history extended by
        earlier predictions), at least ``MIN_CONTEXT`` values; only the last
        ``MAX_LOOKBACK`` are read.
    date : pandas.Timestamp, optional
        The target day; give it or `calendar_row`.
    calendar_row : numpy.ndarray, optional
        Precomputed ``calendar_features([date])[0]`` (saves pandas work in a loop).

    Returns
    -------
    row : numpy.ndarray
        Shape ``(len(FEATURE_NAMES),)``.
    level : float
        What the forest's prediction for the row is relative to.
    """
    if calendar_row is None:
        if date is None:
            raise ValueError("Give the target date or its calendar row.")
        calendar_row = calendar_features(pd.DatetimeIndex([date]))[0]
    tail = np.asarray(values, dtype=float)[-MAX_LOOKBACK:]
    history, base = _history_rows(tail, np.array([len(tail)]))
    return np.concatenate([calendar_row, history[0]]), float(base[0])
