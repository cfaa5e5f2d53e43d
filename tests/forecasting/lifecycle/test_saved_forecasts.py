"""Forecasts saved with each new set, and the forecast path that reads them instead of computing."""

from datetime import timedelta

import pytest

from forecasting.data.products import create_product
from forecasting.data.sales import load_history, upsert_sales
from forecasting.lifecycle import saved_forecasts, steps
from forecasting.models.model_set import ModelSet
from forecasting.store.caches import ForecastMemo, LoadedCache
from forecasting.store.model_store import ModelStore
from tests.forecasting.conftest import make_signer


@pytest.fixture
def product(engine, history):
    pid = create_product(engine, name="saved")["id"]
    upsert_sales(engine, product_id=pid, rows=[(d.date(), float(v)) for d, v in history.items()])
    return pid


def policy(params, days):
    return steps.Policy(params=params, min_samples=100, max_age=timedelta(days=7), saved_forecast_days=days)


def forecast(engine, store, product_id, horizon, pol, cache=None, memo=None):
    return steps.forecast(engine=engine, store=store, cache=LoadedCache(2) if cache is None else cache,
                             memo=ForecastMemo(8) if memo is None else memo, product_id=product_id, horizon=horizon,
                             policy=pol)


def test_a_fresh_set_is_answered_from_its_saved_forecast_without_loading_models(engine, tmp_path, product,
                                                                                small_params):
    store, pol = ModelStore(tmp_path / "models", signer=make_signer()), policy(small_params, 20)
    history = load_history(engine, product_id=product)
    info = steps.train(engine=engine, store=store, history=history, policy=pol, reason="test")
    saved = saved_forecasts.load(engine, product_id=product, set_id=info["set_id"])
    model_set, _ = store.load(product, ModelSet.load)
    assert saved == steps.forecast_points(model_set, history.series, 20)
    assert saved_forecasts.load(engine, product_id=product, set_id="another set") is None

    cache = LoadedCache(2)
    made = forecast(engine, store, product, 15, pol, cache=cache)
    assert made.points == saved[:15] and not made.trained and made.history_end == history.end.isoformat()
    assert cache.misses == 0  # read, not computed: no model was loaded

    # Longer than what was saved: computed, and the saved days are its start.
    longer = forecast(engine, store, product, 30, pol, cache=cache)
    assert cache.misses == 1 and longer.points[:20] == saved and len(longer.points) == 30


def test_new_sales_retrain_and_replace_the_saved_forecast(engine, tmp_path, product, small_params):
    store, pol = ModelStore(tmp_path / "models", signer=make_signer()), policy(small_params, 10)
    first = forecast(engine, store, product, 10, pol)
    assert first.trained and first.reason == "missing"
    end = load_history(engine, product_id=product).end
    upsert_sales(engine, product_id=product, rows=[(end + timedelta(days=1), 3.0)])

    second = forecast(engine, store, product, 10, pol)
    assert second.trained and second.reason == "data_changed"
    assert second.points[0]["date"] == (end + timedelta(days=2)).isoformat()
    assert saved_forecasts.load(engine, product_id=product, set_id=second.info["set_id"]) == second.points
    assert saved_forecasts.load(engine, product_id=product, set_id=first.info["set_id"]) is None


def test_a_shorter_forecast_is_the_start_of_a_longer_one(small_params, history):
    from forecasting.models.model_set import train_model_set

    model_set = train_model_set(history, params=small_params, min_samples=100, product_id=1)
    long = steps.forecast_points(model_set, history, 45)
    assert steps.forecast_points(model_set, history, 7) == long[:7]
