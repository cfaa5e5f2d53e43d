"""Engineered calendar, lag and rolling features of the RandomForest.

A row of features describes one target day and uses only the demand of the days
before it, so a model trained on :func:`training_frame` can forecast recursively
with :func:`next_features`: predict a day, append it to the history, build the
next row.

Both paths compute the history features with the same numpy code on index
matrices, so a row built on the tail of a history is identical to the row of the
training frame for the same day, and a recursive step costs microseconds instead
of a pandas rolling pass over years.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CALENDAR_FEATURES: tuple[str, ...] = (
    "day_of_week",
    "month",
    "day_of_month",
    "day_of_year",
    "week_of_year",
    "quarter",
    "is_weekend",
    "is_month_start",
    "is_month_end",
    "year_sin",
    "year_cos",
    "week_sin",
    "week_cos",
    "time_index",
)
HISTORY_FEATURES: tuple[str, ...] = (
    "lag_1",
    "lag_7",
    "lag_14",
    "lag_28",
    "lag_364",
    "mean_7",
    "mean_14",
    "mean_28",
    "mean_91",
    "std_7",
    "std_14",
    "std_28",
    "min_7",
    "max_7",
    "same_weekday_mean_4",
    "same_weekday_mean_52",
    "momentum_7_28",
)
FEATURE_NAMES: tuple[str, ...] = CALENDAR_FEATURES + HISTORY_FEATURES

#: Days of history a training row needs: lag 28 and the 28-day windows are then complete.
MIN_CONTEXT = 28
#: Longest look-back of any feature; :func:`next_features` only reads this many days.
MAX_LOOKBACK = 364


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
    doy = dates.day_of_year.to_numpy(dtype=float)
    # Days since 1970 whatever the index resolution (pandas 3 may use us or s).
    days = dates.to_numpy().astype("datetime64[D]").astype(np.int64).astype(float)
    year_angle = 2 * np.pi * doy / 365.25
    week_angle = 2 * np.pi * dow / 7
    columns = [
        dow,
        dates.month.to_numpy(dtype=float),
        dates.day.to_numpy(dtype=float),
        doy,
        dates.isocalendar().week.to_numpy(dtype=float),
        dates.quarter.to_numpy(dtype=float),
        (dow >= 5).astype(float),
        dates.is_month_start.astype(float),
        dates.is_month_end.astype(float),
        np.sin(year_angle),
        np.cos(year_angle),
        np.sin(week_angle),
        np.cos(week_angle),
        days / 365.25,
    ]
    return np.column_stack(columns)


def _window(values: np.ndarray, positions: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return values[p - offset] for each position and offset, with a mask of valid (>= 0) indices."""
    index = positions[:, None] - offsets[None, :]
    valid = index >= 0
    return np.where(valid, values[np.clip(index, 0, None)], 0.0), valid


def _masked_mean(window: np.ndarray, valid: np.ndarray) -> np.ndarray:
    return window.sum(axis=1) / np.maximum(valid.sum(axis=1), 1)


def history_features(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Return the lag and rolling features of the days at `positions`.

    Parameters
    ----------
    values : numpy.ndarray
        Daily demand, oldest first.
    positions : numpy.ndarray
        Integer positions of the target days, each in ``[MIN_CONTEXT, len(values)]``;
        the row of position ``p`` reads only ``values[:p]`` (``p == len(values)`` is the
        day after the last value).

    Returns
    -------
    numpy.ndarray
        Shape ``(len(positions), len(HISTORY_FEATURES))``, float64.
    """
    values = np.asarray(values, dtype=float)
    positions = np.asarray(positions, dtype=np.int64)
    if positions.size and (positions.min() < MIN_CONTEXT or positions.max() > len(values)):
        raise ValueError(f"Positions must lie in [{MIN_CONTEXT}, {len(values)}] (need {MIN_CONTEXT} days of context).")
    last28, _ = _window(values, positions, np.arange(1, 29))
    last91, valid91 = _window(values, positions, np.arange(1, 92))
    weekdays52, valid52 = _window(values, positions, np.arange(7, 365, 7))
    last7, last14 = last28[:, :7], last28[:, :14]
    mean_7, mean_28 = last7.mean(axis=1), last28.mean(axis=1)
    same_weekday_52 = _masked_mean(weekdays52, valid52)
    # Before a full year the same-weekday mean is the best stand-in for last year's value.
    lag_364 = np.where(valid52[:, -1], weekdays52[:, -1], same_weekday_52)
    columns = [
        last28[:, 0],
        last28[:, 6],
        last28[:, 13],
        last28[:, 27],
        lag_364,
        mean_7,
        last14.mean(axis=1),
        mean_28,
        _masked_mean(last91, valid91),
        last7.std(axis=1, ddof=1),
        last14.std(axis=1, ddof=1),
        last28.std(axis=1, ddof=1),
        last7.min(axis=1),
        last7.max(axis=1),
        weekdays52[:, :4].mean(axis=1),
        same_weekday_52,
        mean_7 - mean_28,
    ]
    return np.column_stack(columns)


def training_frame(history: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    """Return the features and targets of every day of `history` with enough context.

    Parameters
    ----------
    history : pandas.Series
        Daily demand on a contiguous daily DatetimeIndex.

    Returns
    -------
    X : pandas.DataFrame
        One row per day from the ``MIN_CONTEXT``-th on, columns ``FEATURE_NAMES``.
    y : pandas.Series
        The demand of those days.
    """
    if len(history) <= MIN_CONTEXT:
        raise ValueError(f"Need more than {MIN_CONTEXT} days of history to build features, got {len(history)}.")
    values = history.to_numpy(dtype=float)
    positions = np.arange(MIN_CONTEXT, len(values))
    dates = pd.DatetimeIndex(history.index[MIN_CONTEXT:])
    matrix = np.hstack([calendar_features(dates), history_features(values, positions)])
    X = pd.DataFrame(matrix, index=dates, columns=list(FEATURE_NAMES))
    y = pd.Series(values[MIN_CONTEXT:], index=dates, name="demand")
    return X, y


def next_features(values: np.ndarray, date: pd.Timestamp | None = None, calendar_row: np.ndarray | None = None) -> np.ndarray:
    """Return the feature row of the day after `values`.

    Parameters
    ----------
    values : numpy.ndarray
        Daily demand up to the day before the target (history extended by earlier
        predictions), at least ``MIN_CONTEXT`` values; only the last ``MAX_LOOKBACK`` are read.
    date : pandas.Timestamp, optional
        The target day; give it or `calendar_row`.
    calendar_row : numpy.ndarray, optional
        Precomputed ``calendar_features([date])[0]`` (saves pandas work in a loop).

    Returns
    -------
    numpy.ndarray
        Shape ``(len(FEATURE_NAMES),)``.
    """
    if calendar_row is None:
        if date is None:
            raise ValueError("Give the target date or its calendar row.")
        calendar_row = calendar_features(pd.DatetimeIndex([date]))[0]
    tail = np.asarray(values, dtype=float)[-MAX_LOOKBACK:]
    history_row = history_features(tail, np.array([len(tail)]))[0]
    return np.concatenate([calendar_row, history_row])
