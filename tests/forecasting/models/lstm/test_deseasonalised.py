import numpy as np
import pandas as pd
import pytest

from forecasting.errors import UnknownFormatError
from forecasting.models.features import LEVEL_DAYS
from forecasting.models.lstm.deseasonalised import DeseasonalisedLSTM, trailing_level


@pytest.fixture(scope="module")
def lstm(small_params, history):
    return DeseasonalisedLSTM(small_params).fit(history)


def test_the_network_learns_the_residual(lstm):
    assert lstm.lstm_.epochs_trained_ > 0


def test_trailing_level_is_the_mean_of_the_year_before():
    values = np.arange(400, dtype=float)

    level = trailing_level(values)

    assert level[0] == 0 and level[10] == pytest.approx(4.5)
    assert level[399] == pytest.approx(np.mean(values[399 - LEVEL_DAYS : 399]))


def test_forecast_is_non_negative_and_follows_the_weekly_pattern(lstm, history):
    forecast = lstm.predict(history, 28)

    assert forecast.shape == (28,) and np.isfinite(forecast).all() and (forecast >= 0).all()
    assert forecast.std() > 0


def test_forecast_reads_only_the_last_year_and_window(lstm, history):
    keep = LEVEL_DAYS + lstm.lstm_.window_
    changed = history.copy()
    changed.iloc[:-keep] = 999.0

    np.testing.assert_allclose(lstm.predict(changed, 10), lstm.predict(history, 10))


def test_continue_fit_refits_the_profile_and_trains_more(small_params, history):
    model = DeseasonalisedLSTM(small_params).fit(history.iloc[:-60])
    epochs, profile = model.lstm_.epochs_trained_, model.transform_.profile_

    model.continue_fit(history, 1)

    assert model.lstm_.epochs_trained_ == epochs + 1
    assert model.transform_.profile_ != profile


def test_load_refuses_a_scaler_file_without_the_profile(lstm, tmp_path):
    lstm.lstm_.save(tmp_path)  # the bare network: no profile beside its scaler

    with pytest.raises(UnknownFormatError, match="scaler.pkl holds no seasonal profile"):
        DeseasonalisedLSTM.load(tmp_path)


def test_known_inputs_go_beside_the_window_and_survive_a_save(params_factory, history, tmp_path):
    # Big enough a network to learn the promotion in a few epochs (the tiny one's relu units die).
    small_params = params_factory(lstm_epochs=10, seed=2, lstm_units=(32, 16, 16, 8))
    dates = pd.DatetimeIndex(history.index).append(pd.date_range(history.index[-1] + pd.Timedelta(days=1), periods=60))
    promo = ((dates.isocalendar().week.to_numpy() % 2) == 0).astype(float)
    calendar = pd.DataFrame({"promo": promo}, index=dates)
    sales = history * np.where(promo[: len(history)] > 0, 1.6, 1.0)

    model = DeseasonalisedLSTM(small_params).fit(sales, calendar=calendar)
    with_promo = model.predict(sales, 28, calendar=calendar)
    without = model.predict(sales, 28, calendar=calendar.assign(promo=np.where(dates > history.index[-1], 0.0, promo)))
    model.save(tmp_path)
    loaded = DeseasonalisedLSTM.load(tmp_path, small_params)

    # One channel per known input (holiday, closed before and after, promo) beside value and weekday.
    assert model.lstm_.network_.channels == 3 + 4
    # The future days' promotion reaches the forecast (how much it moves it is the bench's to measure).
    assert np.abs(with_promo - without).max() > 0.5
    np.testing.assert_allclose(loaded.predict(sales, 28, calendar=calendar), with_promo, rtol=1e-6)


def test_known_inputs_of_days_after_the_history_do_not_change_the_fit(small_params, history):
    dates = pd.DatetimeIndex(history.index).append(pd.date_range(history.index[-1] + pd.Timedelta(days=1), periods=30))
    calendar = pd.DataFrame({"promo": (np.arange(len(dates)) % 5 == 0).astype(float)}, index=dates)
    tampered = calendar.copy()
    tampered.loc[tampered.index > history.index[-1], "promo"] = 9.0

    fitted = [DeseasonalisedLSTM(small_params).fit(history, calendar=c) for c in (calendar, tampered)]

    assert fitted[0].known_ == fitted[1].known_
    for a, b in zip(fitted[0].lstm_.network_.weights, fitted[1].lstm_.network_.weights):
        np.testing.assert_array_equal(a, b)
