"""A product's calendar as the members read it: open days, holidays and regressors per date.

The data layer's calendar frame (``open``, ``holiday`` and one float column per named
regressor, past and future days) is aligned to the days a member fits or forecasts.
A day the frame does not hold takes the defaults: open, no holiday, every regressor 0.

Closed days are not demand: a store that is shut sells nothing whatever its demand
was. They are left out of every fit (their demand becomes NaN, like the days of a gap
in the history) and forecast exactly 0 by :func:`forecasting.models.model_set.forecast`.

What a set was trained with (regressor names, holiday names) is recorded in its
model_info.json, so a forecast builds the same columns; a regressor the forecast's
calendar lacks is 0, a holiday name not seen in training is no holiday.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Holiday name given to a day whose holiday column is numeric and non-zero (a 0/1 flag).
FLAGGED_HOLIDAY = "holiday"


@dataclass(frozen=True)
class CalendarColumns:
    """The calendar columns a set was trained with.

    Attributes
    ----------
    regressors : tuple of str
        Regressor columns that varied over the training days, sorted.
    holidays : tuple of str
        Holiday names seen on the training days, sorted.
    """

    regressors: tuple[str, ...] = ()
    holidays: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, list[str]]:
        """Return the names as JSON-able lists."""
        return {"regressors": list(self.regressors), "holidays": list(self.holidays)}

    @classmethod
    def from_dict(cls, values: dict[str, Sequence[str]] | None) -> CalendarColumns:
        """Rebuild from :meth:`to_dict` (None: a set trained without a calendar)."""
        values = values or {}
        return cls(tuple(values.get("regressors", ())), tuple(values.get("holidays", ())))


def align(calendar: pd.DataFrame | None, dates: pd.DatetimeIndex) -> pd.DataFrame:
    """Return the calendar of `dates`: ``open`` (bool), ``holiday`` (str, "" for none), regressors (float).

    Parameters
    ----------
    calendar : pandas.DataFrame or None
        Indexed by day; ``open`` and ``holiday`` optional (``holiday`` as names or a
        numeric 0/1 flag); every other column a numeric regressor.
    dates : pandas.DatetimeIndex
        The days wanted.

    Returns
    -------
    pandas.DataFrame
        Indexed by `dates`, defaults where `calendar` has no value.
    """
    dates = pd.DatetimeIndex(dates)
    if calendar is None:
        return pd.DataFrame({"open": np.ones(len(dates), dtype=bool), "holiday": [""] * len(dates)}, index=dates)
    frame = calendar.copy()
    frame.index = pd.DatetimeIndex(frame.index).normalize()
    frame = frame[~frame.index.duplicated(keep="last")].reindex(dates)
    is_open = frame["open"] if "open" in frame else pd.Series(np.nan, index=dates)
    out = pd.DataFrame({"open": is_open.fillna(True).astype(bool).to_numpy(),
                        "holiday": _holiday_names(frame.get("holiday"), len(dates))},
                       index=dates)
    for name in sorted(c for c in frame.columns if c not in ("open", "holiday")):
        out[str(name)] = pd.to_numeric(frame[name], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    return out


def _holiday_names(column: pd.Series | None, length: int) -> list[str]:
    if column is None:
        return [""] * length
    if pd.api.types.is_numeric_dtype(column):
        return [FLAGGED_HOLIDAY if value and np.isfinite(value) else "" for value in column.fillna(0).to_numpy(float)]
    names = column.fillna("").astype(str).str.strip()
    return ["" if name in ("", "0", "none", "None") else name for name in names]


def columns_of(aligned: pd.DataFrame, fitted: np.ndarray | None = None) -> CalendarColumns:
    """Return the regressors that vary and the holidays that occur on the days `fitted` (all by default)."""
    rows = aligned if fitted is None else aligned[np.asarray(fitted, dtype=bool)]
    regressors = tuple(sorted(c for c in rows.columns if c not in ("open", "holiday") and rows[c].nunique() > 1))
    holidays = tuple(sorted(set(rows["holiday"]) - {""}))
    return CalendarColumns(regressors, holidays)


def known_inputs(aligned: pd.DataFrame, columns: CalendarColumns,
                 calendar: pd.DataFrame | None = None) -> np.ndarray:
    """Return the calendar features of the aligned days: holiday flag, closed neighbours, then the regressors.

    Parameters
    ----------
    aligned : pandas.DataFrame
        :func:`align` of the days.
    columns : CalendarColumns
        What the model was fitted with.
    calendar : pandas.DataFrame, optional
        The calendar `aligned` came from, for the days before and after
        (:func:`closed_neighbours`); without it the neighbours count as open.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(aligned), 3 + len(columns.regressors))``; a holiday not in
        `columns` counts as none, a missing regressor as 0.
    """
    holiday = aligned["holiday"].isin(columns.holidays).to_numpy(dtype=float)
    neighbours = closed_neighbours(calendar, pd.DatetimeIndex(aligned.index))
    regressors = [aligned[name].to_numpy(dtype=float) if name in aligned else np.zeros(len(aligned))
                  for name in columns.regressors]
    if not len(aligned):
        return np.zeros((0, 3 + len(regressors)))
    return np.column_stack([holiday, neighbours, *regressors])


def training_inputs(calendar: pd.DataFrame, aligned: pd.DataFrame, columns: CalendarColumns) -> np.ndarray:
    """Return :func:`known_inputs` of a training history's days, `aligned` (:func:`align` of them).

    The calendar is read up to the last of those days only: a fit reads nothing after its
    cutoff, not even whether the day after it is closed.
    """
    past = calendar.loc[pd.DatetimeIndex(calendar.index) <= aligned.index[-1]]
    return known_inputs(aligned, columns, past)


#: Names of the columns :func:`known_inputs` returns before the regressors.
NEIGHBOUR_FEATURES: tuple[str, ...] = ("closed_before", "closed_after")


def closed_neighbours(calendar: pd.DataFrame | None, dates: pd.DatetimeIndex) -> np.ndarray:
    """Return whether the day before and the day after each of `dates` is closed, shape (n, 2).

    Sales pile up before and after a closed day (a public holiday, a Sunday); the
    calendar states both days in advance, so they are known inputs, not demand.
    """
    dates = pd.DatetimeIndex(dates)
    if not len(dates):
        return np.zeros((0, 2))
    day = pd.Timedelta(days=1)
    around = pd.date_range(dates[0] - day, dates[-1] + day, freq="D")
    closed = pd.Series(~align(calendar, around)["open"].to_numpy(), index=around).astype(float)
    return np.column_stack([closed.reindex(dates - day).to_numpy(), closed.reindex(dates + day).to_numpy()])


def mask_closed(history: pd.Series, calendar: pd.DataFrame | None) -> pd.Series:
    """Return `history` as float with its closed days NaN (they are not demand; see the module docstring)."""
    values = history.astype(float)
    if calendar is None:
        return values
    closed = ~align(calendar, pd.DatetimeIndex(history.index))["open"].to_numpy()
    return values.mask(closed) if closed.any() else values


def fill_missing(values: np.ndarray) -> np.ndarray:
    """Return `values` with NaNs linearly interpolated (held flat at the ends) so windows stay contiguous.

    Used for the inputs of the forest's history features and of the LSTM's windows,
    never for their targets: a missing day is neither 0 nor learnt.
    """
    values = np.asarray(values, dtype=float)
    missing = np.isnan(values)
    if not missing.any():
        return values
    if missing.all():
        return np.zeros_like(values)
    positions = np.arange(len(values))
    return np.interp(positions, positions[~missing], values[~missing])


def calendar_effects(values: np.ndarray, inputs: np.ndarray) -> tuple[float, np.ndarray]:
    """Return the least-squares fit of `values` on known `inputs` (rows: days): intercept and one effect per column.

    ``numpy.linalg.lstsq`` copes with inputs that never vary over these days (a
    rank-deficient design): such a column gets the effect 0.
    """
    design = np.column_stack([np.ones(len(values)), np.asarray(inputs, dtype=float)])
    coefficients = np.linalg.lstsq(design, np.asarray(values, dtype=float), rcond=None)[0]
    return float(coefficients[0]), coefficients[1:]
