"""The product's calendar reaches the worker's training and forecast steps."""

from datetime import timedelta

import numpy as np
import pytest

from forecasting.data.calendar import upsert_calendar
from forecasting.data.products import create_product
from forecasting.data.sales import load_history, upsert_sales
from forecasting.lifecycle import steps
from forecasting.models.model_set import ModelSet
from forecasting.store.caches import ForecastMemo, LoadedCache
from forecasting.store.model_store import ModelStore
from tests.forecasting.conftest import make_signer


@pytest.fixture
def shop(engine, history):
    """A product shut on Sundays (past and future), with a promotion regressor."""
    pid = create_product(engine, name="shop")["id"]
    sundays = history.index.day_of_week == 6
    upsert_sales(engine, product_id=pid, rows=[(d.date(), 0.0 if sunday else float(v))
                                               for (d, v), sunday in zip(history.items(), sundays)])
    end = history.index[-1].date()
    days = [history.index[0].date() + timedelta(days=i) for i in range(len(history) + 30)]
    upsert_calendar(engine, product_id=pid, rows=[
        {"date": day, "open": day.weekday() != 6, "regressors": {"promo": float(day.day % 7 == 0)}} for day in days
    ])
    return pid, end


def test_the_worker_forecast_is_zero_on_the_closed_days_of_the_calendar(engine, tmp_path, shop, small_params):
    pid, _ = shop
    store = ModelStore(tmp_path / "models", signer=make_signer())
    policy = steps.Policy(params=small_params, min_samples=100, max_age=timedelta(days=7), saved_forecast_days=14)

    made = steps.forecast(engine=engine, store=store, cache=LoadedCache(2), memo=ForecastMemo(8), product_id=pid,
                          horizon=21, policy=policy)

    assert made.trained
    sundays = [p for p in made.points if np.datetime64(p["date"]).astype("datetime64[D]").item().weekday() == 6]
    others = [p for p in made.points if p not in sundays]
    assert len(sundays) == 3 and all(p["forecast"] == 0 and p["upper"] == 0 for p in sundays)
    assert all(p["forecast"] > 0 for p in others)
    assert made.info["calendar"] == {"regressors": ["promo"], "holidays": []}


def test_training_takes_the_calendar_the_forecast_step_reads(engine, tmp_path, shop, small_params):
    pid, end = shop
    history = load_history(engine, product_id=pid)
    policy = steps.Policy(params=small_params, min_samples=100, max_age=timedelta(days=7))
    calendar = steps.product_calendar(engine, history, 10, policy)

    assert calendar.index[-1].date() == end + timedelta(days=10)
    assert not calendar.loc[calendar.index.day_of_week == 6, "open"].any()
    store = ModelStore(tmp_path / "models", signer=make_signer())
    steps.train(engine=engine, store=store, history=history, policy=policy, reason="test")
    model_set, info = store.load(pid, ModelSet.load)
    assert info["calendar"]["regressors"] == ["promo"]
    assert model_set.members["random_forest"].calendar_.regressors == ("promo",)
