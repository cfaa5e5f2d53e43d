"""Known-in-advance inputs per product and day: open or closed, holidays, named regressors.

A calendar row may be written for any day, past or future, and gives only what is
known: a field left out keeps its stored value, so one source can load promotions and
another the holidays of the same days. Regressors merge by name; a name given as None
is removed. Read for the models, a day holds ``open`` True, no holiday and 0 for
every regressor unless the calendar says otherwise; the product's country adds its
public holidays to the days whose holiday the calendar leaves unknown.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from forecasting.data.calendar_store import (
    UNSET,
    CalendarEdit,
    delete_calendar_rows,
    merge_edit,
    resolve_products,
    validate_calendar_rows,
    write_edits,
)
from forecasting.data.database import calendar, products, sales
from forecasting.data.public_holidays import public_holidays
from forecasting.data.sales import as_day
from forecasting.errors import ProductNotFound


@dataclass(frozen=True)
class CalendarFrame:
    """A product's calendar for the models, one row per day.

    Attributes
    ----------
    frame : pandas.DataFrame
        Indexed by day (``DatetimeIndex`` named ``date``, every day of the range):
        ``open`` (bool; True where unknown), ``holiday`` (str; ``""`` for none) and
        one float column per regressor the range names (0 where unknown), sorted by name.
    missing_future_days : list of datetime.date
        Days from ``future_start`` on without a calendar row, when the range holds
        any row at all: their values are the defaults above, not known ones.
    """

    frame: pd.DataFrame
    missing_future_days: list[date]


def upsert_calendar(engine: Engine, *, product_id: int, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert or update a product's calendar rows, all or nothing.

    Parameters
    ----------
    engine : Engine
        Sales database.
    product_id : int
        The product; it must exist.
    rows : sequence of mapping
        As :func:`validate_calendar_rows` takes them; fields left out keep their stored values.

    Returns
    -------
    int
        Rows inserted or changed (a row that already holds the values given is not written).

    Raises
    ------
    InvalidCalendarData
        Naming the first bad row; nothing is written.
    ProductNotFound
        When the product does not exist.
    """
    return upsert_calendar_many(engine, product_ids=[product_id], rows=rows)


def upsert_calendar_many(engine: Engine, *, product_ids: Sequence[int] | None, rows: Sequence[Mapping[str, Any]]
                         ) -> int:
    """Write the same calendar rows for several products (or all), all or nothing.

    Parameters
    ----------
    engine : Engine
        Sales database.
    product_ids : sequence of int or None
        The products the calendar holds for, each of which must exist; every product when None.
    rows : sequence of mapping
        As :func:`upsert_calendar` takes them.

    Returns
    -------
    int
        Rows inserted or changed, over all products.

    Raises
    ------
    InvalidCalendarData
        Naming the first bad row; nothing is written.
    ProductNotFound
        Naming the first product that does not exist; nothing is written.
    """
    edits = validate_calendar_rows(rows)
    with engine.begin() as conn:
        ids = resolve_products(conn, product_ids)
        return write_edits(conn, [(pid, edit) for pid in ids for edit in edits])


def delete_calendar(engine: Engine, *, product_id: int, start: date, end: date) -> int:
    """Delete the product's calendar rows within [start, end] and return how many.

    Raises
    ------
    ProductNotFound
        When no such product exists.
    """
    with engine.begin() as conn:
        resolve_products(conn, [product_id])
        return delete_calendar_rows(conn, product_id=product_id, start=start, end=end)


def read_calendar(engine: Engine, *, product_id: int, start: date | None = None, end: date | None = None,
                  ) -> list[dict[str, Any]]:
    """Return the product's stored calendar rows within [start, end], oldest first.

    Returns
    -------
    list of dict
        ``{"date": "YYYY-MM-DD", "open": bool or None, "holiday": str or None,
        "regressors": {name: float}}``, as stored: no defaults, no public holidays.

    Raises
    ------
    ProductNotFound
        When no such product exists.
    """
    query = select(calendar).where(calendar.c.product_id == product_id)
    if start is not None:
        query = query.where(calendar.c.date >= start)
    if end is not None:
        query = query.where(calendar.c.date <= end)
    with engine.connect() as conn:
        if conn.execute(select(products.c.id).where(products.c.id == product_id)).first() is None:
            raise ProductNotFound(product_id)
        rows = conn.execute(query.order_by(calendar.c.date)).all()
    return [{"date": row.date.isoformat(), "open": row.open, "holiday": row.holiday,
             "regressors": json.loads(row.regressors) if row.regressors else {}} for row in rows]


def last_sale_day(engine: Engine, *, product_id: int) -> date | None:
    """Return the product's last day with a sales row, None without sales."""
    with engine.connect() as conn:
        return _last_sale_day(conn, product_id)


def _last_sale_day(conn: Any, product_id: int) -> date | None:
    last = conn.execute(select(func.max(sales.c.date)).where(sales.c.product_id == product_id)).scalar()
    # SQLite returns MAX of a date column as text, PostgreSQL as a date.
    return as_day(last, 0) if last is not None else None


@dataclass(frozen=True)
class _Row:
    date: date
    open: bool | None
    holiday: str | None
    regressors: str | None


