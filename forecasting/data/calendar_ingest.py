"""Calendar columns of CSV files: a sales file's own (open, holiday, promotions) or one calendar for many products."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from forecasting.data.calendar_store import (
    REGRESSOR_NAME,
    UNSET,
    CalendarEdit,
    check_holiday,
    resolve_products,
    write_edits,
)
from forecasting.errors import InvalidCalendarData

# Rossmann's StateHoliday codes (Kaggle's retail files use them too): "0" says "no holiday",
# which wins over public holidays from the product's country; an empty cell says nothing.
HOLIDAY_CODES: Mapping[str, str] = {"0": "", "a": "public", "b": "easter", "c": "christmas"}
_TRUE, _FALSE = {"1", "1.0", "true", "yes"}, {"0", "0.0", "false", "no"}


def regressor_name(column: str) -> str:
    """Return the regressor name of a CSV column: ``Promo`` -> ``promo``, ``SchoolHoliday`` -> ``school_holiday``."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", column.strip())
    return re.sub(r"[^a-z0-9_]+", "_", snake.lower())


@dataclass(frozen=True)
class CalendarColumns:
    """Which CSV columns fill the calendar.

    Attributes
    ----------
    open : str or None
        Column of 1/0 (or true/false): open or closed; an empty cell is unknown.
    holidays : tuple of str
        Columns naming the day's holiday or event; names in several columns are
        joined by ``"; "``; empty cells say nothing.
    regressors : tuple of (str, str)
        (column, regressor name) pairs; cells are numbers, empty cells say nothing.
    holiday_codes : mapping of str to str
        Cell values translated before use (by default Rossmann's :data:`HOLIDAY_CODES`).
    """

    open: str | None = None
    holidays: tuple[str, ...] = ()
    regressors: tuple[tuple[str, str], ...] = ()
    holiday_codes: Mapping[str, str] = field(default_factory=lambda: dict(HOLIDAY_CODES))

    @classmethod
    def from_flags(cls, *, open: str | None = None, holidays: Sequence[str] = (), regressors: Sequence[str] = (),
                   holiday_codes: bool = True) -> CalendarColumns:
        """Build from command-line flags: a regressor is ``COLUMN`` or ``COLUMN=name``."""
        pairs = []
        for flag in regressors:
            column, _, name = flag.partition("=")
            pairs.append((column.strip(), name.strip() or regressor_name(column)))
        return cls(open=open, holidays=tuple(holidays), regressors=tuple(pairs),
                   holiday_codes=dict(HOLIDAY_CODES) if holiday_codes else {})

    @property
    def columns(self) -> list[str]:
        """Return every column read, once each."""
        return list(dict.fromkeys([*([self.open] if self.open else []), *self.holidays,
                                   *(column for column, _ in self.regressors)]))

    def __bool__(self) -> bool:
        return bool(self.columns)

    def check(self, header: Sequence[str], file_name: str, taken: Sequence[str] = ()) -> None:
        """Raise InvalidCalendarData when a column is missing, used twice, or a regressor name is invalid."""
        missing = [column for column in self.columns if column not in header]
        if missing:
            raise InvalidCalendarData(f"{file_name} has no column {', '.join(map(repr, missing))}; "
                                      f"its columns are {', '.join(header)}.")
        reused = sorted(set(self.columns) & set(taken))
        if reused:
            raise InvalidCalendarData(f"Column {reused[0]!r} cannot be both a calendar column and a key, "
                                      "date or quantity column.")
        names = [name for _, name in self.regressors]
        bad = next((name for name in names if not REGRESSOR_NAME.fullmatch(name)), None)
        if bad is not None:
            raise InvalidCalendarData(f"Regressor name {bad!r} must match [a-z_][a-z0-9_]{{0,31}}; "
                                      "name it with --regressor COLUMN=name.")
        if len(set(names)) != len(names):
            raise InvalidCalendarData(f"Two regressor columns share a name: {', '.join(names)}.")


def chunk_edits(chunk: pd.DataFrame, columns: CalendarColumns, dates: Sequence[date], line: np.ndarray
                ) -> list[CalendarEdit]:
    """Return one edit per row of `chunk` (columns read as text), or raise naming the line.

    Parameters
    ----------
    chunk : pandas.DataFrame
        Rows of the file, the calendar columns as text (NaN for empty cells).
    columns : CalendarColumns
        What to read.
    dates : sequence of datetime.date
        The day of each row.
    line : numpy.ndarray
        The file line of each row, for messages.
    """
    count = len(chunk)
    opened = _open(chunk[columns.open], columns.open, line) if columns.open else [UNSET] * count
    holiday = _holidays(chunk, columns, line) if columns.holidays else [UNSET] * count
    names = [name for _, name in columns.regressors]
    values = [_numbers(chunk[column], column, line) for column, _ in columns.regressors]
    if not values:
        regressors: list[dict[str, float]] = [{} for _ in range(count)]
    elif all(not np.isnan(v).any() for v in values):
        regressors = [dict(zip(names, row, strict=True)) for row in zip(*(v.tolist() for v in values), strict=True)]
    else:
        regressors = [{n: x for n, x in zip(names, row, strict=True) if x == x}  # NaN: an empty cell
                      for row in zip(*(v.tolist() for v in values), strict=True)]
    return [CalendarEdit(day, o, h, r) for day, o, h, r in zip(dates, opened, holiday, regressors, strict=True)]


