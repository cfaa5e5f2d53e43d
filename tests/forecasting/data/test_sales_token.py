"""The products' sales tokens change with every change to their sales, whoever writes it."""

from datetime import date

from sqlalchemy import text

from forecasting.data import sales_token
from forecasting.data.database import init_db
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


def test_a_database_from_before_tokens_gets_them_without_losing_rows(engine):
    pid = create_product(engine, name="old")["id"]
    upsert_sales(engine, product_id=pid, rows=[(date(2024, 1, 1), 7.0)])
    with engine.begin() as conn:
        for name in ("sales_token_insert", "sales_token_update", "sales_token_delete", "sales_token_update_old",
                     "sales_token_update_new", "sales_token_truncate"):
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name}" + (" ON sales" if conn.dialect.name == "postgresql"
                                                                  else "")))
        conn.execute(text("ALTER TABLE products DROP COLUMN sales_token"))

    init_db(engine)

    first = token(engine, pid)
    assert first is not None  # a product with sales gets a token at once
    assert load_history(engine, product_id=pid).rows == 1
    upsert_sales(engine, product_id=pid, rows=[(date(2024, 1, 2), 1.0)])
    assert token(engine, pid) != first  # and the triggers are back
