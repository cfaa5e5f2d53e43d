"""Demand shapes by ADI and CV², and the TSB member that intermittent products get."""

import numpy as np
import pandas as pd
import pytest

from forecasting.models import metrics, validation
from forecasting.models import model_set as training
from forecasting.models.intermittent import TSBModel, demand_shape, stopped_selling, weight_error


def series(values, start="2022-01-01"):
    values = np.asarray(values, dtype=float)
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="D"))


@pytest.mark.parametrize(("values", "shape"), [
    ([5, 6, 5, 6] * 10, "smooth"),  # ADI 1, CV² 0.008
    ([1, 10, 1, 10] * 10, "erratic"),  # ADI 1, CV² 0.67
    ([0, 5, 0, 6] * 10, "intermittent"),  # ADI 2, CV² 0.008
    ([0, 1, 0, 10] * 10, "lumpy"),  # ADI 2, CV² 0.67
    ([0] * 40, "intermittent"),  # nothing sells
])
def test_the_four_shapes(values, shape):
    assert demand_shape(series(values))["class"] == shape


def test_the_thresholds_are_1_32_and_0_49():
    # 4 days with demand in 5: ADI 1.25 (frequent); in 4 of 6 days: 1.5 (intermittent).
    assert demand_shape(series([0, 4, 4, 4, 4] * 8))["class"] == "smooth"
    assert demand_shape(series([0, 0, 4, 4, 4, 4] * 8))["class"] == "intermittent"
    # Sizes 1 and 3: CV² 0.25; 1 and 5: 0.44; 1 and 6: 0.51.
    assert demand_shape(series([1, 5] * 20))["class"] == "smooth"
    assert demand_shape(series([1, 6] * 20))["class"] == "erratic"
    shape = demand_shape(series([0, 0, 4, 4, 4, 4] * 8))
    assert shape["adi"] == 1.5 and shape["cv2"] == 0.0


def test_days_that_are_not_demand_are_not_counted():
    values = series([0, 5] * 20)
    closed = values.mask(values == 0)  # the zeros were closed days: every open day sells

    assert demand_shape(values)["class"] == "intermittent"
    assert demand_shape(closed)["class"] == "smooth"


@pytest.mark.parametrize(("shape", "error"), [
    ("intermittent", metrics.mse), ("lumpy", metrics.mse), ("smooth", metrics.mae), ("erratic", metrics.mae),
])
def test_intermittent_shapes_weigh_members_by_the_squared_error(shape, error):
    assert weight_error({"class": shape, "adi": 2.0, "cv2": 0.1}) is error
    assert weight_error(None) is metrics.mae


def test_the_fold_error_takes_the_error_it_is_measured_by():
    actual = np.array([0, 0, 0, 6, 0, 0, 0, 6], dtype=float)
    zero, mean = [np.zeros(4), np.zeros(4)], [np.full(4, 1.5), np.full(4, 1.5)]

    assert validation.fold_error(actual, [0, 4], zero) < validation.fold_error(actual, [0, 4], mean)
    assert (validation.fold_error(actual, [0, 4], mean, metrics.mse)
            < validation.fold_error(actual, [0, 4], zero, metrics.mse))


@pytest.mark.parametrize(("values", "stopped"), [
    ([1, 0] * 100 + [0] * 14, True),  # every other day, silent for 15 days: 0.5 ** 15
    ([1, 0] * 100 + [0] * 5, False),  # a short silence: a holiday or a stock-out
    ([1, 0] * 100, False),  # ends on a day without demand, as every other day does
    (([1] + [0] * 19) * 10 + [0] * 50, False),  # one day in 20: 69 silent days happen
    ([0] * 60, False),  # never sold: nothing stopped
    ([1] * 200 + [0] * 3, False),  # fewer silent days than a week, however steady the seller
])
def test_a_product_has_stopped_selling_when_its_silence_is_implausible_at_its_own_rate(values, stopped):
    assert stopped_selling(series(values)) is stopped


def test_days_that_are_not_demand_do_not_lengthen_a_silence():
    values = series([1, 0] * 100 + [0] * 14)
    assert not stopped_selling(values.where(np.arange(len(values)) < 200))  # the silent days were closed


