"""Writing calendar rows: check them, merge them into the stored rows, upsert the rows that change."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import Boolean, Date, Integer, String, Text, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from forecasting.data.database import UPSERT_CHUNK, calendar, products
from forecasting.data.sales import as_day
from forecasting.errors import InvalidCalendarData, InvalidSalesData, ProductNotFound

REGRESSOR_NAME = re.compile(r"[a-z_][a-z0-9_]{0,31}")
HOLIDAY_LENGTH = calendar.c.holiday.type.length
MAX_REGRESSORS = 50
ROW_FIELDS = frozenset({"date", "open", "holiday", "regressors"})


class _Unset:
    """The value of a field an edit leaves as stored."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclass(frozen=True, slots=True)
class CalendarEdit:
    """What one calendar row says about one day; UNSET fields keep the stored value.

    Attributes
    ----------
    day : datetime.date
        The day.
    open : bool, None or UNSET
        Open (True), closed (False), unknown (None).
    holiday : str, None or UNSET
        The holiday's name, ``""`` for a day known to be none, None for unknown.
    regressors : mapping of str to float or None
        Values to set by name; None removes the name. Names not given keep their value.
    """

    day: date
    open: Any = UNSET
    holiday: Any = UNSET
    regressors: Mapping[str, float | None] = field(default_factory=dict)


def edit_to_row(edit: CalendarEdit) -> dict[str, Any]:
    """Return the JSON-able row `edit` was read from: what :func:`validate_calendar_rows` takes back."""
    row: dict[str, Any] = {"date": edit.day.isoformat()}
    if edit.open is not UNSET:
        row["open"] = edit.open
    if edit.holiday is not UNSET:
        row["holiday"] = edit.holiday
    if edit.regressors:
        row["regressors"] = dict(edit.regressors)
    return row


def validate_calendar_rows(rows: Iterable[Any]) -> list[CalendarEdit]:
    """Check calendar rows and return them as edits, in date order.

    Parameters
    ----------
    rows : iterable of mapping
        Each ``{"date": ..., "open"?: bool or None, "holiday"?: str or None,
        "regressors"?: {name: number or None}}``; dates as for sales
        (``datetime.date`` or ``YYYY-MM-DD``), each at most once. A holiday is at
        most 64 characters without control characters (``""``: known to be none);
        a regressor name matches ``[a-z_][a-z0-9_]{0,31}`` and its value is a finite
        number (None removes it).

    Returns
    -------
    list of CalendarEdit

    Raises
    ------
    InvalidCalendarData
        Naming the first bad row (counted from 1) and its problem.
    """
    edits: list[CalendarEdit] = []
    seen: set[date] = set()
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise InvalidCalendarData(f"Row {number} must be an object with a 'date', got {row!r:.60}.")
        unknown = sorted(set(row) - ROW_FIELDS)
        if unknown:
            raise InvalidCalendarData(f"Row {number}: unknown field(s) {', '.join(unknown)}; "
                                      f"allowed: {', '.join(sorted(ROW_FIELDS))}.")
        if "date" not in row:
            raise InvalidCalendarData(f"Row {number} has no 'date'.")
        try:
            day = as_day(row["date"], number)
        except InvalidSalesData as exc:
            raise InvalidCalendarData(str(exc)) from None
        if day in seen:
            raise InvalidCalendarData(f"Row {number}: date {day} appears more than once.")
        seen.add(day)
        where = f"Row {number} ({day})"
        edits.append(CalendarEdit(
            day=day,
            open=_open(row["open"], where) if "open" in row else UNSET,
            holiday=check_holiday(row["holiday"], where) if "holiday" in row else UNSET,
            regressors=_regressors(row["regressors"], where) if "regressors" in row else {},
        ))
    return sorted(edits, key=lambda edit: edit.day)


def _open(value: Any, where: str) -> bool | None:
    if value is None or isinstance(value, (bool, np.bool_)):
        return None if value is None else bool(value)
    raise InvalidCalendarData(f"{where}: 'open' must be true, false or null, got {value!r:.40}.")


