"""Closed days read from the history: closed weekdays forecast 0, isolated zeros unlearnt, a calendar wins."""

import numpy as np
import pandas as pd
import pytest

from forecasting.models import closures
from forecasting.models import model_set as training

HORIZON = 35


@pytest.fixture(scope="module")
def shop(history_factory):
    """A shop shut on Sundays with a zero public holiday a month, and its demand had it been open."""
    demand = history_factory(430 + HORIZON, seed=11)
    dates = pd.DatetimeIndex(demand.index)
    sales = demand.copy()
    sales[(dates.day_of_week == 6) | (dates.day == 15)] = 0.0
    return sales.iloc[:-HORIZON], demand.iloc[-HORIZON:]


@pytest.fixture(scope="module")
def trained(shop, small_params):
    history, _ = shop
    return training.train_model_set(history, params=small_params, min_samples=100, product_id=5)


def test_a_shop_shut_on_sundays_gets_exactly_zero_on_future_sundays(trained, shop):
    history, future = shop
    frame = training.forecast(trained, history, HORIZON)
    sundays = frame.index.day_of_week == 6

    assert trained.describe()["closures"] == {"weekdays": [6], "isolated_zeros": True}
    assert sundays.sum() == 5
    assert (frame[sundays].to_numpy() == 0.0).all()
    # Open days are forecast near the open-day level, not dragged towards the Sunday zeros.
    open_forecast = frame.loc[~sundays, "forecast"].to_numpy()
    open_actual = future.to_numpy()[~sundays]
    assert (open_forecast > 0).all()
    assert abs(open_forecast.mean() / open_actual.mean() - 1) < 0.1


def test_the_sunday_zeros_and_holidays_are_not_learnt(shop, small_params):
    history, _ = shop
    dates = pd.DatetimeIndex(history.index)
    masked = closures.apply(history, closures.infer(history))

    assert masked[dates.day_of_week == 6].isna().all()
    # The zero holidays of open weekdays are left out of fitting, the open days are kept.
    holidays = (dates.day == 15) & (dates.day_of_week != 6)
    assert masked[holidays].isna().all()
    assert masked[~holidays & (dates.day_of_week != 6)].notna().all()


def test_an_intermittent_product_is_not_treated_as_closed():
    rng = np.random.default_rng(4)
    dates = pd.date_range("2022-01-01", periods=400, freq="D")
    # Sells on a fifth of the days, never on Sundays: the zeros are everywhere, not a closure.
    values = np.where(rng.random(400) < 0.2, rng.poisson(3, 400) + 1, 0).astype(float)
    values[dates.day_of_week == 6] = 0.0
    history = pd.Series(values, index=dates)

    found = closures.infer(history)

    assert found == closures.Closures()
    assert closures.apply(history, found).equals(history)


def test_a_slow_weekday_that_sells_is_not_closed(history_factory):
    history = history_factory(400, seed=2)
    dates = pd.DatetimeIndex(history.index)
    # Mondays sell on a fifth of the weeks only: 80 % zeros, under the closed share.
    mondays = np.flatnonzero(dates.day_of_week == 0)
    history.iloc[mondays[np.arange(len(mondays)) % 5 != 0]] = 0.0

    assert closures.infer(history).weekdays == ()


def test_a_calendar_saying_open_wins(shop, small_params):
    history, _ = shop
    dates = pd.date_range(history.index[0], periods=len(history) + HORIZON, freq="D")
    calendar = pd.DataFrame({"open": np.ones(len(dates), dtype=bool)}, index=dates)
    model_set = training.train_model_set(history, calendar=calendar, params=small_params, min_samples=100,
                                         product_id=6)
    frame = training.forecast(model_set, history, HORIZON, calendar=calendar)

    assert model_set.closures == {"weekdays": [], "isolated_zeros": True}
    # No day is closed (0 in every column); the ensemble may forecast a Sunday's learnt zeros as 0.
    assert (frame[list(model_set.members)] > 0).any(axis=1).all()
    # Only the days the calendar leaves unstated are read: a calendar of the future days alone
    # lets the history tell the Sundays, and its open future Sunday is forecast, not 0.
    future = pd.DataFrame({"open": np.ones(HORIZON, dtype=bool)}, index=dates[-HORIZON:])
    partial = training.train_model_set(history, calendar=future, params=small_params, min_samples=100,
                                       product_id=7)
    frame = training.forecast(partial, history, HORIZON, calendar=future)
    assert partial.closures["weekdays"] == [6]
    assert (frame["forecast"] > 0).all()


def test_only_the_training_history_decides_the_closed_weekdays(shop, small_params):
    history, _ = shop
    # The shop opens on Sundays after training: the forecast keeps the record of training,
    # and the closed weekdays never come from days after the history.
    train = history.iloc[:-70]
    later = history.copy()
    dates = pd.DatetimeIndex(later.index)
    later[(dates >= train.index[-1]) & (dates.day_of_week == 6)] = 50.0
    model_set = training.train_model_set(train, params=small_params, min_samples=100, product_id=8)
    frame = training.forecast(model_set, later, 14)

    assert model_set.closures["weekdays"] == [6]
    assert (frame[frame.index.day_of_week == 6].to_numpy() == 0.0).all()
    assert closures.infer(later.iloc[-7 * closures.CLOSURE_WEEKS:]).weekdays == ()


def test_closures_round_trip_through_model_info(trained):
    info = trained.describe()
    again = closures.Closures.from_dict(info["closures"])

    assert again == closures.Closures((6,), True)
    assert closures.Closures.from_dict(None) == closures.Closures()


def test_a_shop_shut_for_weeks_is_not_learnt_but_a_product_that_stopped_keeps_its_zeros(history_factory):
    history = history_factory(400, seed=5)
    refit = history.copy()
    refit.iloc[100:130] = 0.0  # shut for a refit, then selling again
    stopped = history.copy()
    stopped.iloc[-20:] = 0.0  # stopped selling: the zeros are demand
    paused = history.copy()
    paused.iloc[200:300] = 0.0  # out of the range for months: a change of demand, not a closure

    masked = closures.apply(refit, closures.infer(refit))
    kept = closures.apply(stopped, closures.infer(stopped))

    assert masked.iloc[100:130].isna().all() and masked.drop(masked.index[100:130]).notna().all()
    assert (kept.iloc[-20:] == 0).all()
    assert (closures.apply(paused, closures.infer(paused)).iloc[200:300] == 0).all()
