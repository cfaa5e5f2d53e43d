import hashlib
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import event, func, select

from forecasting.data.database import sales
from forecasting.data.products import (
    create_product,
    get_product,
    list_products,
    product_exists,
)
from forecasting.data.sales import (
    all_fingerprints,
    fingerprint_rows,
    load_history,
    upsert_sales,
)
from forecasting.errors import InvalidProductData, InvalidSalesData, ProductNotFound

D0 = date(2024, 1, 1)


def days(*offsets: int) -> list[date]:
    return [D0 + timedelta(days=o) for o in offsets]


def stored(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(sales).order_by(sales.c.product_id, sales.c.date))]


# Fractions whose float text differs with the formatting, big and tiny values, integers.
AWKWARD = [0.1, 1 / 3, 2.0, 1e6 + 0.5, 0.0, 123456.789012, 7.0]


def test_fingerprint_ignores_order_and_number_type_but_not_values():
    rows = list(zip(days(0, 1, 2), [1.0, 2.5, 3.0], strict=True))
    assert fingerprint_rows(rows) == fingerprint_rows(list(reversed(rows)))
    assert fingerprint_rows([(D0, 5)]) == fingerprint_rows([(D0, 5.0)])
    assert fingerprint_rows([(D0, -0.0)]) == fingerprint_rows([(D0, 0.0)])
    assert fingerprint_rows(rows) != fingerprint_rows(rows[:2] + [(rows[2][0], 3.5)])
    assert fingerprint_rows(rows) != fingerprint_rows(rows[:2])
    assert fingerprint_rows([]) == hashlib.sha256(b"").hexdigest()
    assert fingerprint_rows([(D0, 0.1)]) == hashlib.sha256(b"2024-01-01,0.100000\n").hexdigest()


def test_load_history_fills_missing_days_with_zero(engine):
    create_product(engine, name="gappy", product_id=1)
    upsert_sales(engine, product_id=1, rows=[(D0, 4.0), (D0 + timedelta(days=1), 2.0), (D0 + timedelta(days=4), 7.0)])
    history = load_history(engine, product_id=1)
    assert history.rows == 3 and history.start == D0 and history.end == D0 + timedelta(days=4)
    assert list(history.series) == [4.0, 2.0, 0.0, 0.0, 7.0]
    assert history.series.dtype == np.float64
    assert isinstance(history.series.index, pd.DatetimeIndex) and history.series.index.freqstr == "D"
    assert history.series.index[0] == pd.Timestamp(D0)


def test_load_history_of_unknown_and_empty_products(engine):
    with pytest.raises(ProductNotFound, match="Product 404 does not exist"):
        load_history(engine, product_id=404)
    create_product(engine, name="new", product_id=2)
    history = load_history(engine, product_id=2)
    assert history.rows == 0 and history.series.empty and history.start is None and history.end is None
    assert history.fingerprint == fingerprint_rows([])


def test_all_fingerprints_equal_load_history_on_every_backend(engine):
    for pid in (1, 2, 3):
        create_product(engine, name=f"p{pid}", product_id=pid)
    upsert_sales(engine, product_id=1, rows=list(zip(days(0, 1, 2, 3, 4, 5, 9), AWKWARD, strict=True)))
    upsert_sales(engine, product_id=3, rows=[(D0, 1.0)])
    summaries = all_fingerprints(engine)
    assert list(summaries) == [1, 2, 3]
    for pid, summary in summaries.items():
        history = load_history(engine, product_id=pid)
        assert summary.fingerprint == history.fingerprint
        assert (summary.rows, summary.start, summary.end) == (history.rows, history.start, history.end)
    # The stored doubles hash like the Python values, so SQLite and PostgreSQL agree with each other.
    assert summaries[1].fingerprint == fingerprint_rows(zip(days(0, 1, 2, 3, 4, 5, 9), AWKWARD, strict=True))
    assert summaries[2].rows == 0 and summaries[2].fingerprint == fingerprint_rows([])
    assert list(all_fingerprints(engine, product_ids=[3, 99])) == [3]


def test_all_fingerprints_is_one_query_however_many_products(engine):
    for pid in range(1, 21):
        create_product(engine, name=f"p{pid}", product_id=pid)
        upsert_sales(engine, product_id=pid, rows=[(D0, float(pid))])
    statements: list[str] = []
    listener = lambda conn, cursor, statement, *args: statements.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        assert len(all_fingerprints(engine)) == 20
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert len([s for s in statements if "sales" in s]) == 1


def test_upsert_inserts_then_updates_existing_rows(engine):
    create_product(engine, name="p", product_id=1)
    assert upsert_sales(engine, product_id=1, rows=[(D0, 1.0), (D0 + timedelta(days=1), 2.0)]) == 2
    before = load_history(engine, product_id=1).fingerprint
    assert upsert_sales(engine, product_id=1, rows=[(D0 + timedelta(days=1), 5.0), (D0 + timedelta(days=2), 3)]) == 2
    assert stored(engine) == [(1, D0, 1.0), (1, D0 + timedelta(days=1), 5.0), (1, D0 + timedelta(days=2), 3.0)]
    assert load_history(engine, product_id=1).fingerprint != before


