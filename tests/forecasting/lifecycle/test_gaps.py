"""Long runs of days without sales rows are gaps, left out of training; short ones and stored zeros are 0."""

from datetime import timedelta
from types import SimpleNamespace

import numpy as np
import pytest

from forecasting.data.products import create_product
from forecasting.data.sales import load_history, upsert_sales
from forecasting.lifecycle import steps
from forecasting.models import model_set as training
from forecasting.store.caches import ForecastMemo, LoadedCache
from forecasting.store.model_store import ModelStore
from tests.forecasting.conftest import make_signer

GAP = slice(200, 260)  # 60 days without a row
SHORT = slice(100, 110)  # 10 days without a row


@pytest.fixture
def gappy(engine, history):
    pid = create_product(engine, name="gappy")["id"]
    keep = np.ones(len(history), dtype=bool)
    keep[GAP] = keep[SHORT] = False
    rows = [(d.date(), float(v)) for (d, v), k in zip(history.items(), keep) if k]
    rows[50] = (rows[50][0], 0.0)  # a stored zero
    upsert_sales(engine, product_id=pid, rows=rows)
    return pid


def test_a_long_run_of_missing_days_is_nan_and_short_ones_and_stored_zeros_are_zero(engine, gappy):
    series = load_history(engine, product_id=gappy, max_gap_days=28).series

    assert series.iloc[GAP].isna().all()
    assert (series.iloc[SHORT] == 0).all() and series.iloc[50] == 0
    assert series.drop(series.index[GAP]).notna().all()
    # Without the setting every missing day is 0, as before.
    assert (load_history(engine, product_id=gappy).series.iloc[GAP] == 0).all()


def test_the_threshold_is_exclusive(engine, history):
    pid = create_product(engine, name="edge")["id"]
    days = [history.index[0].date() + timedelta(days=i) for i in (0, 29, 59)]  # 28 and 29 missing days
    upsert_sales(engine, product_id=pid, rows=[(day, 1.0) for day in days])
    series = load_history(engine, product_id=pid, max_gap_days=28).series

    assert (series.iloc[1:29] == 0).all() and series.iloc[30:59].isna().all()


def test_the_worker_trains_around_a_gap_and_the_policy_reads_the_setting(engine, tmp_path, gappy, small_params):
    policy = steps.Policy.from_settings(SimpleNamespace(
        model_params=small_params, min_training_samples=100, model_retrain_interval_days=7, saved_forecast_days=7,
        max_forecast_horizon=365, holidays_place=(None, None), max_gap_days=28, max_history_days=3650))
    store = ModelStore(tmp_path / "models", signer=make_signer())

    made = steps.forecast(engine=engine, store=store, cache=LoadedCache(2), memo=ForecastMemo(8), product_id=gappy,
                          horizon=14, policy=policy)

    assert policy.max_gap_days == 28 and made.trained
    assert all(np.isfinite(p["forecast"]) and p["forecast"] > 0 for p in made.points)


def test_gap_days_are_left_out_of_fitting_not_learnt_as_zero_demand(history, small_params):
    gap, zeros = history.copy(), history.copy()
    gap.iloc[-120:-40] = np.nan
    zeros.iloc[-120:-40] = 0.0

    level = history.iloc[-60:].mean()
    forecasts, prophet = {}, {}
    for name, series in (("gap", gap), ("zeros", zeros)):
        model_set = training.train_model_set(series, params=small_params, min_samples=100, product_id=1)
        frame = training.forecast(model_set, series, 28)
        forecasts[name], prophet[name] = frame["forecast"].mean(), frame["prophet"].mean()

    assert abs(forecasts["gap"] / level - 1) < 0.25
    # Zeros are demand: a member fitted on the whole history learns them (the ensemble may
    # lean on the forest, whose recent-days features recover from them, as validation shows).
    assert prophet["zeros"] < 0.8 * prophet["gap"]


def test_prophet_and_the_forest_fit_no_gap_day(history, small_params):
    from forecasting.models.forest import ForestModel
    from forecasting.models.prophet_model import ProphetModel

    series = history.copy().astype(float)
    series.iloc[150:200] = np.nan
    prophet = ProphetModel(small_params).fit(series)
    forest = ForestModel(small_params).fit(series)

    assert len(prophet.prophet_.history) == series.notna().sum()
    assert np.isfinite(forest.predict(series, 14)).all()
