"""Products and their daily sales: read histories, fingerprints, write rows."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from forecasting.database import bulk_upsert, products, sales, sync_product_ids
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
        :func:`fingerprint_rows` of the stored rows.
    rows : int
        Stored rows (days with a row, zero or not).
    start, end : datetime.date or None
        First and last stored day; None when the product has no sales.
    """

    product_id: int
    series: pd.Series
    fingerprint: str
    rows: int
    start: date | None
    end: date | None


def _line(day: date, quantity: float) -> str:
    # Fixed decimals and no negative zero (+ 0.0): the same stored double gives the
    # same text whether SQLite or PostgreSQL returned it.
    return f"{day.isoformat()},{float(quantity) + 0.0:.6f}\n"


def _digest(lines: list[str]) -> str:
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def fingerprint_rows(rows: Iterable[tuple[date, float]]) -> str:
    """Return the data fingerprint of a history: sha256 of its sorted (date, quantity) rows.

    Parameters
    ----------
    rows : iterable of (datetime.date, float)
        The stored rows, in any order.

    Returns
    -------
    str
        Hex sha256 over one ``YYYY-MM-DD,quantity`` line per row, in date order,
        quantity with six decimals. The one definition every module uses.
    """
    return _digest([_line(day, quantity) for day, quantity in sorted(rows, key=lambda row: row[0])])


def load_history(engine: Engine, *, product_id: int) -> SalesHistory:
    """Load a product's full daily history in one query.

    Parameters
    ----------
    engine : Engine
        Sales database.
    product_id : int
        The product.

    Returns
    -------
    SalesHistory
        Missing days inside the range filled with 0; an empty series when the
        product has no sales.

    Raises
    ------
    ProductNotFound
        When no such product exists.
    """
    # The outer join tells "no product" (no row) from "no sales" (one row of NULLs).
    query = (
        select(products.c.id, sales.c.date, sales.c.quantity)
        .select_from(products.outerjoin(sales))
        .where(products.c.id == product_id)
        .order_by(sales.c.date)
    )
    with engine.connect() as conn:
        result = conn.execute(query).all()
    if not result:
        raise ProductNotFound(product_id)
    rows = [(row.date, float(row.quantity)) for row in result if row.date is not None]
    fingerprint = fingerprint_rows(rows)
    if not rows:
        empty = pd.Series([], dtype=float, index=pd.DatetimeIndex([], freq="D", name="date"), name="quantity")
        return SalesHistory(product_id, empty, fingerprint, 0, None, None)
    start, end = rows[0][0], rows[-1][0]
    offsets = np.fromiter(((day - start).days for day, _ in rows), dtype=np.int64, count=len(rows))
    values = np.zeros((end - start).days + 1, dtype=float)
    values[offsets] = [quantity for _, quantity in rows]
    index = pd.date_range(start, end, freq="D", name="date")
    return SalesHistory(product_id, pd.Series(values, index=index, name="quantity"), fingerprint, len(rows), start, end)


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
        select(products.c.id, sales.c.date, sales.c.quantity)
        .select_from(products.outerjoin(sales))
        .order_by(products.c.id, sales.c.date)
    )
    if product_ids is not None:
        query = query.where(products.c.id.in_([int(pid) for pid in product_ids]))
    out: dict[int, DataSummary] = {}
    with engine.connect() as conn:
        # yield_per streams: a server-side cursor on PostgreSQL, fetchmany on SQLite.
        result = conn.execution_options(yield_per=STREAM_BATCH).execute(query)
        current: int | None = None
        lines: list[str] = []
        start = end = None
        for pid, day, quantity in result:
            if pid != current:
                if current is not None:
                    out[current] = DataSummary(_digest(lines), len(lines), start, end)
                current, lines, start, end = pid, [], day, day
            if day is not None:
                lines.append(_line(day, quantity))
                end = day
        if current is not None:
            out[current] = DataSummary(_digest(lines), len(lines), start, end)
    return out


def _summary_query() -> Any:
    stats = (
        select(
            sales.c.product_id,
            func.count().label("rows"),
            func.min(sales.c.date).label("start"),
            func.max(sales.c.date).label("end"),
        )
        .group_by(sales.c.product_id)
        .subquery()
    )
    return select(
        products.c.id, products.c.name, products.c.key, products.c.created_at,
        stats.c.rows, stats.c.start, stats.c.end,
    ).select_from(products.outerjoin(stats, stats.c.product_id == products.c.id))


def _product_dict(row: Any) -> dict[str, Any]:
    created = row.created_at
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)  # SQLite keeps no offset; we only store UTC
    return {
        "id": row.id, "name": row.name, "key": row.key, "rows": int(row.rows or 0),
        "start": _as_date(row.start), "end": _as_date(row.end),
        "created_at": created.astimezone(timezone.utc).isoformat() if created else None,
    }