def test_upsert_accepts_iso_text_and_midnight_datetimes(engine):
    create_product(engine, name="p", product_id=1)
    upsert_sales(engine, product_id=1, rows=[("2024-01-01", 1), (datetime(2024, 1, 2), np.float64(2.5))])
    assert stored(engine) == [(1, D0, 1.0), (1, D0 + timedelta(days=1), 2.5)]


def test_upsert_in_bulk(engine):
    create_product(engine, name="p", product_id=1)
    rows = [(D0 + timedelta(days=i), float(i % 13)) for i in range(25_000)]  # several chunks
    assert upsert_sales(engine, product_id=1, rows=rows) == 25_000
    history = load_history(engine, product_id=1)
    assert history.rows == 25_000 and history.fingerprint == fingerprint_rows(rows)


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        ((D0 + timedelta(days=2), -1.0), "Row 3 (2024-01-03): quantity must be finite and >= 0"),
        ((D0 + timedelta(days=2), float("nan")), "Row 3 (2024-01-03): quantity must be finite"),
        ((D0 + timedelta(days=2), float("inf")), "Row 3 (2024-01-03): quantity must be finite"),
        ((D0 + timedelta(days=2), "7"), "Row 3 (2024-01-03): quantity must be a number, got '7'"),
        ((D0 + timedelta(days=2), True), "Row 3 (2024-01-03): quantity must be a number"),
        (("2024-02-30", 1.0), "Row 3: '2024-02-30' is not a valid YYYY-MM-DD date"),
        ((20240103, 1.0), "Row 3: date must be a date or YYYY-MM-DD text"),
        ((datetime(2024, 1, 3, 12, 30), 1.0), "Row 3: 2024-01-03T12:30:00 has a time of day"),
        ((D0, 9.0), "Row 3: date 2024-01-01 appears more than once"),
        ((D0,), "Row 3 must be a (date, quantity) pair"),
    ],
)
def test_invalid_rows_name_the_row_and_write_nothing(engine, bad_row, message):
    create_product(engine, name="p", product_id=1)
    upsert_sales(engine, product_id=1, rows=[(D0, 1.0)])
    rows = [(D0, 2.0), (D0 + timedelta(days=1), 3.0), bad_row, (D0 + timedelta(days=3), 4.0)]
    with pytest.raises(InvalidSalesData) as caught:
        upsert_sales(engine, product_id=1, rows=rows)
    assert message in str(caught.value)
    assert stored(engine) == [(1, D0, 1.0)]


def test_upsert_for_unknown_product(engine):
    with pytest.raises(ProductNotFound):
        upsert_sales(engine, product_id=7, rows=[(D0, 1.0)])
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sales)).scalar() == 0


def test_create_product_refuses_taken_ids_and_keys(engine):
    first = create_product(engine, name="  Store 1  ", key="store=1", product_id=10)
    assert first["id"] == 10 and first["name"] == "Store 1" and first["key"] == "store=1"
    assert first["created_at"].endswith("+00:00")
    with pytest.raises(InvalidSalesData, match="Product id 10 is already taken"):
        create_product(engine, name="other", product_id=10)
    with pytest.raises(InvalidSalesData, match="Product key 'store=1' is already used by product 10"):
        create_product(engine, name="other", key="store=1")
    for arguments, message, field in [({"name": " "}, "non-empty name", "name"),
                                      ({"name": "x", "product_id": 0}, "integer from 1 to 2147483647", "product_id"),
                                      ({"name": "x", "key": "k" * 256}, "Product key is longer than 255", "key")]:
        with pytest.raises(InvalidProductData, match=message) as caught:
            create_product(engine, **arguments)
        assert caught.value.field == field
    assert [p["id"] for p in list_products(engine)] == [10]


def test_get_list_and_exists(engine):
    for pid in (1, 2, 3):
        create_product(engine, name=f"p{pid}", product_id=pid)
    upsert_sales(engine, product_id=2, rows=[(D0, 1.0), (D0 + timedelta(days=30), 2.0)])
    assert get_product(engine, product_id=2) | {"created_at": None} == {
        "id": 2, "name": "p2", "key": None, "country": None, "subdivision": None, "rows": 2, "start": "2024-01-01",
        "end": "2024-01-31", "created_at": None,
    }
    assert get_product(engine, product_id=1)["rows"] == 0 and get_product(engine, product_id=1)["start"] is None
    with pytest.raises(ProductNotFound):
        get_product(engine, product_id=4)
    assert [p["id"] for p in list_products(engine, limit=2, offset=1)] == [2, 3]
    assert list_products(engine, limit=10, offset=3) == []
    assert product_exists(engine, product_id=3) and not product_exists(engine, product_id=4)
