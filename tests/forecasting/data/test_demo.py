from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from forecasting.data.database import products, sales
from forecasting.data.demo import demo_demand, seed_demo
from forecasting.data.products import create_product, get_product
from forecasting.data.sales import all_fingerprints, load_history, upsert_sales


def counts(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(products)).scalar(),
                conn.execute(select(func.count()).select_from(sales)).scalar())


def test_demo_demand_is_reproducible_whole_units_closed_on_christmas():
    start, days = date(2023, 1, 1), 400
    units = demo_demand(start, days, np.random.default_rng([7, 1]))
    assert np.array_equal(units, demo_demand(start, days, np.random.default_rng([7, 1])))
    assert len(units) == days and units.min() >= 0 and np.all(units == units.round())
    christmas = pd.date_range(start, periods=days, freq="D") == pd.Timestamp("2023-12-25")
    assert units[christmas].tolist() == [0.0]


def test_seed_demo_is_realistic_and_idempotent(engine):
    end = date(2024, 6, 30)
    assert seed_demo(engine, products=3, days=3 * 365, end=end, seed=7) == [1, 2, 3]
    first = all_fingerprints(engine)
    history = load_history(engine, product_id=1)
    series = history.series
    assert history.rows == 3 * 365 and history.end == end and len(series) >= 730
    assert np.all(series == series.round()) and series.min() == 0 and (series == 0).mean() < 0.05
    by_weekday = series.groupby(series.index.dayofweek).mean()
    assert by_weekday[5] > by_weekday[1] * 1.2  # Saturdays sell more than Tuesdays
    assert seed_demo(engine, products=3, days=3 * 365, end=end, seed=7) == [1, 2, 3]
    assert all_fingerprints(engine) == first and counts(engine) == (3, 3 * 365 * 3)
    seed_demo(engine, products=3, days=400, end=end, seed=8)
    assert counts(engine) == (3, 400 * 3)
    assert all_fingerprints(engine)[1].fingerprint != first[1].fingerprint


def test_seed_demo_leaves_real_products_alone(engine):
    create_product(engine, name="real", key="Store=2", product_id=2)
    real_rows = [(date(2024, 1, 1) + timedelta(days=i), 5.0) for i in range(3)]
    upsert_sales(engine, product_id=2, rows=real_rows)
    assert seed_demo(engine, products=3, days=30, end=date(2024, 6, 30), seed=1) == [1, 3]
    assert load_history(engine, product_id=2).rows == 3
    assert get_product(engine, product_id=3)["key"] == "demo=3"
    assert create_product(engine, name="next")["id"] == 4


def test_seed_demo_only_into_empty_leaves_a_database_with_products_alone(engine):
    from forecasting.data.sales import load_history

    end = date(2024, 6, 30)
    assert seed_demo(engine, products=2, days=30, end=end, seed=7, only_into_empty=True) == [1, 2]
    before = load_history(engine, product_id=1).fingerprint
    assert seed_demo(engine, products=2, days=60, end=end, seed=8, only_into_empty=True) == []
    assert load_history(engine, product_id=1).fingerprint == before