def test_tsb_decays_to_near_zero_after_sales_stop(small_params):
    rng = np.random.default_rng(2)
    sold = rng.poisson(0.8, 300) * (rng.random(300) < 0.4)
    history = series(np.concatenate([sold, np.zeros(42)]))

    model = TSBModel(small_params).fit(history)
    forecast = model.predict(history, 28)

    assert forecast.mean() < 0.1 < TSBModel(small_params).fit(history.iloc[:300]).predict(history.iloc[:300], 5)[0]
    assert np.ptp(forecast) == 0.0


def _dead_item(days=500, silent=42, seed=5):
    rng = np.random.default_rng(seed)
    sold = rng.poisson(2.0, days) * (rng.random(days) < 0.35)
    sold[-silent:] = 0
    return series(sold)


def test_a_dead_intermittent_item_is_forecast_near_zero_and_its_shape_is_recorded(params_factory):
    history = _dead_item()
    model_set = training.train_model_set(history, params=params_factory(), min_samples=100, product_id=2)
    frame = training.forecast(model_set, history, 28)

    assert model_set.describe()["demand"]["class"] in ("intermittent", "lumpy")
    assert list(model_set.members) == ["prophet", "lstm", "random_forest", "tsb"]
    assert frame["forecast"].mean() < 0.1
    assert "tsb" in frame.columns


def test_an_item_that_stopped_more_recently_than_a_fold_is_forecast_by_tsb_alone(params_factory):
    rng = np.random.default_rng(3)
    sold = rng.poisson(2.0, 500) * (rng.random(500) < 0.6)  # demand on about half the days
    history = series(np.concatenate([sold, np.zeros(20)]))  # the last fold (30 days) is mostly sales
    model_set = training.train_model_set(history, params=params_factory(validation_days=90), min_samples=100,
                                         product_id=2)

    assert stopped_selling(history)
    assert model_set.weights == {"prophet": 0.0, "lstm": 0.0, "random_forest": 0.0, "tsb": 1.0}
    frame = training.forecast(model_set, history, 28)
    np.testing.assert_allclose(frame["forecast"], frame["tsb"])
    assert frame["forecast"].mean() < sold.mean() / 4  # decaying, not the demand before the stop


@pytest.mark.parametrize(("shape", "heavier"), [("intermittent", "mean"), ("lumpy", "mean"), ("smooth", "zero")])
def test_intermittent_sets_weigh_the_member_forecasting_the_mean_above_the_one_forecasting_zero(shape, heavier):
    tail = np.array([0, 0, 0, 6] * 15, dtype=float)  # sells 6 one day in 4: mean 1.5, median 0
    history = series(np.concatenate([np.tile(tail, 4), tail]))
    origins = [0, 20, 40]
    folds = {name: [np.full(20, level)] * 3 for name, level in (("zero", 0.0), ("mean", 1.5))}
    found = validation.Validation(origins=origins, fold_days=20, fold_forecasts=folds,
                                  fold_errors={name: validation.fold_error(tail, origins, f) for name, f in folds.items()})

    weights = training.choose_set_weights(found, tail, {"class": shape}, history)

    assert weights[heavier] > weights["zero" if heavier == "mean" else "mean"]


def test_a_set_with_tsb_that_stopped_selling_gives_tsb_the_whole_weight():
    history = series([1, 0] * 100 + [0] * 14)
    tail = history.to_numpy()[-30:]
    folds = {name: [np.full(10, level)] * 3 for name, level in (("tsb", 1.5), ("random_forest", 0.3))}
    found = validation.Validation(origins=[0, 10, 20], fold_days=10, fold_forecasts=folds,
                                  fold_errors={name: 0.5 for name in folds})

    weights = training.choose_set_weights(found, tail, {"class": "intermittent"}, history)

    assert weights == {"tsb": 1.0, "random_forest": 0.0}


def test_an_intermittent_set_saves_and_loads_its_fourth_member(params_factory, tmp_path):
    history = _dead_item(silent=0)
    model_set = training.train_model_set(history, params=params_factory(), min_samples=100, product_id=2)
    model_set.save(tmp_path)
    loaded = training.ModelSet.load(tmp_path, model_set.describe())

    assert list(loaded.members) == list(model_set.members) and "tsb" in loaded.members
    pd.testing.assert_frame_equal(training.forecast(loaded, history, 14), training.forecast(model_set, history, 14))


def test_a_smooth_product_keeps_the_three_members(trained_smooth):
    assert trained_smooth.demand["class"] == "smooth" and "tsb" not in trained_smooth.members


@pytest.fixture(scope="module")
def trained_smooth(small_params, history):
    return training.train_model_set(history, params=small_params, min_samples=100, product_id=1)
