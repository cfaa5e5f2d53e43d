"""A two-week cycle of daily demand (promotions every other week), found in the history or not.

Some retailers run a promotion on alternate weeks, so a weekday sells more in one week of
each fortnight than in the other. A model that is given no promotion calendar can only
read that cycle from the sales; the seasonal profile
(:mod:`forecasting.models.decomposition`) then takes it as seven log-scale offsets, one
per weekday, added in the weeks of one kind and subtracted in the others.

Weeks and phase
    Weeks are numbered from a fixed Monday (``EPOCH``). A promotion calendar keeps its
    rhythm for months, then skips or repeats a week (around holidays, say), so which weeks
    are "on" is not fixed for good: the cycle records its *phase* (+1: the even weeks are
    the ones the offsets are added in, -1: the odd ones) from each week on where it changed
    (``phases``). Before the first recorded week there is no cycle; after the history the
    last phase runs on, which is how the forecast days get it.

Estimation
    On deseasonalised log demand less its trailing ``LOCAL_DAYS`` moving mean (one week of
    each kind, so the cycle does not leak into it; trailing, so the latest week has one
    too), each week is a vector of seven deviations. The offsets are the shape those vectors share up to their sign (one
    alternating least-squares step at a time: signs from the offsets, offsets from the
    signed weeks, ``ROUNDS`` times, starting from the week numbers' parity); each week's
    sign then gives its phase, taken as the majority of it and its neighbours' (:func:`steady`).

Following the phase
    A forecast reads the phase of the latest weeks of the history it is given
    (:func:`follow`: the last ``FOLLOW_WEEKS`` weeks signed with the fitted offsets), so a
    model fitted before the calendar skipped a week forecasts in the new phase once the
    history shows it, as the later validation origins and a forecast from newer sales do.

Fading
    Whether next week's phase is this week's is a bet the history prices: with q changes
    of phase a week since its first phase, a week on the sign holds on average
    ``hold = 1 - 2q``, and ``k`` weeks on ``hold ** k``, so a day ``k`` weeks after the
    last week read gets ``hold ** k`` of its offset, the forecast that minimises the
    expected squared error if the phase changes at random. On Rossmann (a change about
    every 12 weeks, hold about 0.83) a forecast leans on the cycle for its first weeks and
    little after two months: a window that keeps the phase is forecast a little worse than
    with the whole offsets, one where it changes far better.

Check
    Any series' weeks have *some* shape up to a sign, so the cycle is kept only when the
    signs of consecutive weeks alternate, which is what the forecast relies on (it runs
    the last week's phase on): in at least ``MIN_ALTERNATION`` of the pairs of
    consecutive weeks in the history, and more often than chance (binomial test against
    a coin, p below ``P_VALUE``). Otherwise the offsets are all 0, and the profile is what
    it was without this module. On the training histories of the accuracy bench (see the
    README) 97 of Rossmann's first 100 complete stores keep a cycle (their weeks alternate
    in 90 % of the pairs, the median), and no store-item series or M5 store x department
    series does (none alternates in more than 64 %).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

#: Monday that starts week 0 of the count; any fixed Monday gives the same fortnights.
EPOCH = pd.Timestamp("1970-01-05")
#: Days of the centred moving mean taken out first: one week of each kind.
LOCAL_DAYS = 14
#: Alternating least-squares rounds of the offsets and the week signs.
ROUNDS = 4
#: Share of consecutive weeks whose signs must alternate: the phase runs on three weeks in four.
MIN_ALTERNATION = 0.75
#: Significance of the alternation against a coin's.
P_VALUE = 0.001
#: Fewest pairs of consecutive weeks the check needs (half a year).
MIN_PAIRS = 26
#: Latest weeks a forecast reads the phase from.
FOLLOW_WEEKS = 8
#: Size of the shape's fit that makes a week's phase clear on its own (see :func:`steady`).
CLEAR = 0.5
#: Fewest days a week needs to get a sign of its own (a store shut on Sundays has six).
MIN_WEEK_DAYS = 4


def week_numbers(dates: pd.DatetimeIndex) -> np.ndarray:
    """Return the week of each of `dates`, counted from ``EPOCH``."""
    return (pd.DatetimeIndex(dates) - EPOCH).days.to_numpy() // 7


def offsets_of(dates: pd.DatetimeIndex, fortnight: Sequence[float], phases: Sequence[Sequence[int]],
               hold: float = 1.0, until: int | None = None) -> np.ndarray:
    """Return the cycle's offset of each of `dates` (0 before the first recorded phase).

    Parameters
    ----------
    dates : pandas.DatetimeIndex
        Days to read.
    fortnight : sequence of float
        Offsets of Monday .. Sunday.
    phases : sequence of (int, int)
        ``(week, phase)`` from which week on each phase holds, in order of week.
    hold : float, default 1
        The expected sign of the phase one week on (see the module docstring); a day ``k``
        weeks after `until` gets ``hold ** k`` of its offset.
    until : int, optional
        The last week the phase was read on; None: every day gets its whole offset.
    """
    dates = pd.DatetimeIndex(dates)
    if not len(phases):
        return np.zeros(len(dates))
    weeks = week_numbers(dates)
    starts = np.array([week for week, _ in phases])
    signs = np.array([phase for _, phase in phases], dtype=float)
    position = np.searchsorted(starts, weeks, side="right") - 1
    phase = np.where(position >= 0, signs[np.clip(position, 0, None)], 0.0)
    ahead = np.zeros(len(weeks)) if until is None else np.clip(weeks - until, 0, None)
    return phase * _parity(weeks) * hold ** ahead * np.asarray(fortnight, dtype=float)[dates.day_of_week.to_numpy()]


class Cycle(NamedTuple):
    """A two-week cycle as :func:`estimate` finds it (no cycle: zero offsets, no phases)."""

    offsets: tuple[float, ...] = (0.0,) * 7
    phases: tuple[tuple[int, int], ...] = ()
    hold: float = 1.0
    until: int | None = None


def estimate(values: pd.Series) -> Cycle:
    """Return the offsets and phases of a two-week cycle in `values`; zeros and no phases unless it forecasts.

    Parameters
    ----------
    values : pandas.Series
        Deseasonalised log demand on a contiguous daily DatetimeIndex (NaN: not demand).

    Returns
    -------
    Cycle
        Offsets of Monday .. Sunday, ``(week, phase)`` at each change of phase, the hold
        and the last week of `values` (see the module docstring).
    """
    none = Cycle()
    table, weeks = _weeks(values)
    if len(weeks) < MIN_PAIRS + 1:
        return none
    signs = _parity(weeks)
    for _ in range(ROUNDS):
        # A weekday never open (a store shut on Sundays) has no offset.
        known = np.isfinite(table).any(axis=0)
        shape = np.zeros(7)
        shape[known] = np.nanmean(table[:, known] * signs[:, None], axis=0)
        signs = _signs(table, shape)
    if not alternates(weeks, signs):
        return none
    phase = steady(signs * _parity(weeks), _clear(table, shape))
    phases, until = _changes(weeks, phase), _last_week(values)
    return Cycle(tuple(float(v) for v in shape), phases, hold_of(phases, until), until)


def _last_week(values: pd.Series) -> int:
    return int(week_numbers(pd.DatetimeIndex(values.index[-1:]))[0])


def hold_of(phases: Sequence[Sequence[int]], until: int) -> float:
    """Return the expected sign of the phase a week on, ``1 - 2q`` for q changes of phase a week since the first phase."""
    weeks = until - phases[0][0]
    changes = len(phases) - 1
    return float(max(1.0 - 2.0 * changes / weeks, 0.0)) if weeks > 0 else 1.0


def follow(values: pd.Series, cycle: Cycle) -> Cycle:
    """Return `cycle` with the phase of the last ``FOLLOW_WEEKS`` weeks of `values` read again, up to their last week.

    Parameters
    ----------
    values : pandas.Series
        Log demand less month offsets (weekday offsets too or not: each weekday's mean over
        the weeks read is taken out), on a contiguous daily DatetimeIndex.
    cycle : Cycle
        The fitted cycle (:func:`estimate`); without phases there is nothing to follow.

    Returns
    -------
    Cycle
        The phases before the weeks read, then those the weeks read show; ``until`` the
        last week of `values`.
    """
    if not len(cycle.phases) or not any(cycle.offsets) or values.empty:
        return cycle
    until = _last_week(values)
    table, weeks = _weeks(values.iloc[-7 * FOLLOW_WEEKS - LOCAL_DAYS :])
    table, weeks = table[-FOLLOW_WEEKS:], weeks[-FOLLOW_WEEKS:]
    if len(weeks) < 3:
        return cycle._replace(until=until)
    known = np.isfinite(table).any(axis=0)  # a weekday never open has no mean to take out
    table = table.copy()
    table[:, known] = table[:, known] - np.nanmean(table[:, known], axis=0)
    shape = np.asarray(cycle.offsets, dtype=float)
    read = steady(_signs(table, shape) * _parity(weeks), _clear(table, shape))
    kept = [(int(w), int(p)) for w, p in cycle.phases if w < weeks[0]]
    return cycle._replace(phases=_merged(kept, _changes(weeks, read)), until=until)


def _parity(weeks: np.ndarray) -> np.ndarray:
    return np.where(np.asarray(weeks) % 2 == 0, 1.0, -1.0)


def _signs(table: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """Return +1 for the weeks of `table` that look like `shape`, -1 for those like its opposite."""
    return np.where(np.nansum(table * shape, axis=1) >= 0, 1.0, -1.0)


def _changes(weeks: np.ndarray, phase: np.ndarray) -> tuple[tuple[int, int], ...]:
    """Return ``(week, phase)`` for the first week and each week whose phase differs from the one before."""
    changes = np.flatnonzero(np.diff(phase, prepend=0.0) != 0)
    return tuple((int(weeks[i]), int(phase[i])) for i in changes)


def _merged(first: list[tuple[int, int]], then: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    """Return the phases of `first` followed by `then`, without entries that change nothing."""
    out: list[tuple[int, int]] = []
    for week, phase in [*first, *then]:
        if not out or out[-1][1] != phase:
            out.append((week, phase))
    return tuple(out)


def _weeks(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Return the (weeks x 7) deviations from the local mean and their week numbers, weeks with enough days only."""
    daily = pd.Series(np.asarray(values, dtype=float), index=pd.DatetimeIndex(values.index))
    # A whole fortnight but a closed day a week and a holiday: never a lopsided window.
    local = daily - daily.rolling(LOCAL_DAYS, min_periods=LOCAL_DAYS - 3).mean()
    weeks = week_numbers(local.index)
    row = weeks - weeks[0]
    table = np.full((row[-1] + 1, 7), np.nan)
    table[row, local.index.day_of_week.to_numpy()] = local.to_numpy()
    kept = np.isfinite(table).sum(axis=1) >= MIN_WEEK_DAYS
    return table[kept], weeks[0] + np.flatnonzero(kept)


