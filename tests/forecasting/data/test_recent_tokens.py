"""Sales tokens read moments ago stand for the product's token within their window, and no longer."""

from datetime import date

import pytest

from forecasting.data.products import create_product
from forecasting.data.recent_tokens import RecentTokens
from forecasting.data.sales import upsert_sales
from forecasting.errors import ProductNotFound


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def product(engine):
    create_product(engine, name="p", product_id=1)
    upsert_sales(engine, product_id=1, rows=[(date(2024, 1, 1), 1.0)])
    return 1


def _write(engine) -> None:
    upsert_sales(engine, product_id=1, rows=[(date(2024, 1, 2), 2.0)])


def test_a_token_read_within_the_window_is_taken_as_current(engine, product):
    clock = Clock()
    tokens = RecentTokens(0.25, clock=clock)
    before = tokens.current(engine, product_id=1)
    _write(engine)
    clock.now += 0.2

    assert tokens.current(engine, product_id=1) == before
    assert tokens.current(engine, product_id=1, recent=False) != before


def test_past_the_window_the_database_is_read_again(engine, product):
    clock = Clock()
    tokens = RecentTokens(0.25, clock=clock)
    before = tokens.current(engine, product_id=1)
    _write(engine)
    clock.now += 0.25

    assert tokens.current(engine, product_id=1) != before


def test_clear_forgets_every_token(engine, product):
    tokens = RecentTokens(3600, clock=Clock())
    before = tokens.current(engine, product_id=1)
    _write(engine)
    tokens.clear()

    assert tokens.current(engine, product_id=1) != before


def test_no_window_reads_the_database_every_time(engine, product):
    tokens = RecentTokens(0, clock=Clock())
    before = tokens.current(engine, product_id=1)
    _write(engine)

    assert tokens.current(engine, product_id=1) != before


def test_an_unknown_product_is_not_kept(engine, product):
    tokens = RecentTokens(3600, clock=Clock())
    with pytest.raises(ProductNotFound):
        tokens.current(engine, product_id=2)
    create_product(engine, name="q", product_id=2)

    assert tokens.current(engine, product_id=2) is None