def _with_overrides(rows: Sequence[Any], overrides: Sequence[CalendarEdit], start: date, end: date) -> list[Any]:
    # The stored rows with the overrides merged in, in date order; an override outside [start, end] is not read.
    if not overrides:
        return list(rows)
    merged = {row.date: (row.open, row.holiday, row.regressors) for row in rows}
    for edit in overrides:
        if start <= edit.day <= end:
            merged[edit.day] = merge_edit(merged.get(edit.day), edit)
    return [_Row(day, *merged[day]) for day in sorted(merged)]


def unstated_days(engine: Engine, *, product_id: int, first: date, last: date, regressors: Sequence[str],
                  overrides: Sequence[CalendarEdit] = ()) -> dict[str, list[date]]:
    """Return the days of [first, last] whose calendar (stored rows and `overrides`) leaves a value unstated.

    Parameters
    ----------
    engine : Engine
        Sales database.
    product_id : int
        The product.
    first, last : datetime.date
        The forecast days.
    regressors : sequence of str
        The regressors the product's model set was trained with.
    overrides : sequence of CalendarEdit
        A forecast's what-if rows, merged as :func:`load_calendar_frame` merges them.

    Returns
    -------
    dict of str to list of datetime.date
        ``"open"`` when the product's calendar states ``open`` on any day (stored or
        overridden): the days it does not; ``"regressors.<name>"`` per regressor: the days
        without a value. Only keys with days; the models read those days as open and 0.
    """
    with engine.connect() as conn:
        rows = conn.execute(select(calendar.c.date, calendar.c.open, calendar.c.holiday, calendar.c.regressors)
                            .where(calendar.c.product_id == product_id, calendar.c.date.between(first, last))
                            .order_by(calendar.c.date)).all()
        states_open = any(edit.open is not UNSET and edit.open is not None for edit in overrides) or \
            conn.execute(select(calendar.c.date).where(calendar.c.product_id == product_id,
                                                       calendar.c.open.is_not(None)).limit(1)).first() is not None
    given = {row.date: row for row in _with_overrides(rows, overrides, first, last)}
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    found: dict[str, list[date]] = {}
    if states_open:
        found["open"] = [day for day in days if day not in given or given[day].open is None]
    for name in regressors:
        found[f"regressors.{name}"] = [
            day for day in days
            if day not in given or name not in (json.loads(given[day].regressors) if given[day].regressors else {})]
    return {key: value for key, value in found.items() if value}


def load_calendar_frame(
    engine: Engine, *, product_id: int, start: date, end: date, country: str | None = None,
    subdivision: str | None = None, future_start: date | None = None,
    overrides: Sequence[CalendarEdit] = (),
) -> CalendarFrame:
    """Return a product's calendar for the models: every day of [start, end], defaults filled in.

    Parameters
    ----------
    engine : Engine
        Sales database.
    product_id : int
        The product.
    start, end : datetime.date
        First and last day of the frame (history and forecast days alike).
    country, subdivision : str, optional
        Public holidays to use when the product has no country of its own (the
        service's default); codes as :func:`forecasting.data.public_holidays.check_place` returns them.
    future_start : datetime.date, optional
        First day counted as future for ``missing_future_days``; by default the
        day after the product's last sales row (``start`` without sales).
    overrides : sequence of CalendarEdit
        Edits (:func:`validate_calendar_rows`) applied to the stored rows for this frame
        only, as an upsert of them would apply them; nothing is written (a what-if).

    Returns
    -------
    CalendarFrame
        Stored values win; a day whose holiday is unknown (no row, or a null
        holiday) takes the public holiday of the product's country, or of
        `country` when the product has none.

    Raises
    ------
    ProductNotFound
        When no such product exists.
    """
    with engine.connect() as conn:
        place = conn.execute(select(products.c.country, products.c.subdivision)
                             .where(products.c.id == product_id)).first()
        if place is None:
            raise ProductNotFound(product_id)
        rows = conn.execute(select(calendar.c.date, calendar.c.open, calendar.c.holiday, calendar.c.regressors)
                            .where(calendar.c.product_id == product_id, calendar.c.date.between(start, end))
                            .order_by(calendar.c.date)).all()
        if future_start is None:
            last = _last_sale_day(conn, product_id)
            future_start = last + timedelta(days=1) if last is not None else start
    rows = _with_overrides(rows, overrides, start, end)
    index = pd.date_range(start, end, freq="D", name="date")
    offsets = np.array([(row.date - start).days for row in rows], dtype=np.int64)
    opened = np.ones(len(index), dtype=bool)
    holiday = np.full(len(index), None, dtype=object)
    values: dict[str, np.ndarray] = {}
    for offset, row in zip(offsets, rows, strict=True):
        if row.open is not None:
            opened[offset] = bool(row.open)
        holiday[offset] = row.holiday
        for name, number in (json.loads(row.regressors) if row.regressors else {}).items():
            values.setdefault(name, np.zeros(len(index)))[offset] = float(number)
    country, subdivision = (place.country, place.subdivision) if place.country else (country, subdivision)
    if country:
        for day, name in public_holidays(country=country, subdivision=subdivision, start=start, end=end).items():
            offset = (day - start).days
            if holiday[offset] is None:
                holiday[offset] = name
    frame = pd.DataFrame({"open": opened, "holiday": [h or "" for h in holiday]}, index=index)
    for name in sorted(values):
        frame[name] = values[name]
    known = set(offsets.tolist())
    first = max((future_start - start).days, 0)
    missing = [start + timedelta(days=i) for i in range(first, len(index)) if i not in known] if rows else []
    return CalendarFrame(frame, missing)
