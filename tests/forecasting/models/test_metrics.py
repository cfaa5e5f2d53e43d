import math

import numpy as np
import pytest

from forecasting.models import metrics


def test_mae_and_rmse_of_a_hand_computed_example():
    actual, forecast = [1, 2, 3], [2, 2, 5]  # errors 1, 0, 2

    assert metrics.mae(actual, forecast) == pytest.approx(1.0)
    assert metrics.rmse(actual, forecast) == pytest.approx(math.sqrt(5 / 3))


def test_mse_is_the_mean_squared_error_and_prefers_the_mean_to_the_median():
    assert metrics.mse([1, 2, 3], [2, 2, 5]) == pytest.approx(5 / 3)
    sparse = [0, 0, 0, 6]  # median 0, mean 1.5
    assert metrics.mse(sparse, [1.5] * 4) < metrics.mse(sparse, [0] * 4)
    assert metrics.mae(sparse, [0] * 4) < metrics.mae(sparse, [1.5] * 4)


def test_smape_counts_a_day_of_zero_actual_and_zero_forecast_as_perfect():
    # Terms: both zero -> 0; 2*20/40 = 1; actual 0, forecast 5 -> 2. Mean 1 -> 100 %.
    assert metrics.smape([0, 10, 0], [0, 30, 5]) == pytest.approx(100.0)
    assert metrics.smape([0, 0], [0, 0]) == 0.0


def test_smape_is_in_percent():
    assert metrics.smape([100], [110]) == pytest.approx(200 * 10 / 210)


def test_mase_scales_by_the_weekly_naive_error_of_the_history():
    insample = np.arange(21, dtype=float)  # y[t] - y[t-7] = 7 everywhere

    assert metrics.mase([10, 10], [13, 14], insample) == pytest.approx(3.5 / 7)


def test_mase_falls_back_to_lag_one_on_a_week_or_less_of_history():
    insample = [0.0, 2.0, 4.0, 6.0]  # one-step naive error 2

    assert metrics.mase([1.0], [2.0], insample) == pytest.approx(0.5)


def test_mase_is_nan_for_a_constant_history():
    assert math.isnan(metrics.mase([1.0], [2.0], [5.0] * 30))


def test_coverage_is_the_share_inside_the_bounds():
    assert metrics.coverage([1, 5, 10, 3], [0, 0, 0, 4], [2, 5, 9, 6]) == pytest.approx(0.5)


def test_score_returns_the_four_metrics():
    assert set(metrics.score([1, 2], [1, 3], np.arange(30))) == {"mae", "rmse", "smape", "mase"}


@pytest.mark.parametrize("metric", [metrics.mae, metrics.rmse, metrics.smape])
def test_mismatched_lengths_are_refused(metric):
    with pytest.raises(ValueError, match="3 values but forecast has 2"):
        metric([1, 2, 3], [1, 2])