def _open(column: pd.Series, name: str, line: np.ndarray) -> list[Any]:
    text = column.fillna("").str.strip().str.lower()
    bad = ~(text.isin(_TRUE) | text.isin(_FALSE) | (text == "")).to_numpy()
    if bad.any():
        i = bad.argmax()
        raise InvalidCalendarData(f"Line {line[i]}: column {name!r} has {column.iloc[i]!r}; open days are 1 or 0.")
    # An empty cell says nothing: the stored value stays.
    flags = np.where(text.isin(_TRUE), True, np.where(text.isin(_FALSE), False, UNSET))
    return flags.tolist()


def _holidays(chunk: pd.DataFrame, columns: CalendarColumns, line: np.ndarray) -> list[Any]:
    # An empty cell says nothing (UNSET: the stored value stays); a code mapped to "" says "no holiday".
    parts = []
    for name in columns.holidays:
        text = chunk[name].fillna("").str.strip()
        mapped = text.map(columns.holiday_codes).fillna(text) if columns.holiday_codes else text
        parts.append(np.where((text == "").to_numpy(), None, mapped.to_numpy(dtype=object)))
    if len(parts) == 1:
        joined = parts[0]
    else:
        joined = np.array([None if all(p is None for p in row) else "; ".join(p for p in row if p)
                           for row in zip(*parts, strict=True)], dtype=object)
    present = pd.notna(joined)
    for value in pd.unique(joined[present]):
        i = int(np.flatnonzero(joined == value)[0])
        check_holiday(value, f"Line {line[i]}")
    return np.where(present, joined, UNSET).tolist()


def _numbers(column: pd.Series, name: str, line: np.ndarray) -> np.ndarray:
    numbers = pd.to_numeric(column, errors="coerce").astype(float).to_numpy()
    bad = (~np.isfinite(numbers) & column.notna().to_numpy() & (column.fillna("").str.strip() != "").to_numpy())
    if bad.any():
        i = bad.argmax()
        raise InvalidCalendarData(f"Line {line[i]}: column {name!r} has {column.iloc[i]!r}, which is not a finite "
                                  "number.")
    return numbers


@dataclass(frozen=True)
class CalendarImportReport:
    """What a calendar import did."""

    days: int
    products: int
    written: int
    start: date | None
    end: date | None
    seconds: float

    def __str__(self) -> str:
        span = f"{self.start}..{self.end}" if self.start else "no dates"
        return (f"calendar of {self.days:,} days ({span}) for {self.products:,} products: "
                f"{self.written:,} rows written in {self.seconds:.1f} s")


def import_calendar_csv(engine: Engine, path: Path, *, date_column: str, columns: CalendarColumns,
                        product_ids: Sequence[int] | None, date_format: str | None = None) -> CalendarImportReport:
    """Import one calendar (a row per day) for several products, or all, all or nothing.

    Parameters
    ----------
    engine : Engine
        Sales database.
    path : Path
        CSV file (plain or .gz), one row per day, e.g. M5's calendar.csv.
    date_column : str
        Column holding the day.
    columns : CalendarColumns
        Columns filling the calendar; fields of columns not named keep their stored values.
    product_ids : sequence of int or None
        The products it holds for, which must exist; every product when None.
    date_format : str, optional
        strftime format of the dates; ISO 8601 by default.

    Raises
    ------
    InvalidCalendarData
        A missing column, a bad cell or a day twice, naming the line; nothing is written.
    ProductNotFound
        Naming a product that does not exist; nothing is written.
    """
    started = time.perf_counter()
    path = Path(path)
    if not path.is_file():
        raise InvalidCalendarData(f"CSV file {path} does not exist.")
    if not columns:
        raise InvalidCalendarData("Name at least one calendar column (--open, --holiday or --regressor).")
    try:
        header = list(pd.read_csv(path, nrows=0).columns)
        if date_column not in header:
            raise InvalidCalendarData(f"{path.name} has no column {date_column!r}; its columns are "
                                      f"{', '.join(header)}.")
        columns.check(header, path.name, taken=[date_column])
        frame = pd.read_csv(path, usecols=[date_column, *columns.columns], dtype=str, keep_default_na=False,
                            na_values=[""])
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InvalidCalendarData(f"{path.name} is not a readable CSV file: {exc}") from exc
    line = frame.index.to_numpy() + 2  # header is line 1
    days = pd.to_datetime(frame[date_column], format=date_format or "ISO8601", errors="coerce")
    bad = (days.isna() | (days != days.dt.normalize())).to_numpy()
    if bad.any():
        i = bad.argmax()
        raise InvalidCalendarData(f"Line {line[i]}: {frame[date_column].iloc[i]!r} in column {date_column!r} "
                                  "is not a plain date.")
    dates = [stamp.date() for stamp in days]
    twice = days.duplicated(keep=False).to_numpy()
    if twice.any():
        same = np.flatnonzero(days.to_numpy() == days.to_numpy()[twice.argmax()])
        raise InvalidCalendarData(f"{path.name}: lines {line[same[0]]} and {line[same[1]]} both give "
                                  f"{dates[same[0]]}; one row per day.")
    edits = chunk_edits(frame, columns, dates, line)
    with engine.begin() as conn:
        ids = resolve_products(conn, product_ids)
        written = write_edits(conn, [(pid, edit) for pid in ids for edit in edits])
    return CalendarImportReport(days=len(dates), products=len(ids), written=written,
                                start=min(dates) if dates else None, end=max(dates) if dates else None,
                                seconds=round(time.perf_counter() - started, 3))
