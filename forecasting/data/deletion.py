"""Undo: delete a range of a product's sales, or a product with everything stored for it."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from forecasting.data.database import calendar, forecasts, products, sales
from forecasting.errors import InvalidSalesData, ProductNotFound


def delete_sales(engine: Engine, *, product_id: int, start: date | None = None, end: date | None = None) -> int:
    """Delete the product's sales rows dated within [start, end], both ends inclusive.

    Parameters
    ----------
    engine : Engine
        Sales database.
    product_id : int
        The product; it must exist.
    start, end : datetime.date, optional
        First and last day deleted; an open end when None, but not both.

    Returns
    -------
    int
        Rows deleted. The sales token moves with them (its triggers), so a model set
        trained on them reads as stale.

    Raises
    ------
    InvalidSalesData
        When neither bound is given (delete the product to drop every row), or
        `start` is after `end`.
    ProductNotFound
        When the product does not exist.
    """
    if start is None and end is None:
        raise InvalidSalesData("Give the first day (start), the last day (end) or both of the sales to delete.")
    if start is not None and end is not None and start > end:
        raise InvalidSalesData(f"start ({start}) is after end ({end}); nothing would be deleted.")
    query = sales.delete().where(sales.c.product_id == product_id)
    if start is not None:
        query = query.where(sales.c.date >= start)
    if end is not None:
        query = query.where(sales.c.date <= end)
    with engine.begin() as conn:
        _require(conn, product_id)
        return int(conn.execute(query).rowcount)


def delete_product(engine: Engine, *, product_id: int) -> dict[str, int]:
    """Delete a product, its sales, its calendar and its saved forecast, in one transaction.

    Its model set is another store's (delete it there); jobs and training runs are kept
    as history.

    Returns
    -------
    dict
        Rows deleted: ``{"sales": n, "calendar": n}``.

    Raises
    ------
    ProductNotFound
        When the product does not exist.
    """
    with engine.begin() as conn:
        _require(conn, product_id)
        # Each table explicitly: the cascade of the foreign keys depends on a per-connection
        # pragma on SQLite, and the counts are what the caller reports.
        deleted = {name: int(conn.execute(table.delete().where(table.c.product_id == product_id)).rowcount)
                   for name, table in (("sales", sales), ("calendar", calendar))}
        conn.execute(forecasts.delete().where(forecasts.c.product_id == product_id))
        conn.execute(products.delete().where(products.c.id == product_id))
    return deleted


def _require(conn: Connection, product_id: int) -> None:
    if conn.execute(select(products.c.id).where(products.c.id == product_id)).first() is None:
        raise ProductNotFound(product_id)