def steady(phase: np.ndarray, clear: np.ndarray) -> np.ndarray:
    """Return `phase` with each week's the majority of it and its neighbours'.

    A week whose sign the noise flipped would otherwise start a phase of its own; a real
    change of phase lasts for months. The first week takes the majority of the first
    three. The last week has no later neighbour: it keeps its own phase when it is
    `clear` (the cycle's shape fits it at half its size or more), so a forecast follows a
    change after one week, and otherwise the week before it's steadied phase (the majority
    of the last three weeks).
    """
    if len(phase) < 3:
        return phase.copy()
    windows = np.lib.stride_tricks.sliding_window_view(phase, 3)
    middle = np.sign(windows.sum(axis=1))
    last = phase[-1] if clear[-1] else middle[-1]
    return np.concatenate([middle[:1], middle, [last]])


def _clear(table: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """Return whether the least-squares multiple of `shape` fitting each week is at least ``CLEAR`` in size."""
    known = np.isfinite(table)
    size = np.sum(np.where(known, shape, 0.0) ** 2, axis=1)
    fit = np.nansum(table * shape, axis=1) / np.where(size > 0, size, np.inf)
    return np.abs(fit) >= CLEAR


def alternates(weeks: np.ndarray, signs: np.ndarray) -> bool:
    """Return whether the signs of consecutive `weeks` alternate often enough (see the module docstring)."""
    from scipy import stats

    consecutive = np.diff(weeks) == 1
    flipped = int(np.sum(signs[1:][consecutive] != signs[:-1][consecutive]))
    pairs = int(consecutive.sum())
    if pairs < MIN_PAIRS or flipped < MIN_ALTERNATION * pairs:
        return False
    return bool(stats.binomtest(flipped, pairs, 0.5, alternative="greater").pvalue < P_VALUE)
