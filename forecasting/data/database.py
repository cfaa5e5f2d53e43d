"""Tables of the sales database, its engine, and the few statements that differ by dialect.

The tables here are what the code reads and writes; the database gets them from the
revisions in ``migrations/`` (forecasting/data/migrations.py), which must end at exactly
this schema (tests/forecasting/data/test_migrations.py compares them).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url

from forecasting.data.idle_ping import ping_after_idle

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Product ids are PostgreSQL integers; the id sequence ends here too.
MAX_PRODUCT_ID = 2**31 - 1
UPSERT_CHUNK = 10_000

metadata = MetaData()

products = Table(
    "products",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, index=True),
    # The product's identity in imported files, e.g. "store=1|item=7"; NULL for products made by hand.
    Column("key", String(255), unique=True, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # A new random value whenever the product's sales change, set by triggers (forecasting/data/sales_token.py).
    Column("sales_token", String(32), nullable=True),
    # Where the product is sold, as ISO codes of the `holidays` package (e.g. "DE", "BY"):
    # its public holidays join its calendar (forecasting/data/calendar.py). NULL: none.
    Column("country", String(8), nullable=True),
    Column("subdivision", String(32), nullable=True),
)

sales = Table(
    "sales",
    metadata,
    Column("product_id", Integer, ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
    Column("date", Date, primary_key=True),
    Column("quantity", Float, nullable=False),
)

# Known-in-advance inputs per product and day, past and future: open or closed, the
# holiday, and named numeric regressors (JSON text, e.g. {"promo":1.0}). NULL: not known.
calendar = Table(
    "calendar",
    metadata,
    Column("product_id", Integer, ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
    Column("date", Date, primary_key=True),
    Column("open", Boolean, nullable=True),
    Column("holiday", String(64), nullable=True),
    Column("regressors", Text, nullable=True),
)


# The forecast each model set makes, computed when it was trained: a product's sales are
# those the set was trained on for as long as the set is fresh, so the set's forecast is
# fixed and a request is answered by reading it (forecasting/lifecycle/saved_forecasts.py).
forecasts = Table(
    "forecasts",
    metadata,
    Column("product_id", Integer, ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
    Column("set_id", String(64), nullable=False),
    Column("days", Integer, nullable=False),
    Column("points", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

training_runs = Table(
    "training_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("product_id", Integer, nullable=False),
    Column("job_id", String(36), nullable=True),
    Column("reason", String(32), nullable=True),
    Column("status", String(16), nullable=False),
    Column("fingerprint", String(64), nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("seconds", Float, nullable=True),
    Column("metrics", Text, nullable=True),
    Column("error", Text, nullable=True),
    Index("ix_training_runs_product", "product_id", "started_at"),
)


def utc_iso(value: datetime | None) -> str | None:
    """Return a stored timestamp as ISO 8601 in UTC (SQLite drops the offset; we only store UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat()


def make_engine(url: str, *, ping_after_idle_seconds: float = 0, **kwargs: Any) -> Engine:
    """Create an engine for `url`, tuned for the dialect.

    Parameters
    ----------
    url : str
        SQLAlchemy URL, e.g. ``sqlite:///var/sales.db`` or
        ``postgresql+psycopg2://user:pass@host:5432/db``.
    ping_after_idle_seconds : float
        PostgreSQL: 0 pings every connection before use (``pool_pre_ping``); more pings
        only a connection idle longer than that (:func:`forecasting.data.idle_ping.ping_after_idle`).
    **kwargs
        Passed on to :func:`sqlalchemy.create_engine`.

    Returns
    -------
    Engine
        For SQLite: the file's folder exists, and every connection uses WAL,
        a busy timeout and foreign keys. For PostgreSQL: connections are
        checked before use as `ping_after_idle_seconds` says.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if ping_after_idle_seconds <= 0:
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)
    engine = create_engine(url, **kwargs)
    ping_after_idle(engine, ping_after_idle_seconds)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    # API, workers and beat share one file: WAL lets readers run beside the writer, the
    # busy timeout makes a writer wait for the lock instead of failing, and SQLite only
    # enforces ON DELETE CASCADE when foreign keys are switched on per connection.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def ping(engine: Engine) -> None:
    """Run a trivial query; raise the driver's error when the database is unreachable.

    Parameters
    ----------
    engine : Engine
        Database to check.
    """
    with engine.connect() as conn:
        conn.execute(select(1)).scalar_one()


def sync_product_ids(conn: Connection) -> None:
    """Move PostgreSQL's products id sequence past ids that were inserted explicitly.

    The sequence never passes a run of ids that reaches MAX_PRODUCT_ID: an explicit
    id at the top of the range would otherwise leave no id to hand out.

    Parameters
    ----------
    conn : Connection
        Connection inside the transaction that inserted the rows. On SQLite this
        does nothing: a new rowid is always above the largest one.
    """
    if conn.dialect.name != "postgresql":
        return
    below, top_run = ids_below_top_run(conn)
    sequence = conn.execute(text("SELECT pg_get_serial_sequence('products', 'id')")).scalar_one()
    last = conn.execute(text("SELECT COALESCE(pg_sequence_last_value(CAST(:seq AS regclass)), 0)"),
                        {"seq": sequence}).scalar_one()
    # Only moves forward, so ids of deleted products are not handed out again, unless the
    # sequence stands in the top run, where every next id is taken.
    target = below if top_run is not None and last >= top_run else max(below, last)
    if target >= 1:
        conn.execute(text("SELECT setval(CAST(:seq AS regclass), :value)"), {"seq": sequence, "value": target})


def ids_below_top_run(conn: Connection) -> tuple[int, int | None]:
    """Return the largest product id below the run of ids ending at MAX_PRODUCT_ID, and where that run starts.

    Parameters
    ----------
    conn : Connection
        Connection to the sales database.

    Returns
    -------
    tuple of (int, int or None)
        The largest id (0 for none) and the run's first id; when MAX_PRODUCT_ID is
        free there is no such run: the largest id and None.
    """
    top_taken = conn.execute(select(products.c.id).where(products.c.id == MAX_PRODUCT_ID)).first() is not None
    if not top_taken:
        return int(conn.execute(select(func.coalesce(func.max(products.c.id), 0))).scalar_one()), None
    # The run's first id is the last id whose predecessor is free.
    before = products.alias("before")
    start = conn.execute(select(func.max(products.c.id)).where(
        ~select(before.c.id).where(before.c.id == products.c.id - 1).exists())).scalar_one()
    below = conn.execute(select(func.coalesce(func.max(products.c.id), 0)).where(products.c.id < start)).scalar_one()
    return int(below), int(start)


def bulk_upsert(
    conn: Connection, *, product_ids: Sequence[int], dates: Sequence[date], quantities: Sequence[float]
) -> None:
    """Insert-or-update already validated sales rows inside the caller's transaction.

    Parameters
    ----------
    conn : Connection
        Connection inside a transaction.
    product_ids, dates, quantities : sequence
        Columns of the rows, of equal length; no (product_id, date) twice.
    """
    if conn.dialect.name == "postgresql":
        # One INSERT ... SELECT unnest(arrays) per chunk: a round trip per row
        # (plain executemany) is several times slower on PostgreSQL.
        source = select(
            func.unnest(bindparam("product_ids", type_=postgresql.ARRAY(Integer))),
            func.unnest(bindparam("dates", type_=postgresql.ARRAY(Date))),
            func.unnest(bindparam("quantities", type_=postgresql.ARRAY(Float))),
        )
        stmt = postgresql.insert(sales).from_select(["product_id", "date", "quantity"], source)
    elif conn.dialect.name == "sqlite":
        stmt = sqlite.insert(sales)
    else:
        raise NotImplementedError(f"Sales upserts support SQLite and PostgreSQL, not {conn.dialect.name}.")
    # A row whose stored quantity is already the one given is left alone: it does not
    # change the product's sales token, so an idempotent re-import keeps its models fresh.
    stmt = stmt.on_conflict_do_update(
        index_elements=[sales.c.product_id, sales.c.date], set_={"quantity": stmt.excluded.quantity},
        where=sales.c.quantity.is_distinct_from(stmt.excluded.quantity),
    )
    for lo in range(0, len(product_ids), UPSERT_CHUNK):
        hi = lo + UPSERT_CHUNK
        columns = (list(product_ids[lo:hi]), list(dates[lo:hi]), [float(q) for q in quantities[lo:hi]])
        if conn.dialect.name == "postgresql":
            conn.execute(stmt, dict(zip(("product_ids", "dates", "quantities"), columns, strict=True)))
        else:
            conn.execute(stmt, [{"product_id": p, "date": d, "quantity": q} for p, d, q in zip(*columns, strict=True)])
