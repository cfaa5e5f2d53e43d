import json
import logging
import pickle

import numpy as np
import pandas as pd
import pytest

from forecasting.models.prophet_model import ProphetModel


@pytest.fixture(scope="module")
def prophet(small_params, history):
    return ProphetModel(small_params).fit(history)


def test_forecast_starts_the_day_after_the_history(prophet, history):
    frame = prophet.prophet_.predict(pd.DataFrame({"ds": [history.index[-1] + pd.Timedelta(days=1)]}))

    # Prophet models log1p(demand); the forecast is its mean-corrected expm1.
    expected = max(np.expm1(frame["yhat"].iloc[0] + prophet.transform_.profile_.mean_shift), 0.0)
    assert prophet.predict(history, 3)[0] == pytest.approx(expected)


def test_prophet_fits_log_demand_with_a_small_mean_correction(prophet, history):
    assert prophet.prophet_.history["y"].max() == pytest.approx(np.log1p(history.max()))
    # Poisson noise around ~45 a day: expm1 of the mean log is about 1 % below the mean.
    assert 0 < prophet.transform_.profile_.mean_shift < 0.05


def test_month_regressors_only_with_two_years_of_history(prophet, small_params, history_factory):
    assert not prophet.prophet_.extra_regressors
    two_years = history_factory(730)

    model = ProphetModel(small_params).fit(two_years)

    assert sorted(model.prophet_.extra_regressors) == [f"month_{m:02d}" for m in range(2, 13)]
    assert model.predict(two_years, 400).shape == (400,)


def test_yearly_seasonality_only_with_a_year_of_history(prophet, small_params, short_history):
    assert "yearly" in prophet.prophet_.seasonalities
    assert "weekly" in prophet.prophet_.seasonalities
    assert "yearly" not in ProphetModel(small_params).fit(short_history).prophet_.seasonalities


def test_weekly_pattern_is_learned(prophet, history):
    forecast = prophet.predict(history, 14)

    # The synthetic weekly swing is +-8 units around ~45.
    assert forecast.max() - forecast.min() > 8


def test_holidays_are_passed_to_prophet(small_params, history):
    promotions = pd.to_datetime(["2021-05-01", "2021-09-01", "2022-01-01"])
    spikes = history.copy()
    spikes.loc[promotions] += 200
    future_promotion = history.index[-1] + pd.Timedelta(days=3)
    holidays = pd.DataFrame({"holiday": "promo", "ds": promotions.append(pd.DatetimeIndex([future_promotion]))})

    model = ProphetModel(small_params, holidays=holidays).fit(spikes)
    forecast = model.predict(spikes, 5)

    assert "promo" in list(model.prophet_.train_holiday_names)
    assert forecast[2] > max(forecast[1], forecast[3]) + 50


def test_a_collapsing_product_is_forecast_falling_and_never_negative(small_params, history_factory):
    falling = history_factory(120)
    falling[:] = np.linspace(100, 0, 120)

    forecast = ProphetModel(small_params).fit(falling).predict(falling, 60)

    assert forecast.min() >= 0.0
    assert forecast[-1] < forecast[0] < falling.iloc[-30:].mean()


def test_uncertainty_samples_come_from_params(params_factory, short_history):
    model = ProphetModel(params_factory(prophet_uncertainty_samples=50)).fit(short_history)

    assert model.prophet_.uncertainty_samples == 50


def test_fit_is_quiet_and_leaves_logger_levels_alone(small_params, short_history, caplog):
    caplog.set_level(logging.DEBUG, logger="cmdstanpy")
    cmdstanpy_logger = logging.getLogger("cmdstanpy")
    before = (cmdstanpy_logger.level, logging.getLogger("prophet").level)

    ProphetModel(small_params).fit(short_history)

    assert not [r for r in caplog.records if r.name.startswith("cmdstanpy") and r.levelno < logging.WARNING]
    assert (cmdstanpy_logger.level, logging.getLogger("prophet").level) == before


def test_the_file_is_json_and_a_pickle_in_its_place_is_never_unpickled(prophet, tmp_path):
    from tests.forecasting.store.test_untrusted_sets import Planted

    prophet.save(tmp_path)
    payload = json.loads((tmp_path / "prophet_model.pkl").read_text(encoding="utf-8"))
    assert payload["format_version"] == 3 and "prophet_json" in payload
    marker = tmp_path / "marker"
    (tmp_path / "prophet_model.pkl").write_bytes(pickle.dumps(Planted(marker)))  # e.g. a set of format 2

    with pytest.raises(ValueError, match="unknown format"):
        ProphetModel.load(tmp_path)
    assert not marker.exists()


def test_predict_before_fit_is_a_clear_error(small_params, history):
    with pytest.raises(RuntimeError, match="not fitted"):
        ProphetModel(small_params).predict(history, 5)
