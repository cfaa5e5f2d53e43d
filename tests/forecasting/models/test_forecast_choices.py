"""A set's forecast at any interval level and from a subset of its members."""

import numpy as np
import pytest

from forecasting.models import intervals
from forecasting.models.blends import blend_folds, chosen_intervals, chosen_weights, error_dependence
from forecasting.models.model_set import ModelSet, forecast, train_model_set


@pytest.fixture(scope="module")
def trained(history, small_params):
    return train_model_set(history, params=small_params, min_samples=100, product_id=1)


def test_the_default_levels_asked_explicitly_give_the_same_forecast(trained, history):
    default = forecast(trained, history, 30)
    asked = forecast(trained, history, 30, levels=[0.8, 0.95])
    assert default.equals(asked)


def test_bands_widen_with_the_level_and_carry_the_level_in_their_names(trained, history):
    frame = forecast(trained, history, 30, levels=[0.5, 0.8, 0.99])

    assert list(frame.columns[:7]) == ["forecast", "lower", "upper", "lower_80", "upper_80", "lower_99", "upper_99"]
    assert (frame["lower_99"] <= frame["lower_80"]).all() and (frame["lower_80"] <= frame["lower"]).all()
    assert (frame["upper"] < frame["upper_80"]).all() and (frame["upper_80"] < frame["upper_99"]).all()
    # A level the set stored comes out as it does by default.
    np.testing.assert_allclose(frame["upper_80"], forecast(trained, history, 30)["upper"])


def test_any_level_is_read_off_the_fold_calibration(trained, history):
    frame = forecast(trained, history, 14, levels=[0.6])
    lower, upper = intervals.bounds(frame["forecast"], trained.intervals, 0.6)
    np.testing.assert_allclose(frame["lower"], lower)
    np.testing.assert_allclose(frame["upper"], upper)


def test_members_renormalise_the_weights_and_bound_their_own_blend(trained, history):
    weights = chosen_weights(trained, ["prophet", "random_forest"])
    total = trained.weights["prophet"] + trained.weights["random_forest"]
    assert weights == pytest.approx({"prophet": trained.weights["prophet"] / total,
                                     "random_forest": trained.weights["random_forest"] / total})

    frame = forecast(trained, history, 14, members=["prophet", "random_forest"])
    assert list(frame.columns) == ["forecast", "lower", "upper", "lower_95", "upper_95", "prophet", "random_forest"]
    blend = weights["prophet"] * frame["prophet"] + weights["random_forest"] * frame["random_forest"]
    np.testing.assert_allclose(frame["forecast"], blend)
    alone = forecast(trained, history, 14, members=["prophet"])
    np.testing.assert_allclose(alone["forecast"], alone["prophet"])
    # Prophet's band is fitted on Prophet's own validation errors, not the ensemble's.
    assert chosen_intervals(trained, {"prophet": 1.0})["quantiles"] != trained.intervals["quantiles"]
    # Calibrated on the blend's own fold forecasts, over the same scored fold days as the set's.
    record = trained.validation_forecasts
    assert blend_folds(record, trained.weights)[0][1].size == len(record["actual"])
    assert chosen_intervals(trained, {"prophet": 1.0})["residuals"] == trained.intervals["residuals"]
    assert 0 <= error_dependence(trained, ["prophet"]) <= 1


def test_a_member_the_set_lacks_is_refused_by_name(trained, history):
    with pytest.raises(ValueError, match="no member tsb"):
        forecast(trained, history, 7, members=["tsb"])


def test_a_loaded_set_keeps_what_the_options_need(trained, tmp_path, history):
    trained.save(tmp_path)
    loaded = ModelSet.load(tmp_path, trained.describe())
    np.testing.assert_allclose(forecast(loaded, history, 14, members=["lstm"], levels=[0.6]).to_numpy(),
                               forecast(trained, history, 14, members=["lstm"], levels=[0.6]).to_numpy())
