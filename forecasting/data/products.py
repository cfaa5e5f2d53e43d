"""Products: create, look up, list; each with the span of its sales history."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from forecasting.data.database import MAX_PRODUCT_ID, ids_below_top_run, products, sales, sync_product_ids
from forecasting.data.public_holidays import check_place
from forecasting.errors import InvalidProductData, InvalidSalesData, ProductExists, ProductNotFound


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
        products.c.country, products.c.subdivision, stats.c.rows, stats.c.start, stats.c.end,
    ).select_from(products.outerjoin(stats, stats.c.product_id == products.c.id))


def _product_dict(row: Any) -> dict[str, Any]:
    created = row.created_at
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)  # SQLite keeps no offset; we only store UTC
    return {
        "id": row.id, "name": row.name, "key": row.key, "country": row.country, "subdivision": row.subdivision,
        "rows": int(row.rows or 0),
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
    """Return a product: id, name, key, country, subdivision, rows, start, end (ISO dates), created_at.

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


def count_products(engine: Engine) -> int:
    """Return how many products exist."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(products)).scalar_one())


def _free_sqlite_id(conn: Connection) -> dict[str, int]:
    # SQLite gives max(rowid) + 1, past MAX_PRODUCT_ID once that id is taken: then take the
    # id after the largest one below the run of ids that reaches it.
    below, top_run = ids_below_top_run(conn)
    if top_run is None:
        return {}
    if below + 1 >= top_run:
        raise InvalidSalesData(f"Every product id from {below + 1} to {MAX_PRODUCT_ID} is taken.")
    return {"id": below + 1}


def create_product(
    engine: Engine, *, name: str, key: str | None = None, product_id: int | None = None,
    country: str | None = None, subdivision: str | None = None,
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
    country, subdivision : str, optional
        Where it is sold, for public holidays: codes the ``holidays`` package
        supports (``"DE"``, ``"BY"``).

    Raises
    ------
    ProductExists
        When the id or the key is taken.
    InvalidProductData
        When the name is empty, or the package does not know the country or subdivision.
    InvalidSalesData
        When every product id is taken.
    """
    if not name or not name.strip():
        raise InvalidProductData("A product needs a non-empty name.", "name")
    for field, value in (("name", name.strip()), ("key", key or "")):
        if len(value) > products.c[field].type.length:
            raise InvalidProductData(f"Product {field} is longer than {products.c[field].type.length} characters.", field)
    if product_id is not None and (isinstance(product_id, bool) or not isinstance(product_id, int)
                                   or not 1 <= product_id <= MAX_PRODUCT_ID):
        raise InvalidProductData(f"Product id must be an integer from 1 to {MAX_PRODUCT_ID}, got {product_id!r}.", "product_id")
    country, subdivision = check_place(country, subdivision)
    values: dict[str, Any] = {"name": name.strip(), "key": key, "created_at": datetime.now(timezone.utc),
                              "country": country, "subdivision": subdivision}
    if product_id is not None:
        values["id"] = product_id
    try:
        with engine.begin() as conn:
            _check_free(conn, key=key, product_id=product_id)
            if product_id is None and conn.dialect.name == "sqlite":
                values.update(_free_sqlite_id(conn))
            new_id = conn.execute(products.insert().values(**values)).inserted_primary_key[0]
            if product_id is not None:
                sync_product_ids(conn)
    except IntegrityError as exc:
        # Lost a race with another writer between the check and the insert.
        raise ProductExists(f"Product id {product_id} or key {key!r} is already taken.") from exc
    return get_product(engine, product_id=int(new_id))


def update_product(engine: Engine, *, product_id: int, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Change a product's name, country or subdivision and return it.

    Parameters
    ----------
    engine : Engine
        Sales database.
    product_id : int
        The product.
    changes : mapping
        Any of ``name`` (non-empty), ``country`` and ``subdivision`` (as
        :func:`create_product` takes them; None clears). A new country without a
        subdivision clears the subdivision.

    Raises
    ------
    InvalidProductData
        Naming the bad value (and its ``field``); nothing is changed.
    ProductNotFound
        When no such product exists.
    """
    unknown = sorted(set(changes) - {"name", "country", "subdivision"})
    if unknown:
        raise InvalidProductData(f"Products have no field(s) {', '.join(unknown)} to change.")
    values: dict[str, Any] = {}
    if "name" in changes:
        name = changes["name"]
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > products.c.name.type.length:
            raise InvalidProductData(f"A product name must be 1 to {products.c.name.type.length} characters.", "name")
        values["name"] = name.strip()
    with engine.begin() as conn:
        row = conn.execute(select(products.c.country, products.c.subdivision)
                           .where(products.c.id == product_id)).first()
        if row is None:
            raise ProductNotFound(product_id)
        if "country" in changes or "subdivision" in changes:
            country = changes["country"] if "country" in changes else row.country
            keep = "country" not in changes or country == row.country
            subdivision = changes["subdivision"] if "subdivision" in changes else (row.subdivision if keep else None)
            place = check_place(country, subdivision)
            if place != (row.country, row.subdivision):
                # Its public holidays are part of its calendar: a new place makes its model sets stale.
                values.update(country=place[0], subdivision=place[1], sales_token=uuid.uuid4().hex)
        if values:
            conn.execute(products.update().where(products.c.id == product_id).values(**values))
    return get_product(engine, product_id=product_id)


def _check_free(conn: Connection, *, key: str | None, product_id: int | None) -> None:
    if product_id is not None and conn.execute(select(products.c.id).where(products.c.id == product_id)).first():
        raise ProductExists(f"Product id {product_id} is already taken.")
    if key is not None:
        taken = conn.execute(select(products.c.id).where(products.c.key == key)).scalar()
        if taken is not None:
            raise ProductExists(f"Product key {key!r} is already used by product {taken}.")


def known_product_ids(engine: Engine, *, product_ids: Iterable[int]) -> set[int]:
    """Return which of `product_ids` exist, in one query."""
    wanted = sorted(set(product_ids))
    with engine.connect() as conn:
        return set(conn.execute(select(products.c.id).where(products.c.id.in_(wanted))).scalars())
