"""Closed days read from the history, for products trained without a calendar that says so.

A shop shut on Sundays sells exactly 0 every Sunday. Without a calendar those zeros look
like demand: on the members' log scale they drag the weekly profile to nothing and the
open days' forecasts with it, and the closed days are forecast non-zero. Two fixed rules
(never tuned on a scored window) tell such zeros apart from demand:

Closed weekdays
    Over the last ``CLOSURE_WEEKS`` weeks of the training history, a weekday whose known
    days are at least ``CLOSED_SHARE`` exactly 0, while the median of the product's other
    days is at least ``MIN_OPEN_MEDIAN``, is a closed weekday. Its days are left out of
    every fit (NaN, like a calendar's closed days) and forecast exactly 0, bounds
    included. Only a product that is not intermittent once those weekdays are left out
    qualifies: a product whose zeros are everywhere keeps the intermittent path (TSB).
    At a Poisson rate of 2 a day, 90 % zeros over 52 weeks has a chance below 1e-30, so
    the rule does not mistake a slow weekday for a closed one.

Isolated zero days
    A run of zero days of a product that is not intermittent (one day, up to
    ``MAX_RUN_DAYS``), after which sales resume and whose ``NEIGHBOUR_DAYS`` known days
    before and after have a median of at least ``MIN_NEIGHBOUR_MEDIAN``, is days the
    product could not sell (a public holiday, a shop shut for a refit, a stock-out), not
    demand: it is left out of fitting. It is not forecast 0: without a calendar the future holidays are unknown. A
    zero is then about as likely as e**-10 under Poisson demand of that level. Zeros at
    the end of the history stay demand: a product that stopped selling sold nothing.

A calendar wins: a day whose ``open`` the calendar states is decided by the calendar,
and the rules only read and change the days it leaves unstated. The closed weekdays are
recorded in the set's model_info.json (``closures``), so a forecast applies the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.models.intermittent import INTERMITTENT_CLASSES, demand_shape

#: Weeks of recent history the closed-weekday rule reads (a year: the current opening hours).
CLOSURE_WEEKS = 52
#: Share of a weekday's known days that must be exactly 0 for it to be closed.
CLOSED_SHARE = 0.9
#: Fewest known days of a weekday in the window before it can be called closed.
MIN_WEEKDAY_DAYS = 8
#: Median demand of the other days required: a closed weekday stands out from clearly open days.
MIN_OPEN_MEDIAN = 2.0
#: Known days either side of a run of zeros whose demand tells an isolated zero.
NEIGHBOUR_DAYS = 7
#: Median of those neighbours above which a zero is not demand.
MIN_NEIGHBOUR_MEDIAN = 10.0
#: Fewest known neighbours for the isolated-zero rule.
MIN_NEIGHBOURS = 4
#: Longest run of zeros (calendar days, first to last zero) the isolated-zero rule leaves out:
#: a shop shut for a refit reopens within weeks; a longer stretch is a change of the demand
#: itself (delisted, out of season) and stays what the product sold.
MAX_RUN_DAYS = 42


@dataclass(frozen=True)
class Closures:
    """What the rules found in a training history.

    Attributes
    ----------
    weekdays : tuple of int
        Closed weekdays (Monday 0 .. Sunday 6), sorted.
    isolated_zeros : bool
        Whether isolated zero days are left out of fitting (the product is not intermittent).
    """

    weekdays: tuple[int, ...] = ()
    isolated_zeros: bool = False

    def to_dict(self) -> dict[str, object]:
        """Return the JSON form recorded in model_info.json."""
        return {"weekdays": list(self.weekdays), "isolated_zeros": self.isolated_zeros}

    @classmethod
    def from_dict(cls, values: dict[str, object] | None) -> Closures:
        """Rebuild from :meth:`to_dict` (None: a set that inferred nothing)."""
        values = values or {}
        weekdays = values.get("weekdays") or []
        return cls(tuple(sorted(int(day) for day in weekdays)),  # type: ignore[union-attr]
                   bool(values.get("isolated_zeros", False)))


def stated_open(calendar: pd.DataFrame | None, dates: pd.DatetimeIndex) -> np.ndarray:
    """Return, per date, whether `calendar` states the day's ``open`` (then the calendar decides it)."""
    dates = pd.DatetimeIndex(dates)
    if calendar is None or "open" not in calendar:
        return np.zeros(len(dates), dtype=bool)
    column = calendar["open"].copy()
    column.index = pd.DatetimeIndex(column.index).normalize()
    column = column[~column.index.duplicated(keep="last")].reindex(dates)
    return column.notna().to_numpy()


