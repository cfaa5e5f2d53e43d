"""Calendar columns in CSV imports: a sales file's own, and one calendar for many products."""

import gzip
from datetime import date
from itertools import islice
from pathlib import Path

import pytest

from forecasting.data.calendar import load_calendar_frame, read_calendar
from forecasting.data.calendar_ingest import CalendarColumns, import_calendar_csv, regressor_name
from forecasting.data.ingest import import_csv
from forecasting.data.products import create_product
from forecasting.data.sales import all_fingerprints, load_history
from forecasting.errors import InvalidCalendarData, InvalidSalesData, ProductNotFound
from tests import services

ROSSMANN = services.SHARED_DATA / "rossmann-store-sales" / "train.csv.gz"
M5_CALENDAR = services.SHARED_DATA / "m5-walmart" / "calendar.csv"
ROSSMANN_FLAGS = CalendarColumns.from_flags(open="Open", holidays=["StateHoliday"],
                                            regressors=["Promo", "SchoolHoliday"])

SAMPLE = """Store,DayOfWeek,Date,Sales,Customers,Open,Promo,StateHoliday,SchoolHoliday
1,5,2015-07-31,5263,555,1,1,0,1
2,5,2015-07-31,6064,625,1,1,0,1
1,4,2015-07-30,5020,546,1,1,0,1
1,7,2015-07-26,0,0,0,0,0,0
1,3,2015-06-04,0,0,0,1,a,0
2,3,2015-06-04,0,0,0,1,a,0
1,1,2015-04-06,0,0,0,0,b,1
1,5,2014-12-26,0,0,0,0,c,1
2,6,2015-07-25,4364,500,1,0,0,
"""


def shared_file(path: Path) -> Path:
    """Return a shared data file, skipping without it (failing in CI, which must have it)."""
    services.require(path.exists(), f"shared data set not found at {path}")
    return path


def rossmann_import(engine, path, **kwargs):
    return import_csv(engine, path, key_columns=["Store"], date_column="Date", quantity_column="Sales",
                      calendar=ROSSMANN_FLAGS, **kwargs)


def test_regressor_names_from_columns():
    assert [regressor_name(c) for c in ("Promo", "SchoolHoliday", "snap_CA", "Promo2 Since")] == \
        ["promo", "school_holiday", "snap_ca", "promo2_since"]
    assert CalendarColumns.from_flags(regressors=["Promo=on_promo"]).regressors == (("Promo", "on_promo"),)


def test_rossmann_columns_load_with_the_sales(engine, tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(SAMPLE)
    report = rossmann_import(engine, path, chunksize=4)
    assert (report.rows, report.calendar_rows, report.products_total) == (9, 9, 2)
    assert "9 calendar rows written" in str(report)
    rows = {r["date"]: r for r in read_calendar(engine, product_id=1)}
    assert rows["2015-07-31"] == {"date": "2015-07-31", "open": True, "holiday": "",
                                  "regressors": {"promo": 1.0, "school_holiday": 1.0}}
    assert rows["2015-07-26"]["open"] is False
    assert [rows[d]["holiday"] for d in ("2015-06-04", "2015-04-06", "2014-12-26")] == \
        ["public", "easter", "christmas"]
    # An empty cell says nothing: store 2 has no school_holiday on 2015-07-25.
    assert read_calendar(engine, product_id=2)[1]["regressors"] == {"promo": 0.0}
    # Rossmann's "0" is a known "no holiday": it wins over the country's public holidays.
    frame = load_calendar_frame(engine, product_id=1, start=date(2015, 6, 4), end=date(2015, 6, 4),
                                country="DE").frame
    assert frame["holiday"].tolist() == ["public"]

    fingerprints = all_fingerprints(engine)
    assert fingerprints[1].fingerprint == load_history(engine, product_id=1).fingerprint
    again = rossmann_import(engine, path)
    assert again.calendar_rows == 0 and all_fingerprints(engine) == fingerprints  # idempotent


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("2015-07-30,5020,546,1,1,0,1", "2015-07-30,5020,546,maybe,1,0,1"),
         "Line 4: column 'Open' has 'maybe'; open days are 1 or 0"),
        (("2015-07-30,5020,546,1,1,0,1", "2015-07-30,5020,546,1,lots,0,1"),
         "Line 4: column 'Promo' has 'lots', which is not a finite number"),
    ],
)
def test_bad_calendar_cells_name_the_line_and_write_nothing(engine, tmp_path, edit, message):
    path = tmp_path / "train.csv"
    path.write_text(SAMPLE.replace(*edit))
    with pytest.raises(InvalidCalendarData) as caught:
        rossmann_import(engine, path, chunksize=2)
    assert message in str(caught.value)
    with pytest.raises(ProductNotFound):
        read_calendar(engine, product_id=1)  # the whole import rolled back, products too


