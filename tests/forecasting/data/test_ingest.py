import gzip
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from forecasting.data.database import products, sales
from forecasting.data.ingest import import_csv
from forecasting.data.products import create_product, get_product, list_products
from forecasting.data.sales import all_fingerprints, load_history
from forecasting.errors import InvalidSalesData
from tests import services

DATA = services.SHARED_DATA
STORE_ITEM = DATA / "store-item-demand" / "train_stores_1_2.csv"

SMALL = """date,store,item,sales,other
2024-01-01,1,7,3,x
2024-01-02,1,7,4,x
2024-01-01,2,7,10,x
2024-01-03,1,7,0,x
2024-01-02,2,7,11,x
2024-01-01,1,8,5,x
"""


def write(tmp_path: Path, text: str, name: str = "sales.csv") -> Path:
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def counts(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(products)).scalar(),
                conn.execute(select(func.count()).select_from(sales)).scalar())


def small_import(engine, path, **kwargs):
    return import_csv(engine, path, key_columns=["store", "item"], date_column="date", quantity_column="sales",
                      **kwargs)


def test_import_with_a_two_column_key(engine, tmp_path):
    seen: list[int] = []
    report = small_import(engine, write(tmp_path, SMALL), progress=seen.append, chunksize=4)
    assert (report.products_created, report.products_total, report.rows) == (3, 3, 6)
    assert (report.start, report.end) == (date(2024, 1, 1), date(2024, 1, 3))
    assert sum(seen) == 6 and len(seen) == 2
    assert "imported 6 rows for 3 products (3 new)" in str(report)
    listed = {p["key"]: p for p in list_products(engine)}
    assert set(listed) == {"store=1|item=7", "store=2|item=7", "store=1|item=8"}
    s1i7 = listed["store=1|item=7"]
    assert s1i7["name"] == "store 1 item 7" and s1i7["rows"] == 3
    assert list(load_history(engine, product_id=s1i7["id"]).series) == [3.0, 4.0, 0.0]


def test_reimport_updates_rows_without_new_products(engine, tmp_path):
    small_import(engine, write(tmp_path, SMALL))
    changed = SMALL.replace("2024-01-02,2,7,11", "2024-01-02,2,7,12")
    report = small_import(engine, write(tmp_path, changed, "sales.csv.gz"))
    assert (report.products_created, report.products_total, report.rows) == (0, 3, 6)
    assert counts(engine) == (3, 6)
    pid = next(p["id"] for p in list_products(engine) if p["key"] == "store=2|item=7")
    assert list(load_history(engine, product_id=pid).series) == [10.0, 12.0]


def test_single_integer_key_becomes_the_product_id_when_free(engine, tmp_path):
    create_product(engine, name="taken", product_id=2)
    path = write(tmp_path, "Store,Date,Sales\n1,2015-07-31,5263\n2,2015-07-31,6064\n1115,2015-07-30,10\n")
    report = import_csv(engine, path, key_columns=["Store"], date_column="Date", quantity_column="Sales",
                        name_format="Rossmann store {Store}")
    assert report.products_created == 3
    assert get_product(engine, product_id=1)["key"] == "Store=1"
    assert get_product(engine, product_id=1115)["name"] == "Rossmann store 1115"
    assert get_product(engine, product_id=2)["name"] == "taken"
    moved = next(p for p in list_products(engine, limit=10) if p["key"] == "Store=2")
    assert moved["id"] not in (1, 2, 1115) and moved["rows"] == 1


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("date,store,sales\n2024-01-01,1,3\n", {},
         "sales.csv has no column 'item'; its columns are date, store, sales"),
        (SMALL.replace("2024-01-03", "2024-13-03"), {}, "Line 5: '2024-13-03' in column 'date' is not a valid date"),
        (SMALL.replace("2024-01-03,1,7,0", "2024-01-03,1,7,-2"), {}, "Line 5: column 'sales' has '-2'"),
        (SMALL.replace("2024-01-03,1,7,0", "2024-01-03,1,7,lots"), {},
         "Line 5: column 'sales' has 'lots', which is not a finite number"),
        (SMALL.replace("2024-01-03,1,7,0", "2024-01-03,1,7,"), {}, "Line 5: column 'sales' is empty"),
        (SMALL.replace("2024-01-03,1,7,0", "2024-01-03,,7,0"), {}, "Line 5: key column 'store' is empty"),
        (SMALL + "2024-01-02,1,7,9,x\n", {}, "lines 3 and 8 both give store=1|item=7 on 2024-01-02"),
        (SMALL.replace("2024-01-01,2,7,10", "2024-01-02,1,7,10"), {},
         "lines 3 and 4 both give store=1|item=7 on 2024-01-02"),
        (SMALL, {"name_format": "{shop} {item}"}, "name_format '{shop} {item}' uses 'shop'"),
    ],
)
def test_bad_files_name_the_problem_and_write_nothing(engine, tmp_path, text, kwargs, message):
    create_product(engine, name="existing", product_id=50)
    with pytest.raises(InvalidSalesData) as caught:
        small_import(engine, write(tmp_path, text), chunksize=3, **kwargs)
    assert message in str(caught.value)
    assert counts(engine) == (1, 0)


def test_missing_file(engine, tmp_path):
    with pytest.raises(InvalidSalesData, match="does not exist"):
        small_import(engine, tmp_path / "nope.csv")


def test_import_store_item_demand(engine):
    services.require(STORE_ITEM.exists(), f"shared data set not found at {STORE_ITEM}")
    report = import_csv(engine, STORE_ITEM, key_columns=["store", "item"], date_column="date",
                        quantity_column="sales")
    assert (report.products_created, report.products_total, report.rows) == (100, 100, 182_600)
    assert (report.start, report.end) == (date(2013, 1, 1), date(2017, 12, 31))
    assert counts(engine) == (100, 182_600)
    summaries = all_fingerprints(engine)
    assert {s.rows for s in summaries.values()} == {1826}
    first = next(p for p in list_products(engine, limit=200) if p["key"] == "store=1|item=1")
    history = load_history(engine, product_id=first["id"])
    assert history.series.iloc[:4].tolist() == [13.0, 11.0, 14.0, 13.0]  # the file's first rows
    assert history.fingerprint == summaries[first["id"]].fingerprint
