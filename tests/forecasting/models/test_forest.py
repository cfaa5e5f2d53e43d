import numpy as np
import pandas as pd
import pytest

from forecasting.models import features
from forecasting.models.forest import ForestModel


@pytest.fixture(scope="module")
def forest(small_params, history):
    return ForestModel(small_params).fit(history)


def test_fit_builds_the_configured_forest(small_params, history):
    model = ForestModel(small_params).fit(history)

    assert len(model.forest_.estimators_) == small_params.rf_trees
    assert model.forest_.max_depth == small_params.rf_max_depth
    assert model.forest_.min_samples_leaf == small_params.rf_min_samples_leaf
    assert model.forest_.n_features_in_ == len(features.FEATURE_NAMES)


def test_first_step_equals_the_sklearn_prediction_of_the_next_row(forest, history):
    day = history.index[-1] + np.timedelta64(1, "D")
    row, level = features.next_features(forest.transform_.transform(history).to_numpy(), day)

    z = level + forest.forest_.predict(row[None, :])[0]
    expected = forest.transform_.inverse_transform(np.array([z]), pd.DatetimeIndex([day]))[0]

    assert forest.predict(history, 1)[0] == pytest.approx(expected, rel=1e-6)


def test_forest_learns_deseasonalised_log_demand(forest, history):
    # A multiplicative weekly pattern: the forecast's weekday ratios follow the history's.
    forecast = pd.Series(forest.predict(history, 28), index=pd.date_range(history.index[-1], periods=29)[1:])
    recent = history.iloc[-364:]
    history_ratio = recent.groupby(recent.index.day_of_week).mean()
    forecast_ratio = forecast.groupby(forecast.index.day_of_week).mean()
    assert np.corrcoef(history_ratio, forecast_ratio)[0, 1] > 0.9


def test_forecast_is_recursive_so_a_longer_horizon_extends_a_shorter_one(forest, history):
    np.testing.assert_array_equal(forest.predict(history, 30)[:10], forest.predict(history, 10))


def test_forecast_clips_at_zero(small_params, history):
    falling = history * 0
    falling.iloc[:-60] = 50.0  # demand collapses to zero for the last two months
    model = ForestModel(small_params).fit(falling)

    assert (model.predict(falling, 20) >= 0).all()


def test_another_seed_grows_another_forest(forest, params_factory, small_params, history):
    other = ForestModel(params_factory(seed=small_params.seed + 1)).fit(history)

    assert not np.array_equal(other.predict(history, 20), forest.predict(history, 20))


def test_every_recursive_step_equals_sklearn_on_the_same_row(forest, history):
    horizon = 20
    dates = pd.date_range(history.index[-1] + pd.Timedelta(days=1), periods=horizon, freq="D")
    calendar = features.calendar_features(dates)
    z = list(forest.transform_.transform(history).to_numpy())
    for step in range(horizon):
        row, level = features.next_features(np.array(z), calendar_row=calendar[step])
        z.append(level + forest.forest_.predict(row[None, :])[0])
    expected = forest.transform_.inverse_transform(np.array(z[-horizon:]), dates)

    np.testing.assert_allclose(forest.predict(history, horizon), expected, rtol=1e-10, atol=1e-10)
