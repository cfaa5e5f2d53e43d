"""load_history(max_days=) bounds the series a model is fit on, whatever span is stored."""

from __future__ import annotations

from datetime import date, timedelta

from forecasting.data.products import create_product
from forecasting.data.sales import all_fingerprints, load_history, upsert_sales


def test_max_days_keeps_the_latest_days_and_the_full_fingerprint(engine):
    create_product(engine, name="p", product_id=1)
    end = date(2024, 6, 30)
    rows = [(date(1900, 1, 1), 5.0)] + [(end - timedelta(days=i), float(i)) for i in range(20)]
    upsert_sales(engine, product_id=1, rows=rows)
    full = load_history(engine, product_id=1)
    bounded = load_history(engine, product_id=1, max_days=10)
    assert len(full.series) > 45_000  # 1900 to 2024, day by day
    assert len(bounded.series) == 10 and bounded.rows == 10
    assert bounded.start == end - timedelta(days=9) and bounded.end == end
    assert bounded.series.iloc[-1] == 0.0 and bounded.series.iloc[0] == 9.0
    # Staleness compares against the summary of every stored row: the bound must not move it.
    assert bounded.fingerprint == full.fingerprint == all_fingerprints(engine)[1].fingerprint


def test_upsert_refuses_dates_outside_the_given_bounds(engine):
    import pytest

    from forecasting.errors import InvalidSalesData

    create_product(engine, name="p", product_id=1)
    with pytest.raises(InvalidSalesData, match=r"Row 2: date 9999-12-31 is outside"):
        upsert_sales(engine, product_id=1, rows=[("2024-01-01", 1), ("9999-12-31", 1)],
                     earliest=date(1900, 1, 1), latest=date(2030, 1, 1))
    assert load_history(engine, product_id=1).rows == 0
