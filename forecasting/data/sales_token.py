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

from sqlalchemy import Connection, bindparam, inspect, text

from forecasting.errors import ProductNotFound

_SQLITE_NEW_TOKEN = "lower(hex(randomblob(16)))"
_POSTGRES_NEW_TOKEN = "md5(random()::text || clock_timestamp()::text)"

_SQLITE_TRIGGERS = {
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
}
# Calendar rows are inputs the models train on too: any change to them draws a new token.
_SQLITE_TRIGGERS.update({
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
})

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
# Per table, trigger name -> body: sales_token_insert on sales, calendar_token_insert on calendar, ...
_POSTGRES_TRIGGERS = {
    table: {f"{prefix}_{name}": body.format(table=table) for name, body in _POSTGRES_TRIGGER_BODIES.items()}
    for table, prefix in (("sales", "sales"), ("calendar", "calendar"))
}


def install(conn: Connection) -> None:
    """Add ``products.sales_token`` and its triggers where they are missing.

    Parameters
    ----------
    conn : Connection
        Connection inside a transaction, on a database whose tables exist. A
        database made before tokens existed gets the column, a token for every
        product with sales, and the triggers; on a current one this only checks.
    """
    dialect = conn.dialect.name
    if dialect not in {"sqlite", "postgresql"}:
        raise NotImplementedError(f"Sales tokens support SQLite and PostgreSQL, not {dialect}.")
    new_token = _SQLITE_NEW_TOKEN if dialect == "sqlite" else _POSTGRES_NEW_TOKEN
    if "sales_token" not in {column["name"] for column in inspect(conn).get_columns("products")}:
        conn.execute(text("ALTER TABLE products ADD COLUMN sales_token VARCHAR(32)"))
        conn.execute(text(
            f"UPDATE products SET sales_token = {new_token} "
            "WHERE EXISTS (SELECT 1 FROM sales WHERE sales.product_id = products.id)"
        ))
    if dialect == "sqlite":
        for statement in _SQLITE_TRIGGERS.values():
            conn.execute(text(statement))
        return
    missing: dict[str, str] = {}
    for table, triggers in _POSTGRES_TRIGGERS.items():
        present = set(conn.execute(text(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = CAST(:table AS regclass) AND NOT tgisinternal"
        ), {"table": table}).scalars())
        missing.update({name: body for name, body in triggers.items() if name not in present})
    if missing:
        for statement in _POSTGRES_FUNCTIONS:
            conn.execute(text(statement))
        for name, body in missing.items():
            conn.execute(text(f"CREATE TRIGGER {name} {body}"))


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