def test_calendar_columns_must_exist(engine, tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(SAMPLE)
    flags = CalendarColumns.from_flags(regressors=["Promo2"])
    with pytest.raises(InvalidSalesData, match="train.csv has no column 'Promo2'"):
        import_csv(engine, path, key_columns=["Store"], date_column="Date", quantity_column="Sales", calendar=flags)
    with pytest.raises(InvalidSalesData, match="Regressor name '2x' must match"):
        import_csv(engine, path, key_columns=["Store"], date_column="Date", quantity_column="Sales",
                   calendar=CalendarColumns.from_flags(regressors=["Promo=2x"]))


def test_one_calendar_file_for_named_products_or_all(engine, tmp_path):
    for pid in (1, 2, 3):
        create_product(engine, name=f"item {pid}", product_id=pid)
    path = tmp_path / "calendar.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("date,event_name_1,event_name_2,snap_CA\n2016-02-07,SuperBowl,,1\n"
                     "2016-06-19,NBAFinalsEnd,Father's day,0\n2016-06-20,,,0\n")
    columns = CalendarColumns.from_flags(holidays=["event_name_1", "event_name_2"], regressors=["snap_CA"])
    report = import_calendar_csv(engine, path, date_column="date", columns=columns, product_ids=[1, 3])
    assert (report.days, report.products, report.written) == (3, 2, 6)
    assert read_calendar(engine, product_id=2) == []
    assert [(r["holiday"], r["regressors"]) for r in read_calendar(engine, product_id=3)] == [
        ("SuperBowl", {"snap_ca": 1.0}), ("NBAFinalsEnd; Father's day", {"snap_ca": 0.0}), (None, {"snap_ca": 0.0})]
    assert import_calendar_csv(engine, path, date_column="date", columns=columns, product_ids=None).written == 3

    (tmp_path / "twice.csv").write_text("date,snap_CA\n2016-01-01,1\n2016-01-02,0\n2016-01-01,0\n")
    with pytest.raises(InvalidCalendarData, match="lines 2 and 4 both give 2016-01-01"):
        import_calendar_csv(engine, tmp_path / "twice.csv", date_column="date",
                            columns=CalendarColumns.from_flags(regressors=["snap_CA"]), product_ids=None)
    with pytest.raises(ProductNotFound):
        import_calendar_csv(engine, path, date_column="date", columns=columns, product_ids=[1, 9])


def test_rossmann_sample_of_the_real_file(engine, tmp_path):
    with gzip.open(shared_file(ROSSMANN), "rt") as source:
        head = "".join(islice(source, 20_001))
    path = tmp_path / "head.csv"
    path.write_text(head)
    report = rossmann_import(engine, path)
    assert report.rows == report.calendar_rows == 20_000
    frame = load_calendar_frame(engine, product_id=1, start=report.start, end=report.end).frame
    assert set(frame.columns) == {"open", "holiday", "promo", "school_holiday"}
    assert frame["open"].any() and not frame["open"].all()  # Rossmann closes on Sundays


def test_m5_calendar_for_every_product(engine):
    create_product(engine, name="item", product_id=1)
    columns = CalendarColumns.from_flags(holidays=["event_name_1", "event_name_2"],
                                         regressors=["snap_CA", "snap_TX", "snap_WI"])
    report = import_calendar_csv(engine, shared_file(M5_CALENDAR), date_column="date", columns=columns,
                                 product_ids=None)
    assert (report.days, report.start, report.end) == (1969, date(2011, 1, 29), date(2016, 6, 19))
    frame = load_calendar_frame(engine, product_id=1, start=report.start, end=report.end).frame
    assert frame.loc["2016-02-07", "holiday"] == "SuperBowl"
    assert frame["snap_ca"].sum() == 10 * 65  # ten SNAP days a month, 2011-02 .. 2016-06


@pytest.mark.slow
def test_rossmann_full_file_with_its_calendar(tmp_path):
    from forecasting.data import migrations
    from forecasting.data.database import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'rossmann.db'}")
    migrations.upgrade(engine)
    report = rossmann_import(engine, shared_file(ROSSMANN))
    assert (report.rows, report.calendar_rows, report.products_total) == (1_017_209, 1_017_209, 1115)
    assert {r["holiday"] for r in read_calendar(engine, product_id=1)} == {"", "public", "easter", "christmas"}
