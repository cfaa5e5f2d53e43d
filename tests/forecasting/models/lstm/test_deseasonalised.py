import numpy as np
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