def infer(history: pd.Series, calendar: pd.DataFrame | None = None) -> Closures:
    """Find the closed weekdays and whether isolated zeros are left out, from the training `history` only.

    Parameters
    ----------
    history : pandas.Series
        Daily demand on a contiguous DatetimeIndex, calendar-closed and gap days NaN.
    calendar : pandas.DataFrame, optional
        Days whose ``open`` it states are not read (the calendar decides them).

    Returns
    -------
    Closures
    """
    dates = pd.DatetimeIndex(history.index)
    values = history.to_numpy(dtype=float).copy()
    values[stated_open(calendar, dates)] = np.nan
    recent = slice(max(0, len(values) - 7 * CLOSURE_WEEKS), len(values))
    window, weekday = values[recent], dates.day_of_week.to_numpy()[recent]
    candidates = []
    for day in range(7):
        known = window[(weekday == day) & np.isfinite(window)]
        others = window[(weekday != day) & np.isfinite(window)]
        if len(known) < MIN_WEEKDAY_DAYS or not len(others):
            continue
        if np.mean(known == 0) >= CLOSED_SHARE and np.median(others) >= MIN_OPEN_MEDIAN:
            candidates.append(day)
    weekdays = tuple(candidates)
    # The demand class of what the members would see: a product whose zeros are everywhere
    # stays intermittent once its candidate weekdays are left out, and keeps the TSB path.
    shape = demand_shape(_mask_weekdays(history.astype(float), weekdays, calendar))
    if shape["class"] in INTERMITTENT_CLASSES:
        return Closures()
    return Closures(weekdays, isolated_zeros=True)


def _mask_weekdays(history: pd.Series, weekdays: tuple[int, ...], calendar: pd.DataFrame | None) -> pd.Series:
    if not weekdays:
        return history
    dates = pd.DatetimeIndex(history.index)
    closed = np.isin(dates.day_of_week, weekdays) & ~stated_open(calendar, dates)
    return history.mask(closed) if closed.any() else history


def closed_days(closures: Closures, dates: pd.DatetimeIndex, calendar: pd.DataFrame | None = None) -> np.ndarray:
    """Return, per date, whether it falls on a closed weekday the calendar does not state open or shut."""
    dates = pd.DatetimeIndex(dates)
    if not closures.weekdays:
        return np.zeros(len(dates), dtype=bool)
    return np.isin(dates.day_of_week, closures.weekdays) & ~stated_open(calendar, dates)


def apply(history: pd.Series, closures: Closures, calendar: pd.DataFrame | None = None) -> pd.Series:
    """Return `history` (float) with the closed weekdays and, if recorded, the isolated zeros NaN.

    Only days whose ``open`` the calendar does not state are changed.
    """
    values = _mask_weekdays(history.astype(float), closures.weekdays, calendar)
    if not closures.isolated_zeros:
        return values
    array = values.to_numpy(dtype=float)
    free = ~stated_open(calendar, pd.DatetimeIndex(values.index))
    # Runs of zeros among the known days (a closed weekday or gap between them does not end a run).
    known = np.flatnonzero(np.isfinite(array))
    sequence = array[known]
    isolated = np.zeros(len(array), dtype=bool)
    start = 0
    while start < len(sequence):
        if sequence[start] != 0:
            start += 1
            continue
        end = start
        while end + 1 < len(sequence) and sequence[end + 1] == 0:
            end += 1
        before = sequence[max(0, start - NEIGHBOUR_DAYS):start]
        after = sequence[end + 1:end + 1 + NEIGHBOUR_DAYS]
        around = np.concatenate([before, after])
        # Sales must resume after the run: trailing zeros are a product that stopped selling.
        short = known[end] - known[start] + 1 <= MAX_RUN_DAYS
        if short and len(after) and len(around) >= MIN_NEIGHBOURS and np.median(around) >= MIN_NEIGHBOUR_MEDIAN:
            isolated[known[start:end + 1]] = True
        start = end + 1
    isolated &= free
    return values.mask(isolated) if isolated.any() else values
