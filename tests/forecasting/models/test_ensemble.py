import numpy as np
import pytest

from forecasting.models import ensemble


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


def test_interval_bounds_refuse_a_description_of_another_method():
    older = {"method": "sqrt_scaled_residual_quantiles", "levels": [0.8], "quantiles": {"0.8": [-1.0, 1.0]}}

    with pytest.raises(ValueError, match="Unknown interval method"):
        ensemble.interval_bounds(np.ones(3), older)
