"""The products' sales tokens: a new random value whenever a product's sales or calendar change.

Triggers in the database set ``products.sales_token`` in the same transaction as any
insert, update or delete of the product's sales or calendar rows, whoever writes them: this
service, an import, or the retailer's own SQL. A model set records the token of the
data it was trained on, so "did this product's sales change since?" is one indexed
row read instead of reading and hashing its whole history. A random value (not a
counter) stays sound when a database is restored from a backup: a token only ever
names the data it was drawn for.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, text

from forecasting.errors import ProductNotFound

_SQLITE_NEW_TOKEN = "lower(hex(randomblob(16)))"
_POSTGRES_NEW_TOKEN = "md5(random()::text || clock_timestamp()::text)"

#: Per table, the SQLite triggers that draw a new token when its rows change.
_SQLITE_TRIGGERS: dict[str, dict[str, str]] = {
    "sales": {
        "sales_token_insert": f"""
            CREATE TRIGGER IF NOT EXISTS sales_token_insert AFTER INSERT ON sales
            BEGIN UPDATE products SET sales_token = {_SQLITE_NEW_TOKEN} WHERE id = NEW.product_id; END""",
        # An upsert that writes the value already stored changes nothing, and keeps the token.
        "sales_token_update": f"""
            CREATE TRIGGER IF NOT EXISTS sales_token_update AFTER UPDATE ON sales
            WHEN OLD.quantity IS NOT NEW.quantity OR OLD.date IS NOT NEW.date OR OLD.product_id IS NOT NEW.product_id
            BEGIN
                UPDATE products SET sales_token = {_SQLITE_NEW_TOKEN} WHERE id IN (OLD.product_id, NEW.product_id);
            END""",
        "sales_token_delete": f"""
            CREATE TRIGGER IF NOT EXISTS sales_token_delete AFTER DELETE ON sales
            BEGIN UPDATE products SET sales_token = {_SQLITE_NEW_TOKEN} WHERE id = OLD.product_id; END""",
    },
    # Calendar rows are inputs the models train on too: any change to them draws a new token.
    "calendar": {
        "calendar_token_insert": f"""
            CREATE TRIGGER IF NOT EXISTS calendar_token_insert AFTER INSERT ON calendar
            BEGIN UPDATE products SET sales_token = {_SQLITE_NEW_TOKEN} WHERE id = NEW.product_id; END""",
        "calendar_token_update": f"""
            CREATE TRIGGER IF NOT EXISTS calendar_token_update AFTER UPDATE ON calendar
            WHEN OLD.open IS NOT NEW.open OR OLD.holiday IS NOT NEW.holiday OR OLD.regressors IS NOT NEW.regressors
                 OR OLD.date IS NOT NEW.date OR OLD.product_id IS NOT NEW.product_id
            BEGIN
                UPDATE products SET sales_token = {_SQLITE_NEW_TOKEN} WHERE id IN (OLD.product_id, NEW.product_id);
            END""",
        "calendar_token_delete": f"""
            CREATE TRIGGER IF NOT EXISTS calendar_token_delete AFTER DELETE ON calendar
            BEGIN UPDATE products SET sales_token = {_SQLITE_NEW_TOKEN} WHERE id = OLD.product_id; END""",
    },
}

# PostgreSQL: statement-level triggers with transition tables, so a bulk import of a
# million rows updates each touched product once, not once per row.
_POSTGRES_FUNCTIONS = (
    f"""
    CREATE OR REPLACE FUNCTION sales_token_rows() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE products SET sales_token = {_POSTGRES_NEW_TOKEN}
        WHERE id IN (SELECT DISTINCT product_id FROM changed_rows);
        RETURN NULL;
    END $$""",
    f"""
    CREATE OR REPLACE FUNCTION sales_token_all() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE products SET sales_token = {_POSTGRES_NEW_TOKEN};
        RETURN NULL;
    END $$""",
)
_POSTGRES_FUNCTION_NAMES = ("sales_token_rows", "sales_token_all")
_POSTGRES_TRIGGER_BODIES = {
    "token_insert": "AFTER INSERT ON {table} REFERENCING NEW TABLE AS changed_rows "
                    "FOR EACH STATEMENT EXECUTE FUNCTION sales_token_rows()",
    "token_update_old": "AFTER UPDATE ON {table} REFERENCING OLD TABLE AS changed_rows "
                        "FOR EACH STATEMENT EXECUTE FUNCTION sales_token_rows()",
    "token_update_new": "AFTER UPDATE ON {table} REFERENCING NEW TABLE AS changed_rows "
                        "FOR EACH STATEMENT EXECUTE FUNCTION sales_token_rows()",
    "token_delete": "AFTER DELETE ON {table} REFERENCING OLD TABLE AS changed_rows "
                    "FOR EACH STATEMENT EXECUTE FUNCTION sales_token_rows()",
    "token_truncate": "AFTER TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION sales_token_all()",
}
#: Per table, trigger name -> body: sales_token_insert on sales, calendar_token_insert on calendar, ...
_POSTGRES_TRIGGERS: dict[str, dict[str, str]] = {
    table: {f"{table}_{name}": body.format(table=table) for name, body in _POSTGRES_TRIGGER_BODIES.items()}
    for table in ("sales", "calendar")
}
#: The tables whose changes draw a new token, in the order their migrations add them.
TABLES = tuple(_SQLITE_TRIGGERS)


def _dialect(conn: Connection) -> str:
    dialect = conn.dialect.name
    if dialect not in {"sqlite", "postgresql"}:
        raise NotImplementedError(f"Sales tokens support SQLite and PostgreSQL, not {dialect}.")
    return dialect


def _triggers(conn: Connection, table: str) -> dict[str, str]:
    if table not in TABLES:
        raise ValueError(f"No sales-token triggers are defined for table {table!r}.")
    return (_SQLITE_TRIGGERS if _dialect(conn) == "sqlite" else _POSTGRES_TRIGGERS)[table]


def draw_tokens(conn: Connection) -> None:
    """Give every product that has sales a new token.

    Parameters
    ----------
    conn : Connection
        Connection inside a transaction, on a database whose ``products.sales_token``
        column exists. Used when the column is added to a database that already
        holds sales: a product's token must not read "never had sales" (NULL).
    """
    new_token = _SQLITE_NEW_TOKEN if _dialect(conn) == "sqlite" else _POSTGRES_NEW_TOKEN
    conn.execute(text(
        f"UPDATE products SET sales_token = {new_token} "
        "WHERE EXISTS (SELECT 1 FROM sales WHERE sales.product_id = products.id)"
    ))


def create_triggers(conn: Connection, table: str = "sales") -> None:
    """Create the triggers that draw a new token with every change to `table`'s rows of a product.

    Parameters
    ----------
    conn : Connection
        Connection inside a transaction, on a database whose ``products.sales_token``
        column and `table` exist. Triggers already in place are kept, so this may run again.
    table : {'sales', 'calendar'}
        The table to watch; each migration that adds a watched table adds its triggers.
    """
    triggers = _triggers(conn, table)
    if _dialect(conn) == "sqlite":
        for statement in triggers.values():
            conn.execute(text(statement))
        return
    present = trigger_names(conn, table)
    missing = {name: body for name, body in triggers.items() if name not in present}
    if missing:
        for statement in _POSTGRES_FUNCTIONS:
            conn.execute(text(statement))
        for name, body in missing.items():
            conn.execute(text(f"CREATE TRIGGER {name} {body}"))


def drop_triggers(conn: Connection, table: str = "sales") -> None:
    """Drop `table`'s sales-token triggers where present; with ``sales``, PostgreSQL's functions too.

    Parameters
    ----------
    conn : Connection
        Connection inside a transaction. The functions are shared by every watched
        table, so the calendar's triggers must be dropped first (its migration comes later).
    table : {'sales', 'calendar'}
        The watched table.
    """
    triggers = _triggers(conn, table)
    if _dialect(conn) == "sqlite":
        for name in triggers:
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        return
    for name in triggers:
        conn.execute(text(f"DROP TRIGGER IF EXISTS {name} ON {table}"))
    if table == "sales":
        for function in _POSTGRES_FUNCTION_NAMES:
            conn.execute(text(f"DROP FUNCTION IF EXISTS {function}()"))


def trigger_names(conn: Connection, table: str = "sales") -> set[str]:
    """Return the names of the sales-token triggers present on `table`.

    Parameters
    ----------
    conn : Connection
        Connection to the database.
    table : {'sales', 'calendar'}
        The watched table.

    Returns
    -------
    set of str
        A subset of the names this module creates on `table` for the connection's dialect.
    """
    expected = set(_triggers(conn, table))
    if _dialect(conn) == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :table"
    else:
        # to_regclass is NULL for a table not made yet: no triggers, not an error.
        query = "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass(:table) AND NOT tgisinternal"
    return set(conn.execute(text(query), {"table": table}).scalars()) & expected


def current(conn: Connection, *, product_id: int) -> str | None:
    """Return the product's sales token: None while it has never had sales or calendar rows.

    Raises
    ------
    ProductNotFound
        When no such product exists.
    """
    row = conn.execute(text("SELECT sales_token FROM products WHERE id = :id"), {"id": product_id}).first()
    if row is None:
        raise ProductNotFound(product_id)
    return row.sales_token


def current_tokens(conn: Connection, *, product_ids: Sequence[int] | None = None) -> dict[int, str | None]:
    """Return every product's sales token (or those of `product_ids` that exist), in id order."""
    if product_ids is None:
        rows = conn.execute(text("SELECT id, sales_token FROM products ORDER BY id"))
    else:
        query = text("SELECT id, sales_token FROM products WHERE id IN :ids ORDER BY id")
        ids = [int(pid) for pid in product_ids]
        rows = conn.execute(query.bindparams(bindparam("ids", expanding=True)), {"ids": ids})
    return {int(pid): token for pid, token in rows}
