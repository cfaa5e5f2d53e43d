import json

import numpy as np
import pytest

from forecasting.models import ensemble, metrics


def test_weights_sum_to_one_and_favour_the_lower_error():
    weights = ensemble.inverse_error_weights({"a": 1.0, "b": 2.0, "c": 4.0})

    assert list(weights) == ["a", "b", "c"]
    assert sum(weights.values()) == pytest.approx(1.0)
    assert weights == pytest.approx({"a": 4 / 7, "b": 2 / 7, "c": 1 / 7})


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_member_with_a_non_finite_error_gets_no_weight(bad):
    weights = ensemble.inverse_error_weights({"a": 1.0, "b": bad, "c": 3.0})

    assert weights["b"] == 0.0
    assert weights["a"] + weights["c"] == pytest.approx(1.0)


def test_a_perfect_member_does_not_take_the_whole_weight():
    weights = ensemble.inverse_error_weights({"a": 0.0, "b": 1.0, "c": 1.0})

    assert 0.5 < weights["a"] < 1.0
    assert weights["b"] > 0


def test_all_perfect_members_share_equally():
    assert ensemble.inverse_error_weights({"a": 0.0, "b": 0.0}) == {"a": 0.5, "b": 0.5}


def test_no_finite_error_is_refused():
    with pytest.raises(ValueError, match="No member has a finite validation error"):
        ensemble.inverse_error_weights({"a": float("nan")})


def test_combine_is_the_weighted_sum_and_ignores_unweighted_members():
    forecasts = {"a": np.array([10.0, 20.0]), "b": np.array([20.0, 40.0]), "c": np.array([np.nan, np.nan])}

    combined = ensemble.combine(forecasts, {"a": 0.75, "b": 0.25, "c": 0.0})

    np.testing.assert_allclose(combined, [12.5, 25.0])


def test_intervals_from_validation_residuals_cover_new_noise_at_about_nominal_rates():
    rng = np.random.default_rng(3)
    forecast = np.full(400, 100.0)
    intervals = ensemble.fit_intervals(forecast + rng.normal(0, 10, 400), forecast, (0.8, 0.95))

    fresh = forecast[:300] + rng.normal(0, 10, 300)
    bounds = ensemble.interval_bounds(forecast[:300], intervals)

    assert metrics.coverage(fresh, *bounds[0.8]) == pytest.approx(0.8, abs=0.06)
    assert metrics.coverage(fresh, *bounds[0.95]) == pytest.approx(0.95, abs=0.04)


def test_bounds_are_ordered_non_negative_and_nested():
    forecast = np.array([0.0, 1.0, 5.0, 50.0])
    rng = np.random.default_rng(0)
    intervals = ensemble.fit_intervals(rng.poisson(5, 60), np.full(60, 5.0), (0.8, 0.95))

    bounds = ensemble.interval_bounds(forecast, intervals)
    (low80, high80), (low95, high95) = bounds[0.8], bounds[0.95]

    assert (low80 >= 0).all() and (low95 >= 0).all()
    assert (low95 <= low80).all() and (low80 <= forecast).all()
    assert (forecast <= high80).all() and (high80 <= high95).all()
    assert high80[0] > 0  # a zero forecast still has room above it


def test_an_exactly_predicted_validation_window_still_gets_a_band():
    intervals = ensemble.fit_intervals(np.zeros(30), np.zeros(30), (0.8,))

    low, high = ensemble.interval_bounds(np.array([4.0]), intervals)[0.8]

    assert high[0] - low[0] > 4.0  # at least +-1.28 * sqrt(5)


def test_bands_widen_beyond_the_validated_horizon():
    rng = np.random.default_rng(1)
    intervals = ensemble.fit_intervals(100 + rng.normal(0, 10, 30), np.full(30, 100.0), (0.8,))

    low, high = ensemble.interval_bounds(np.full(120, 100.0), intervals)[0.8]
    width = high - low

    assert width[0] == pytest.approx(width[29])
    assert width[119] == pytest.approx(width[0] * 2)  # sqrt(120 / 30)


def test_intervals_survive_a_json_round_trip():
    rng = np.random.default_rng(2)
    intervals = ensemble.fit_intervals(rng.poisson(20, 50), np.full(50, 20.0), (0.8, 0.95))
    forecast = np.linspace(5, 30, 10)

    again = json.loads(json.dumps(intervals))

    for level, (low, high) in ensemble.interval_bounds(forecast, intervals).items():
        np.testing.assert_array_equal(ensemble.interval_bounds(forecast, again)[level][0], low)
        np.testing.assert_array_equal(ensemble.interval_bounds(forecast, again)[level][1], high)


@pytest.mark.parametrize("level", [0.0, 1.0, 80])
def test_levels_outside_zero_one_are_refused(level):
    with pytest.raises(ValueError, match="Interval levels must lie in"):
        ensemble.fit_intervals([1.0, 2.0], [1.0, 2.0], (level,))
