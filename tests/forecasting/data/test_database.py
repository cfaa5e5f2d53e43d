from datetime import date

import pytest
from sqlalchemy import delete, func, inspect, select, text
from sqlalchemy.exc import OperationalError

from forecasting.data.database import MAX_PRODUCT_ID, ids_below_top_run, make_engine, ping, products, sales
from forecasting.data.products import create_product
from forecasting.data.sales import upsert_sales
from forecasting.errors import InvalidSalesData


def test_sqlite_engine_creates_folder_and_sets_pragmas(tmp_path):
    db = tmp_path / "deep" / "er" / "sales.db"
    eng = make_engine(f"sqlite:///{db}")
    try:
        with eng.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
        assert db.parent.is_dir()
    finally:
        eng.dispose()


def test_postgres_engine_pings_before_use(postgres_url):
    eng = make_engine(postgres_url)
    try:
        assert eng.pool._pre_ping is True
    finally:
        eng.dispose()


def test_migrated_database_has_every_table_index_and_key(engine):
    inspector = inspect(engine)
    assert {"products", "sales", "jobs", "training_runs", "forecasts"} <= set(inspector.get_table_names())
    indexed = {tuple(ix["column_names"]) for ix in inspector.get_indexes("jobs")}
    assert {("status",), ("parent_id",)} <= indexed
    assert inspector.get_pk_constraint("sales")["constrained_columns"] == ["product_id", "date"]


def test_ping_succeeds_on_a_live_database(engine):
    ping(engine)


def test_ping_raises_when_the_server_is_unreachable():
    eng = make_engine("postgresql+psycopg2://postgres@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    try:
        with pytest.raises(OperationalError):
            ping(eng)
    finally:
        eng.dispose()


def test_deleting_a_product_cascades_to_its_sales(engine):
    create_product(engine, name="p", product_id=3)
    upsert_sales(engine, product_id=3, rows=[(date(2024, 1, 1), 1.0), (date(2024, 1, 2), 2.0)])
    with engine.begin() as conn:
        conn.execute(delete(products).where(products.c.id == 3))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sales)).scalar() == 0


def test_sales_need_an_existing_product(engine):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(sales.insert().values(product_id=99, date=date(2024, 1, 1), quantity=1.0))


def test_autoincrement_continues_after_explicit_ids(engine):
    create_product(engine, name="explicit", product_id=50)
    auto = create_product(engine, name="auto")
    assert auto["id"] == 51
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM products")).scalar() == 2


def test_the_top_id_never_exhausts_the_id_sequence(engine):
    create_product(engine, name="a", product_id=5)
    create_product(engine, name="top", product_id=MAX_PRODUCT_ID)
    create_product(engine, name="below top", product_id=MAX_PRODUCT_ID - 1)
    made = [create_product(engine, name=f"auto {i}")["id"] for i in range(2)]
    assert made == [6, 7]
    with engine.connect() as conn:
        assert ids_below_top_run(conn) == (7, MAX_PRODUCT_ID - 1)
    with pytest.raises(InvalidSalesData, match="integer from 1 to 2147483647"):
        create_product(engine, name="over", product_id=MAX_PRODUCT_ID + 1)


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)  # SQLite has no sequence
def test_a_sequence_left_at_the_top_is_brought_back_by_the_next_explicit_id(engine):
    create_product(engine, name="top", product_id=MAX_PRODUCT_ID)
    # As an earlier version left it after the same insert: every next id is taken.
    with engine.begin() as conn:
        conn.execute(text(f"SELECT setval(pg_get_serial_sequence('products', 'id'), {MAX_PRODUCT_ID})"))
    create_product(engine, name="three", product_id=3)
    assert create_product(engine, name="auto")["id"] == 4
