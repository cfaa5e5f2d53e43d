import json

import numpy as np
import pytest

from forecasting.models import ensemble, intervals, metrics, model_set, validation


def _folds(rng, noise, days=90, origins=(0, 30, 60)):
    """Forecasts of 50 from each origin to the end of the tail, and demand around them."""
    return [(50.0 + rng.normal(0, noise, days - o), np.full(days - o, 50.0)) for o in origins]


def test_fold_residuals_cover_new_noise_at_about_every_nominal_level():
    rng = np.random.default_rng(5)
    calibrated = intervals.calibrate(_folds(rng, 7.0), 90)
    forecast = np.full(2000, 50.0)
    fresh = forecast + rng.normal(0, 7.0, forecast.size)

    for level in (0.5, 0.8, 0.9, 0.95):
        lower, upper = intervals.bounds(forecast[:90], calibrated, level)
        lower, upper = np.resize(lower, fresh.size), np.resize(upper, fresh.size)
        assert metrics.coverage(fresh, lower, upper) == pytest.approx(level, abs=0.07)


def test_any_level_gives_nested_bands_and_the_set_levels_are_the_default():
    rng = np.random.default_rng(2)
    calibrated = intervals.calibrate(_folds(rng, 5.0), 90, levels=(0.8, 0.95))
    forecast = np.linspace(0.0, 80.0, 60)

    widths = []
    for level in (0.5, 0.66, 0.8, 0.9, 0.95, 0.99):
        lower, upper = intervals.bounds(forecast, calibrated, level)
        assert (lower >= 0).all() and (lower <= forecast).all() and (upper >= forecast).all()
        widths.append(upper - lower)
    assert all((wide >= narrow).all() for narrow, wide in zip(widths, widths[1:]))
    assert (widths[-1] > widths[0]).any()
    assert list(ensemble.interval_bounds(forecast, calibrated)) == [0.8, 0.95]
    by_level = ensemble.interval_bounds(forecast, calibrated, levels=[0.7])
    np.testing.assert_array_equal(by_level[0.7][1], intervals.bounds(forecast, calibrated, 0.7)[1])


def test_count_data_keep_their_zero_days_and_cover_about_their_level():
    rng = np.random.default_rng(8)
    calibrated = intervals.calibrate([(rng.poisson(2.0, 150).astype(float), np.full(150, 2.0))], 90)
    fresh = rng.poisson(2.0, 5000).astype(float)

    assert calibrated["whole_units"]
    for level, tolerance in ((0.8, 0.1), (0.95, 0.05)):
        lower, upper = (np.resize(bound, fresh.size) for bound in intervals.bounds(np.full(90, 2.0), calibrated, level))
        assert (lower == 0).all()  # a day that sells nothing is inside the band
        assert metrics.coverage(fresh, lower, upper) == pytest.approx(level, abs=tolerance)


def test_bands_widen_beyond_the_validated_days():
    rng = np.random.default_rng(4)
    calibrated = intervals.calibrate(_folds(rng, 5.0, days=30, origins=(0, 10, 20)), 30)
    forecast = np.full(120, 100.0)

    lower, upper = intervals.bounds(forecast, calibrated, 0.8)

    assert upper[29] == upper[0]
    assert upper[119] - forecast[119] == pytest.approx(2 * (upper[0] - forecast[0]))


def test_calibration_survives_json_and_refuses_bad_levels():
    rng = np.random.default_rng(1)
    calibrated = intervals.calibrate(_folds(rng, 3.0), 90)
    again = json.loads(json.dumps(calibrated))

    np.testing.assert_array_equal(intervals.bounds(np.ones(5), calibrated, 0.9)[1],
                                  intervals.bounds(np.ones(5), again, 0.9)[1])
    for level in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="levels must lie in"):
            intervals.bounds(np.ones(5), calibrated, level)
    with pytest.raises(ValueError, match="No fold has a scored day"):
        intervals.calibrate([(np.full(5, np.nan), np.ones(5))], 5)


def test_an_exactly_predicted_validation_window_still_gets_a_band():
    calibrated = intervals.calibrate([(np.full(10, 4.5), np.full(10, 4.5))], 10)

    lower, upper = intervals.bounds(np.array([4.0]), calibrated, 0.8)

    assert calibrated["poisson_floor"]
    assert upper[0] - lower[0] > 4.0  # at least +-1.28 * sqrt(5)


def test_dependence_is_read_off_the_first_folds_residuals_in_day_order():
    biased = intervals.calibrate([(np.full(40, 60.0), np.full(40, 50.0)), (np.full(10, 40.0), np.full(10, 50.0))], 40)
    alternating = intervals.calibrate([(50.0 + np.tile([5.0, -5.0], 20), np.full(40, 50.0))], 40)

    assert biased["dependence"] == pytest.approx(39 / 40)  # a persistent error: the later fold's sign plays no part
    assert alternating["dependence"] == 0.0


def test_a_set_calibrates_its_intervals_on_its_validation_folds_only(monkeypatch, small_params, history):
    seen = []
    calibrate = intervals.calibrate

    def spy(folds, validation_days, levels):
        folds = list(folds)
        seen.append((folds, validation_days))
        return calibrate(folds, validation_days, levels)

    monkeypatch.setattr(model_set.fold_intervals, "calibrate", spy)
    trained = model_set.train_model_set(history, params=small_params, min_samples=100, product_id=1)

    (folds, held_out), = seen
    tail = history.to_numpy()[-held_out:]
    origins = validation.fold_origins(held_out)
    assert len(folds) == len(origins)
    # Each fold's actual days are the validation tail from its origin: days of the training history.
    for (actual, forecast), origin in zip(folds, origins):
        np.testing.assert_array_equal(actual[: len(forecast)], tail[origin : origin + len(forecast)])
    assert trained.intervals["method"] == intervals.METHOD
    assert trained.intervals["residuals"] == sum(min(len(a), len(f)) for a, f in folds)