def _as_date(value: Any) -> str | None:
    # SQLite returns MIN/MAX of a date column as text, PostgreSQL as a date.
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


def product_exists(engine: Engine, *, product_id: int) -> bool:
    """Return whether the product exists."""
    with engine.connect() as conn:
        return conn.execute(select(products.c.id).where(products.c.id == product_id)).first() is not None


def get_product(engine: Engine, *, product_id: int) -> dict[str, Any]:
    """Return a product: id, name, key, rows, start, end (ISO dates), created_at.

    Raises
    ------
    ProductNotFound
        When no such product exists.
    """
    with engine.connect() as conn:
        row = conn.execute(_summary_query().where(products.c.id == product_id)).first()
    if row is None:
        raise ProductNotFound(product_id)
    return _product_dict(row)


def list_products(engine: Engine, *, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """Return products in id order, each as :func:`get_product` describes it."""
    with engine.connect() as conn:
        rows = conn.execute(_summary_query().order_by(products.c.id).limit(limit).offset(offset)).all()
    return [_product_dict(row) for row in rows]


def create_product(
    engine: Engine, *, name: str, key: str | None = None, product_id: int | None = None
) -> dict[str, Any]:
    """Create a product and return it.

    Parameters
    ----------
    engine : Engine
        Sales database.
    name : str
        Display name.
    key : str, optional
        Identity in imported files, e.g. ``"store=1|item=7"``; unique.
    product_id : int, optional
        Explicit id; the next free id when None.

    Raises
    ------
    InvalidSalesData
        When the id or the key is taken, or the name is empty.
    """
    if not name or not name.strip():
        raise InvalidSalesData("A product needs a non-empty name.")
    for field, value in (("name", name.strip()), ("key", key or "")):
        if len(value) > products.c[field].type.length:
            raise InvalidSalesData(f"Product {field} is longer than {products.c[field].type.length} characters.")
    if product_id is not None and (isinstance(product_id, bool) or not isinstance(product_id, int) or product_id < 1):
        raise InvalidSalesData(f"Product id must be a positive integer, got {product_id!r}.")
    values: dict[str, Any] = {"name": name.strip(), "key": key, "created_at": datetime.now(timezone.utc)}
    if product_id is not None:
        values["id"] = product_id
    try:
        with engine.begin() as conn:
            _check_free(conn, key=key, product_id=product_id)
            new_id = conn.execute(products.insert().values(**values)).inserted_primary_key[0]
            if product_id is not None:
                sync_product_ids(conn)
    except IntegrityError as exc:
        # Lost a race with another writer between the check and the insert.
        raise InvalidSalesData(f"Product id {product_id} or key {key!r} is already taken.") from exc
    return get_product(engine, product_id=int(new_id))


def _check_free(conn: Connection, *, key: str | None, product_id: int | None) -> None:
    if product_id is not None and conn.execute(select(products.c.id).where(products.c.id == product_id)).first():
        raise InvalidSalesData(f"Product id {product_id} is already taken.")
    if key is not None:
        taken = conn.execute(select(products.c.id).where(products.c.key == key)).scalar()
        if taken is not None:
            raise InvalidSalesData(f"Product key {key!r} is already used by product {taken}.")


def upsert_sales(engine: Engine, *, product_id: int, rows: Sequence[tuple[Any, Any]]) -> int:
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
    valid = sorted(validate_rows(rows))
    with engine.begin() as conn:
        if conn.execute(select(products.c.id).where(products.c.id == product_id)).first() is None:
            raise ProductNotFound(product_id)
        bulk_upsert(conn, product_ids=[product_id] * len(valid), dates=[d for d, _ in valid],
                    quantities=[q for _, q in valid])
    return len(valid)


def validate_rows(rows: Iterable[Any]) -> Iterator[tuple[date, float]]:
    """Yield (date, float) for each row, or raise InvalidSalesData naming the bad one."""
    seen: set[date] = set()
    for number, row in enumerate(list(rows), start=1):
        try:
            raw_day, raw_quantity = row
        except (TypeError, ValueError):
            raise InvalidSalesData(f"Row {number} must be a (date, quantity) pair, got {row!r}.") from None
        day = _as_day(raw_day, number)
        if isinstance(raw_quantity, bool) or not isinstance(raw_quantity, (int, float, np.integer, np.floating)):
            raise InvalidSalesData(f"Row {number} ({day}): quantity must be a number, got {raw_quantity!r}.")
        quantity = float(raw_quantity)
        if not math.isfinite(quantity) or quantity < 0:
            raise InvalidSalesData(f"Row {number} ({day}): quantity must be finite and >= 0, got {raw_quantity!r}.")
        if day in seen:
            raise InvalidSalesData(f"Row {number}: date {day} appears more than once.")
        seen.add(day)
        yield day, quantity


def _as_day(value: Any, number: int) -> date:
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
