"""Products and their daily sales: read histories, fingerprints, write rows."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from forecasting.data.database import bulk_upsert, calendar, products, sales
from forecasting.data.fingerprint import CalendarLines, fingerprint_product, product_digest, sales_line
from forecasting.data.fingerprint import fingerprint_rows as fingerprint_rows  # its home before calendars
from forecasting.errors import InvalidSalesData, ProductNotFound

STREAM_BATCH = 20_000


@dataclass(frozen=True)
class DataSummary:
    """What a model set was trained on: fingerprint, stored rows and date range."""

    fingerprint: str
    rows: int
    start: date | None
    end: date | None


@dataclass(frozen=True)
class SalesHistory:
    """A product's daily demand, ready to train on.

    Attributes
    ----------
    product_id : int
        The product.
    series : pandas.Series
        Float quantities on a contiguous daily ``DatetimeIndex`` (named ``date``)
        from the first to the last stored day; days without a row are 0.
    fingerprint : str
        :func:`~forecasting.data.fingerprint.fingerprint_product` of the stored
        sales, calendar rows and place; :func:`fingerprint_rows` of the sales
        alone for a product without calendar rows or country.
    rows : int
        Stored rows (days with a row, zero or not).
    start, end : datetime.date or None
        First and last stored day; None when the product has no sales.
    sales_token : str or None
        The product's sales token read with the rows (forecasting/data/sales_token.py);
        None while it has never had sales.
    """

    product_id: int
    series: pd.Series
    fingerprint: str
    rows: int
    start: date | None
    end: date | None
    sales_token: str | None = None


def load_history(engine: Engine, *, product_id: int, max_gap_days: int | None = None,
                 max_days: int | None = None) -> SalesHistory:
    """Load a product's daily history in one query.

    Parameters
    ----------
    engine : Engine
        Sales database.
    product_id : int
        The product.
    max_gap_days : int, optional
        Longest run of days without a row that still counts as days without demand
        (MAX_GAP_DAYS). A longer run is a gap in the records (a shop closed for a
        refit, a feed that stopped), not months of zero demand: its days are NaN and
        the models leave them out. None: every missing day is 0.
    max_days : int, optional
        Keep only the latest `max_days` days up to the last stored day in the
        series (and its rows, start); the fingerprint still covers every stored
        row, so it matches :func:`all_fingerprints`. All days when None.

    Returns
    -------
    SalesHistory
        Missing days inside the range filled with 0 (NaN inside a gap); an empty
        series when the product has no sales. A row with quantity 0 is always 0.

    Raises
    ------
    ProductNotFound
        When no such product exists.
    """
    # The outer join tells "no product" (no row) from "no sales" (one row of NULLs); one
    # statement reads the rows and the sales token from the same snapshot.
    query = (
        select(products.c.id, products.c.sales_token, products.c.country, products.c.subdivision,
               sales.c.date, sales.c.quantity)
        .select_from(products.outerjoin(sales))
        .where(products.c.id == product_id)
        .order_by(sales.c.date)
    )
    with engine.connect() as conn:
        result = conn.execute(query).all()
        # Read after the token: a calendar written in between is newer than the token,
        # which makes the set look changed (and re-checked), never fresh by mistake.
        calendar_rows = conn.execute(_calendar_query().where(calendar.c.product_id == product_id)).all() \
            if result else []
    if not result:
        raise ProductNotFound(product_id)
    rows = [(row.date, float(row.quantity)) for row in result if row.date is not None]
    head = result[0]
    fingerprint = fingerprint_product(rows, [tuple(row)[1:] for row in calendar_rows], country=head.country,
                                      subdivision=head.subdivision)
    token = head.sales_token
    if rows and max_days is not None:
        # The series a model is fit on is bounded by days, whatever span the stored dates have.
        first = rows[-1][0] - timedelta(days=max_days - 1)
        rows = [row for row in rows if row[0] >= first]
    if not rows:
        empty = pd.Series([], dtype=float, index=pd.DatetimeIndex([], freq="D", name="date"), name="quantity")
        return SalesHistory(product_id, empty, fingerprint, 0, None, None, token)
    start, end = rows[0][0], rows[-1][0]
    offsets = np.fromiter(((day - start).days for day, _ in rows), dtype=np.int64, count=len(rows))
    values = np.zeros((end - start).days + 1, dtype=float)
    values[offsets] = [quantity for _, quantity in rows]
    if max_gap_days is not None:
        mark_gaps(values, offsets, max_gap_days)
    index = pd.date_range(start, end, freq="D", name="date")
    series = pd.Series(values, index=index, name="quantity")
    return SalesHistory(product_id, series, fingerprint, len(rows), start, end, token)


def mark_gaps(values: np.ndarray, offsets: np.ndarray, max_gap_days: int) -> None:
    """Set to NaN, in place, the days of every run of more than `max_gap_days` days between rows.

    Parameters
    ----------
    values : numpy.ndarray
        Daily quantities from the first row's day on.
    offsets : numpy.ndarray
        Sorted day offsets of the stored rows.
    max_gap_days : int
        Longest run of missing days kept as zeros.
    """
    missing = np.diff(offsets) - 1
    for position in np.flatnonzero(missing > max_gap_days):
        values[offsets[position] + 1 : offsets[position + 1]] = np.nan


def all_fingerprints(engine: Engine, *, product_ids: Sequence[int] | None = None) -> dict[int, DataSummary]:
    """Summarise every product's history in one streaming pass, never one query per product.

    Parameters
    ----------
    engine : Engine
        Sales database.
    product_ids : sequence of int, optional
        Only these products (unknown ids are left out); all products when None.

    Returns
    -------
    dict of int to DataSummary
        Keyed by product id, in id order; products without sales have rows=0.
        Each fingerprint equals :func:`load_history`'s for the same product.
    """
    query = (
        select(products.c.id, products.c.country, products.c.subdivision, sales.c.date, sales.c.quantity)
        .select_from(products.outerjoin(sales))
        .order_by(products.c.id, sales.c.date)
    )
    calendar_query = _calendar_query().order_by(calendar.c.product_id, calendar.c.date)
    if product_ids is not None:
        wanted = [int(pid) for pid in product_ids]
        query = query.where(products.c.id.in_(wanted))
        calendar_query = calendar_query.where(calendar.c.product_id.in_(wanted))
    out: dict[int, DataSummary] = {}
    with engine.connect() as conn:
        # yield_per streams: a server-side cursor on PostgreSQL, fetchmany on SQLite.
        result = conn.execution_options(yield_per=STREAM_BATCH).execute(query)
        calendars = CalendarLines(conn.execution_options(yield_per=STREAM_BATCH).execute(calendar_query))
        current: int | None = None
        place: tuple[str | None, str | None] = (None, None)
        lines: list[str] = []
        start = end = None
        for pid, country, subdivision, day, quantity in result:
            if pid != current:
                if current is not None:
                    digest = product_digest(lines, calendars.lines_of(current), *place)
                    out[current] = DataSummary(digest, len(lines), start, end)
                current, place, lines, start, end = pid, (country, subdivision), [], day, day
            if day is not None:
                lines.append(sales_line(day, quantity))
                end = day
        if current is not None:
            out[current] = DataSummary(product_digest(lines, calendars.lines_of(current), *place), len(lines),
                                       start, end)
    return out


def _calendar_query() -> Any:
    return select(calendar.c.product_id, calendar.c.date, calendar.c.open, calendar.c.holiday, calendar.c.regressors)


def upsert_sales(engine: Engine, *, product_id: int, rows: Sequence[tuple[Any, Any]],
                 earliest: date | None = None, latest: date | None = None) -> int:
    """Insert or update a product's daily rows, all or nothing.

    Parameters
    ----------
    engine : Engine
        Sales database.
    product_id : int
        The product; it must exist.
    rows : sequence of (date, quantity)
        Dates as ``datetime.date`` (or ISO ``YYYY-MM-DD`` text); quantities
        finite numbers >= 0; each date at most once.
    earliest, latest : datetime.date, optional
        First and last date accepted (inclusive); unbounded when None.

    Returns
    -------
    int
        Rows written (inserted or updated).

    Raises
    ------
    InvalidSalesData
        Naming the first bad row; nothing is written.
    ProductNotFound
        When the product does not exist.
    """
    valid = sorted(validate_rows(rows, earliest=earliest, latest=latest))
    with engine.begin() as conn:
        if conn.execute(select(products.c.id).where(products.c.id == product_id)).first() is None:
            raise ProductNotFound(product_id)
        bulk_upsert(conn, product_ids=[product_id] * len(valid), dates=[d for d, _ in valid],
                    quantities=[q for _, q in valid])
    return len(valid)


def validate_rows(rows: Iterable[Any], *, earliest: date | None = None, latest: date | None = None,
                  ) -> Iterator[tuple[date, float]]:
    """Yield (date, float) for each row, or raise InvalidSalesData naming the bad one (dates within [earliest, latest])."""
    seen: set[date] = set()
    for number, row in enumerate(list(rows), start=1):
        try:
            raw_day, raw_quantity = row
        except (TypeError, ValueError):
            raise InvalidSalesData(f"Row {number} must be a (date, quantity) pair, got {row!r}.") from None
        day = as_day(raw_day, number)
        if (earliest is not None and day < earliest) or (latest is not None and day > latest):
            raise InvalidSalesData(f"Row {number}: date {day} is outside the accepted range "
                                   f"{earliest or 'any'} to {latest or 'any'}; is the year right?")
        if isinstance(raw_quantity, bool) or not isinstance(raw_quantity, (int, float, np.integer, np.floating)):
            raise InvalidSalesData(f"Row {number} ({day}): quantity must be a number, got {raw_quantity!r}.")
        quantity = float(raw_quantity)
        if not math.isfinite(quantity) or quantity < 0:
            raise InvalidSalesData(f"Row {number} ({day}): quantity must be finite and >= 0, got {raw_quantity!r}.")
        if day in seen:
            raise InvalidSalesData(f"Row {number}: date {day} appears more than once.")
        seen.add(day)
        yield day, quantity


def as_day(value: Any, number: int) -> date:
    """Return `value` (a date, a midnight datetime or YYYY-MM-DD text) as a date, or raise naming row `number`."""
    if isinstance(value, datetime):
        if value.time() != datetime.min.time():
            raise InvalidSalesData(f"Row {number}: {value.isoformat()} has a time of day; give a plain date.")
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise InvalidSalesData(f"Row {number}: {value!r} is not a valid YYYY-MM-DD date.") from None
    raise InvalidSalesData(f"Row {number}: date must be a date or YYYY-MM-DD text, got {value!r}.")


def read_sales(engine: Engine, *, product_id: int, start: date | None = None, end: date | None = None,
               ) -> list[dict[str, Any]]:
    """Return the product's stored rows as ``{date, quantity}``, oldest first, within [start, end]."""
    query = select(sales.c.date, sales.c.quantity).where(sales.c.product_id == product_id)
    if start is not None:
        query = query.where(sales.c.date >= start)
    if end is not None:
        query = query.where(sales.c.date <= end)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(sales.c.date)).all()
    return [{"date": row.date.isoformat(), "quantity": float(row.quantity)} for row in rows]
