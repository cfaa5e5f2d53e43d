"""A product's calendar: stored, merged, read for the models, and part of its fingerprint."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, inspect, select, text

from forecasting.data import migrations, sales_token
from forecasting.data.calendar import (
    delete_calendar,
    load_calendar_frame,
    read_calendar,
    upsert_calendar,
    upsert_calendar_many,
)
from forecasting.data.database import calendar
from forecasting.data.products import create_product, get_product, update_product
from forecasting.data.sales import all_fingerprints, fingerprint_rows, load_history, upsert_sales
from forecasting.errors import InvalidCalendarData, InvalidProductData, InvalidSalesData, ProductNotFound

D0 = date(2015, 9, 28)
SALES = [(D0 + timedelta(days=i), float(10 + i)) for i in range(7)]


def token(engine, product_id):
    with engine.connect() as conn:
        return sales_token.current(conn, product_id=product_id)


def stored_rows(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(calendar)).scalar()


@pytest.fixture
def product(engine):
    pid = create_product(engine, name="shop", product_id=1)["id"]
    upsert_sales(engine, product_id=pid, rows=SALES)
    return pid


def test_upsert_and_read_back(engine, product):
    written = upsert_calendar(engine, product_id=product, rows=[
        {"date": "2015-10-05", "open": False, "holiday": "public"},
        {"date": date(2015, 9, 28), "regressors": {"promo": 1, "school_holiday": 0.5}},
        {"date": "2015-12-24", "open": True},  # a future day
    ])
    assert written == 3
    assert read_calendar(engine, product_id=product) == [
        {"date": "2015-09-28", "open": None, "holiday": None, "regressors": {"promo": 1.0, "school_holiday": 0.5}},
        {"date": "2015-10-05", "open": False, "holiday": "public", "regressors": {}},
        {"date": "2015-12-24", "open": True, "holiday": None, "regressors": {}},
    ]
    assert [r["date"] for r in read_calendar(engine, product_id=product, start=date(2015, 10, 1),
                                             end=date(2015, 10, 31))] == ["2015-10-05"]
    with pytest.raises(ProductNotFound):
        read_calendar(engine, product_id=99)


def test_fields_left_out_keep_their_values_and_regressors_merge_by_name(engine, product):
    upsert_calendar(engine, product_id=product, rows=[
        {"date": "2015-10-01", "open": True, "holiday": "x", "regressors": {"promo": 1, "snap": 1}}])
    assert upsert_calendar(engine, product_id=product, rows=[
        {"date": "2015-10-01", "regressors": {"promo": 0, "snap": None, "price": 2.5}}]) == 1
    assert read_calendar(engine, product_id=product)[0] == {
        "date": "2015-10-01", "open": True, "holiday": "x", "regressors": {"price": 2.5, "promo": 0.0}}
    before = token(engine, product)
    # The values already stored: nothing written, the token (and so the models) stays.
    assert upsert_calendar(engine, product_id=product, rows=[{"date": "2015-10-01", "open": True}]) == 0
    assert token(engine, product) == before
    # A day the rows say nothing about is not stored.
    assert upsert_calendar(engine, product_id=product, rows=[{"date": "2015-10-02"}]) == 0
    assert stored_rows(engine) == 1


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"open": True}, "Row 2 has no 'date'"),
        ({"date": "2015-13-01"}, "Row 2: '2015-13-01' is not a valid YYYY-MM-DD date"),
        ({"date": "2015-10-01"}, "Row 2: date 2015-10-01 appears more than once"),
        ({"date": "2015-10-02", "open": "yes"}, "Row 2 (2015-10-02): 'open' must be true, false or null"),
        ({"date": "2015-10-02", "holiday": "x" * 65}, "Row 2 (2015-10-02): 'holiday' is longer than 64"),
        ({"date": "2015-10-02", "holiday": "a\nb"}, "'holiday' 'a\\nb' holds a control character"),
        ({"date": "2015-10-02", "holiday": 3}, "'holiday' must be text or null"),
        ({"date": "2015-10-02", "regressors": [1]}, "'regressors' must be an object"),
        ({"date": "2015-10-02", "regressors": {"Promo": 1}}, "regressor name 'Promo' must match"),
        ({"date": "2015-10-02", "regressors": {"promo": "1"}}, "regressor 'promo' must be a number"),
        ({"date": "2015-10-02", "regressors": {"promo": True}}, "regressor 'promo' must be a number"),
        ({"date": "2015-10-02", "regressors": {"promo": float("nan")}}, "regressor 'promo' must be finite"),
        ({"date": "2015-10-02", "closed": True}, "Row 2: unknown field(s) closed"),
        ("2015-10-02", "Row 2 must be an object"),
    ],
)
def test_a_bad_row_is_named_and_nothing_is_written(engine, product, bad, message):
    before = token(engine, product)
    with pytest.raises(InvalidCalendarData) as caught:
        upsert_calendar(engine, product_id=product, rows=[{"date": "2015-10-01", "open": False}, bad])
    assert message in str(caught.value)
    assert isinstance(caught.value, InvalidSalesData)  # the API maps both to 422
    assert stored_rows(engine) == 0 and token(engine, product) == before


def test_unknown_products_write_nothing(engine, product):
    with pytest.raises(ProductNotFound, match="Product 7 does not exist"):
        upsert_calendar_many(engine, product_ids=[product, 7], rows=[{"date": "2015-10-01", "open": True}])
    assert stored_rows(engine) == 0


def test_one_calendar_for_many_products(engine, product):
    other = create_product(engine, name="other")["id"]
    third = create_product(engine, name="third")["id"]
    rows = [{"date": "2015-10-01", "holiday": "SuperBowl", "regressors": {"snap_ca": 1}}]
    assert upsert_calendar_many(engine, product_ids=[product, other], rows=rows) == 2
    assert read_calendar(engine, product_id=third) == []
    assert upsert_calendar_many(engine, product_ids=None, rows=rows) == 1  # only the third changes
    assert [len(read_calendar(engine, product_id=p)) for p in (product, other, third)] == [1, 1, 1]


def test_any_calendar_write_draws_a_new_sales_token(engine, product):
    seen = {token(engine, product)}
    upsert_calendar(engine, product_id=product, rows=[{"date": "2015-10-01", "open": True}])
    assert token(engine, product) not in seen
    seen.add(token(engine, product))
    for statement in ("INSERT INTO calendar (product_id, date, open) VALUES (:p, '2015-10-02', NULL)",
                      "UPDATE calendar SET holiday = 'x' WHERE product_id = :p",
                      "DELETE FROM calendar WHERE product_id = :p AND date = '2015-10-02'"):
        with engine.begin() as conn:
            conn.execute(text(statement), {"p": product})
        assert token(engine, product) not in seen
        seen.add(token(engine, product))
    assert delete_calendar(engine, product_id=product, start=date(2015, 1, 1), end=date(2015, 12, 31)) == 1
    assert token(engine, product) not in seen


def test_fingerprint_covers_the_calendar_and_stays_the_sales_one_without_it(engine, product):
    sales_only = fingerprint_rows(SALES)
    assert load_history(engine, product_id=product).fingerprint == sales_only
    upsert_calendar(engine, product_id=product, rows=[{"date": "2015-10-01", "regressors": {"promo": 1}}])
    with_promo = load_history(engine, product_id=product).fingerprint
    assert with_promo != sales_only
    upsert_calendar(engine, product_id=product, rows=[{"date": "2015-10-01", "regressors": {"promo": 2}}])
    assert load_history(engine, product_id=product).fingerprint not in {sales_only, with_promo}
    upsert_calendar(engine, product_id=product, rows=[{"date": "2015-10-01", "regressors": {"promo": 1}}])
    assert load_history(engine, product_id=product).fingerprint == with_promo  # the data, not its history
    delete_calendar(engine, product_id=product, start=D0, end=D0 + timedelta(days=30))
    assert load_history(engine, product_id=product).fingerprint == sales_only


def test_streamed_fingerprints_match_one_product_reads(engine, product):
    plain = create_product(engine, name="no calendar")["id"]
    upsert_sales(engine, product_id=plain, rows=SALES[:3])
    calendar_only = create_product(engine, name="calendar, no sales")["id"]
    last = create_product(engine, name="last")["id"]
    upsert_sales(engine, product_id=last, rows=SALES[2:])
    for pid in (product, calendar_only, last):
        upsert_calendar(engine, product_id=pid, rows=[{"date": "2015-10-01", "open": pid != last}])
    streamed = all_fingerprints(engine)
    for pid in (product, plain, calendar_only, last):
        assert streamed[pid].fingerprint == load_history(engine, product_id=pid).fingerprint
    assert streamed[plain].fingerprint == fingerprint_rows(SALES[:3])
    assert streamed[product].fingerprint != fingerprint_rows(SALES)
    assert all_fingerprints(engine, product_ids=[last])[last] == streamed[last]


def test_frame_has_defaults_public_holidays_and_explicit_rows_win(engine, product):
    upsert_calendar(engine, product_id=product, rows=[
        {"date": "2015-10-02", "open": False, "regressors": {"promo": 1}},
        {"date": "2015-10-04", "holiday": ""},  # known: no holiday
        {"date": "2015-10-06", "regressors": {"school_holiday": 1}},
    ])
    start, end = date(2015, 10, 1), date(2015, 10, 8)
    result = load_calendar_frame(engine, product_id=product, start=start, end=end, country="DE")
    frame = result.frame
    assert list(frame.columns) == ["open", "holiday", "promo", "school_holiday"]
    assert len(frame) == 8 and frame.index[0].date() == start and frame.index.name == "date"
    assert frame["open"].tolist() == [True, False] + [True] * 6
    assert frame.loc["2015-10-03", "holiday"] == "German Unity Day"  # DE public holiday
    assert (frame["holiday"] != "").sum() == 1
    assert frame["promo"].tolist() == [0, 1, 0, 0, 0, 0, 0, 0]
    # Sales end on 2015-10-04: later days without a row are reported.
    assert result.missing_future_days == [date(2015, 10, 5), date(2015, 10, 7), date(2015, 10, 8)]

    upsert_calendar(engine, product_id=product, rows=[{"date": "2015-10-03", "holiday": "store party"}])
    frame = load_calendar_frame(engine, product_id=product, start=start, end=end, country="DE").frame
    assert frame.loc["2015-10-03", "holiday"] == "store party"
    assert load_calendar_frame(engine, product_id=product, start=start, end=end).frame["holiday"].tolist() == \
        [""] * 2 + ["store party"] + [""] * 5


def test_the_products_own_country_wins_over_the_default(engine, product):
    update_product(engine, product_id=product, changes={"country": "us"})
    frame = load_calendar_frame(engine, product_id=product, start=date(2015, 10, 1), end=date(2015, 10, 31),
                                country="DE").frame
    holidays = frame.loc[frame["holiday"] != "", "holiday"]
    assert [(d.date(), h) for d, h in holidays.items()] == [(date(2015, 10, 12), "Columbus Day")]
    result = load_calendar_frame(engine, product_id=product, start=date(2015, 10, 1), end=date(2015, 10, 3))
    assert result.missing_future_days == []  # no calendar rows at all: nothing to warn about
    assert list(result.frame.columns) == ["open", "holiday"]
    with pytest.raises(ProductNotFound):
        load_calendar_frame(engine, product_id=42, start=D0, end=D0)


def test_a_new_place_is_a_calendar_change(engine, product):
    before_token, before = token(engine, product), load_history(engine, product_id=product).fingerprint
    changed = update_product(engine, product_id=product, changes={"country": "de", "subdivision": "by"})
    assert (changed["country"], changed["subdivision"]) == ("DE", "BY")
    assert token(engine, product) != before_token
    assert load_history(engine, product_id=product).fingerprint != before
    assert all_fingerprints(engine)[product].fingerprint == load_history(engine, product_id=product).fingerprint
    # A new country without a subdivision drops the old one; clearing the country restores the sales fingerprint.
    assert update_product(engine, product_id=product, changes={"country": "FR"})["subdivision"] is None
    update_product(engine, product_id=product, changes={"country": None})
    assert load_history(engine, product_id=product).fingerprint == before


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"country": "XX"}, "Country 'XX' is not supported"),
        ({"country": "DE", "subdivision": "ZZ"}, "Subdivision 'ZZ' is not one of country DE's"),
        ({"subdivision": "BY"}, "Subdivision 'BY' needs a country"),
        ({"country": 49}, "Country must be a code as text"),
        ({"name": " "}, "A product name must be 1 to 255 characters"),
        ({"key": "k"}, "no field(s) key"),
    ],
)
def test_bad_product_changes_are_refused(engine, product, changes, message):
    with pytest.raises(InvalidSalesData) as caught:
        update_product(engine, product_id=product, changes=changes)
    assert message in str(caught.value)
    assert get_product(engine, product_id=product)["country"] is None


def test_create_product_with_a_place(engine):
    made = create_product(engine, name="Munich", country="DE", subdivision="by")
    assert (made["country"], made["subdivision"]) == ("DE", "BY")
    with pytest.raises(InvalidProductData, match="Country 'ATLANTIS'") as caught:
        create_product(engine, name="lost", country="Atlantis")
    assert caught.value.field == "country"


def test_a_database_from_before_places_gets_them_by_its_migration(engine, product):
    migrations.downgrade(engine, "0003")
    with engine.connect() as conn:
        assert "country" not in {column["name"] for column in inspect(conn).get_columns("products")}
    migrations.upgrade(engine)
    assert get_product(engine, product_id=product)["country"] is None
    assert update_product(engine, product_id=product, changes={"country": "DE"})["country"] == "DE"
