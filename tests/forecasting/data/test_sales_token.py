"""The products' sales tokens change with every change to their sales, whoever writes it."""

from datetime import date

from sqlalchemy import text

from forecasting.data import sales_token
from forecasting.data.products import create_product
from forecasting.data.sales import load_history, upsert_sales


def token(engine, product_id):
    with engine.connect() as conn:
        return sales_token.current(conn, product_id=product_id)


def test_any_write_to_a_products_sales_draws_it_a_new_token(engine):
    one, two = (create_product(engine, name=name)["id"] for name in ("one", "two"))
    assert token(engine, one) is None  # never had sales
    upsert_sales(engine, product_id=one, rows=[(date(2024, 1, 1), 1.0), (date(2024, 1, 2), 2.0)])
    upsert_sales(engine, product_id=two, rows=[(date(2024, 1, 1), 5.0)])
    first, other = token(engine, one), token(engine, two)
    assert first and other and first != other

    upsert_sales(engine, product_id=one, rows=[(date(2024, 1, 1), 1.0)])  # the value already stored
    assert token(engine, one) == first
    upsert_sales(engine, product_id=one, rows=[(date(2024, 1, 1), 3.0)])
    updated = token(engine, one)
    assert updated != first and token(engine, two) == other

    # Plain SQL, as a retailer's own job would write: inserts, updates and deletes all count.
    seen = {updated}
    for statement in ("INSERT INTO sales (product_id, date, quantity) VALUES (:p, '2024-01-03', 4)",
                      "UPDATE sales SET quantity = quantity + 1 WHERE product_id = :p",
                      "DELETE FROM sales WHERE product_id = :p AND date = '2024-01-02'"):
        with engine.begin() as conn:
            conn.execute(text(statement), {"p": one})
        now = token(engine, one)
        assert now not in seen
        seen.add(now)
    assert token(engine, two) == other
    assert load_history(engine, product_id=one).sales_token == token(engine, one)


def test_triggers_are_created_once_and_dropped_with_their_functions(engine):
    defined = sales_token._SQLITE_TRIGGERS if engine.dialect.name == "sqlite" else sales_token._POSTGRES_TRIGGERS
    with engine.begin() as conn:
        for table in sales_token.TABLES:
            assert sales_token.trigger_names(conn, table) == set(defined[table])
            sales_token.create_triggers(conn, table)  # again: kept, not doubled
            assert sales_token.trigger_names(conn, table) == set(defined[table])
        # The calendar's triggers go first: the functions behind them go with the sales'.
        for table in reversed(sales_token.TABLES):
            sales_token.drop_triggers(conn, table)
            assert sales_token.trigger_names(conn, table) == set()
        if conn.dialect.name == "postgresql":
            left = conn.execute(text("SELECT count(*) FROM pg_proc WHERE proname LIKE 'sales_token_%'")).scalar_one()
            assert left == 0
        for table in sales_token.TABLES:
            sales_token.create_triggers(conn, table)
    pid = create_product(engine, name="after")["id"]
    upsert_sales(engine, product_id=pid, rows=[(date(2024, 1, 1), 1.0)])
    assert token(engine, pid) is not None