def check_holiday(value: Any, where: str) -> str | None:
    """Return a holiday name stripped, or raise InvalidCalendarData prefixed with `where`."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidCalendarData(f"{where}: 'holiday' must be text or null, got {value!r:.40}.")
    value = value.strip()
    if len(value) > HOLIDAY_LENGTH:
        raise InvalidCalendarData(f"{where}: 'holiday' is longer than {HOLIDAY_LENGTH} characters.")
    if any(unicodedata.category(char).startswith("C") for char in value):
        raise InvalidCalendarData(f"{where}: 'holiday' {value!r} holds a control character.")
    return value


def _regressors(value: Any, where: str) -> dict[str, float | None]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidCalendarData(f"{where}: 'regressors' must be an object of name: number, got {value!r:.40}.")
    if len(value) > MAX_REGRESSORS:
        raise InvalidCalendarData(f"{where}: at most {MAX_REGRESSORS} regressors per day, got {len(value)}.")
    out: dict[str, float | None] = {}
    for name, number in value.items():
        if not isinstance(name, str) or not REGRESSOR_NAME.fullmatch(name):
            raise InvalidCalendarData(f"{where}: regressor name {name!r:.40} must match [a-z_][a-z0-9_]{{0,31}}.")
        if number is None:
            out[name] = None
            continue
        if isinstance(number, (bool, np.bool_)) or not isinstance(number, (int, float, np.integer, np.floating)):
            raise InvalidCalendarData(f"{where}: regressor {name!r} must be a number, got {number!r:.40}.")
        if not math.isfinite(float(number)):
            raise InvalidCalendarData(f"{where}: regressor {name!r} must be finite, got {number!r}.")
        out[name] = float(number)
    return out


def regressors_text(values: Mapping[str, float]) -> str | None:
    """Return the stored form of regressors: compact JSON sorted by name, None when empty."""
    if not values:
        return None
    # What json.dumps(..., separators=(",", ":")) writes (names need no escaping, floats are
    # finite and json uses repr), three times faster: it runs once per imported row.
    return "{" + ",".join(f'"{name}":{float(values[name])!r}' for name in sorted(values)) + "}"


def write_edits(conn: Connection, edits: Sequence[tuple[int, CalendarEdit]]) -> int:
    """Merge each (product_id, edit) into its stored row and write the rows that change.

    Parameters
    ----------
    conn : Connection
        Connection inside the caller's transaction; the products exist.
    edits : sequence of (int, CalendarEdit)
        No (product_id, day) twice.

    Returns
    -------
    int
        Rows inserted or changed. A row already holding the merged values is not
        written, so it keeps the product's sales token (an idempotent re-import
        keeps model sets fresh).
    """
    ordered = sorted(edits, key=lambda item: (item[0], item[1].day))
    written = 0
    for lo in range(0, len(ordered), UPSERT_CHUNK):
        chunk = ordered[lo:lo + UPSERT_CHUNK]
        stored = _stored(conn, chunk)
        rows = []
        for product_id, edit in chunk:
            old = stored.get((product_id, edit.day))
            new = merge_edit(old, edit)
            # A day the edit says nothing about is not stored: no row means "nothing known".
            if new != old and (old is not None or new != (None, None, None)):
                rows.append((product_id, edit.day, *new))
        _upsert(conn, rows)
        written += len(rows)
    return written


def _stored(conn: Connection, chunk: list[tuple[int, CalendarEdit]]) -> dict[tuple[int, date], tuple]:
    product_ids = sorted({product_id for product_id, _ in chunk})
    first, last = min(edit.day for _, edit in chunk), max(edit.day for _, edit in chunk)
    query = (select(calendar.c.product_id, calendar.c.date, calendar.c.open, calendar.c.holiday,
                    calendar.c.regressors)
             .where(calendar.c.product_id.in_(product_ids), calendar.c.date.between(first, last)))
    if conn.dialect.name == "postgresql":
        # A concurrent writer of the same rows waits instead of having its merge overwritten.
        query = query.with_for_update()
    return {(row[0], row[1]): (row[2], row[3], row[4]) for row in conn.execute(query)}


def merge_edit(old: tuple | None, edit: CalendarEdit) -> tuple[bool | None, str | None, str | None]:
    """Return the stored (open, holiday, regressors text) of a day once `edit` is applied to `old` (None: no row)."""
    stored_open, stored_holiday, stored_text = old if old is not None else (None, None, None)
    values = json.loads(stored_text) if stored_text else {}
    for name, value in edit.regressors.items():
        if value is None:
            values.pop(name, None)
        else:
            values[name] = value
    return (stored_open if edit.open is UNSET else edit.open,
            stored_holiday if edit.holiday is UNSET else edit.holiday,
            regressors_text(values))


def _upsert(conn: Connection, rows: list[tuple]) -> None:
    if not rows:
        return
    names = ("product_id", "date", "open", "holiday", "regressors")
    if conn.dialect.name == "sqlite":
        # Plain DB-API rows in SQLite's own storage (ISO dates, 0/1): SQLAlchemy's per-row
        # parameter processing took half the time of a million-row import.
        conn.exec_driver_sql(
            f"INSERT INTO calendar ({', '.join(names)}) VALUES (?, ?, ?, ?, ?) ON CONFLICT (product_id, date) "
            "DO UPDATE SET open = excluded.open, holiday = excluded.holiday, regressors = excluded.regressors",
            [(pid, day.isoformat(), None if is_open is None else int(is_open), holiday, text)
             for pid, day, is_open, holiday, text in rows],
        )
        return
    if conn.dialect.name != "postgresql":
        raise NotImplementedError(f"Calendar upserts support SQLite and PostgreSQL, not {conn.dialect.name}.")
    # One INSERT ... SELECT unnest(arrays): a round trip per row is several times slower.
    types = (Integer, Date, Boolean, String, Text)
    source = select(*(func.unnest(bindparam(name, type_=postgresql.ARRAY(kind)))
                      for name, kind in zip(names, types, strict=True)))
    stmt = postgresql.insert(calendar).from_select(list(names), source)
    stmt = stmt.on_conflict_do_update(
        index_elements=[calendar.c.product_id, calendar.c.date],
        set_={name: getattr(stmt.excluded, name) for name in names[2:]},
    )
    conn.execute(stmt, {name: list(column) for name, column in zip(names, zip(*rows, strict=True), strict=True)})


def resolve_products(conn: Connection, product_ids: Sequence[int] | None) -> list[int]:
    """Return `product_ids` sorted (every product when None), or raise ProductNotFound naming one missing."""
    found = list(conn.execute(select(products.c.id).order_by(products.c.id)).scalars()) if product_ids is None else \
        list(conn.execute(select(products.c.id).where(products.c.id.in_([int(p) for p in product_ids]))).scalars())
    missing = sorted(set(product_ids or []) - set(found))
    if missing:
        raise ProductNotFound(missing[0])
    return sorted(found)


def delete_calendar_rows(conn: Connection, *, product_id: int, start: date | None, end: date | None) -> int:
    """Delete the product's calendar rows within [start, end] (open ends when None); return how many."""
    query = calendar.delete().where(calendar.c.product_id == product_id)
    if start is not None:
        query = query.where(calendar.c.date >= start)
    if end is not None:
        query = query.where(calendar.c.date <= end)
    return int(conn.execute(query).rowcount)

