import h5py
import numpy as np
import pandas as pd
import pytest

from forecasting.models.lstm.model import LSTMModel


@pytest.fixture(scope="module")
def lstm(small_params, history):
    return LSTMModel(small_params).fit(history)


def test_network_is_two_lstm_and_three_dense_layers_with_the_configured_units(lstm, small_params):
    network = lstm.network_
    shapes = [w.shape for w in network.weights]
    u1, u2, u3, u4 = small_params.lstm_units

    assert network.units == small_params.lstm_units
    assert shapes == [(3, 4 * u1), (u1, 4 * u1), (4 * u1,), (u1, 4 * u2), (u2, 4 * u2), (4 * u2,),
                      (u2, u3), (u3,), (u3, u4), (u4,), (u4, 1), (1,)]
    assert (network.window, network.channels) == (small_params.lstm_window, 3)


def test_without_day_of_week_the_input_has_one_channel(small_params, short_history):
    model = LSTMModel(small_params, day_of_week=False).fit(short_history)

    assert model.network_.channels == 1
    assert model.predict(short_history, 5).shape == (5,)


def test_fit_stops_within_the_epoch_budget(lstm, small_params):
    assert 1 <= lstm.epochs_trained_ <= small_params.lstm_epochs


def test_predict_gives_one_non_negative_value_per_day(lstm, history):
    forecast = lstm.predict(history, 40)

    assert forecast.shape == (40,)
    assert np.isfinite(forecast).all() and (forecast >= 0).all()
    assert forecast.std() > 0


def test_windows_end_the_day_before_their_target(lstm, history):
    X, y = lstm._windows(history)
    scaled = lstm.scaler_.transform(history.to_numpy().reshape(-1, 1)).ravel()
    window = lstm.window_

    assert X.shape == (len(history) - window, window, 3)
    np.testing.assert_allclose(X[0, :, 0], scaled[:window], rtol=1e-6)
    np.testing.assert_allclose(y[0], scaled[window], rtol=1e-6)
    np.testing.assert_allclose(X[-1, -1, 0], scaled[-2], rtol=1e-6)
    np.testing.assert_allclose(y[-1], scaled[-1], rtol=1e-6)


def test_forecast_equals_feeding_predictions_back_by_hand(lstm, history):
    days = pd.date_range(history.index[-1] + pd.Timedelta(days=1), periods=5, freq="D")
    channels = lstm._channels(history.iloc[-lstm.window_ :])
    expected = []
    for day in days:
        scaled = float(lstm.network_.predict(channels[None, :, :])[0])
        angle = 2 * np.pi * day.day_of_week / 7
        channels = np.vstack([channels[1:], [[scaled, np.sin(angle), np.cos(angle)]]]).astype(np.float32)
        expected.append(lstm.scaler_.inverse_transform([[scaled]])[0, 0])

    np.testing.assert_allclose(lstm.predict(history, 5), np.clip(expected, 0, None), rtol=1e-4)


def test_continue_fit_trains_more_epochs_and_changes_the_forecast(small_params, short_history):
    model = LSTMModel(small_params).fit(short_history)
    before, epochs = model.predict(short_history, 10), model.epochs_trained_

    model.continue_fit(short_history, 2)

    assert model.epochs_trained_ == epochs + 2
    assert not np.array_equal(model.predict(short_history, 10), before)


def test_save_writes_h5_without_optimizer_and_the_scaler(lstm, tmp_path):
    lstm.save(tmp_path)

    assert (tmp_path / "scaler.pkl").is_file()
    with h5py.File(tmp_path / "lstm_model.h5", "r") as handle:
        assert "model_weights" in handle
        assert "optimizer_weights" not in handle


def test_a_loaded_model_can_continue_training(lstm, history, small_params, tmp_path):
    lstm.save(tmp_path)
    loaded = LSTMModel.load(tmp_path, small_params)

    loaded.continue_fit(history, 1)

    assert loaded.predict(history, 3).shape == (3,)


def test_history_no_longer_than_the_window_is_refused(small_params, history):
    with pytest.raises(ValueError, match="more than 14 days"):
        LSTMModel(small_params).fit(history.iloc[:14])


def test_extra_values_are_kept_beside_the_scaler(lstm, small_params, tmp_path):
    lstm.save(tmp_path, extra={"profile": [1.0, 2.0]})

    assert LSTMModel.load(tmp_path, small_params).extra_ == {"profile": [1.0, 2.0]}


def test_the_scaler_file_is_json_and_a_pickle_in_its_place_is_never_unpickled(lstm, small_params, tmp_path):
    import json
    import pickle

    from tests.forecasting.store.test_untrusted_sets import Planted

    lstm.save(tmp_path)
    payload = json.loads((tmp_path / "scaler.pkl").read_text(encoding="utf-8"))
    assert payload["format_version"] == 4 and payload["scaler"]["mean"] == lstm.scaler_.mean_.tolist()
    loaded = LSTMModel.load(tmp_path, small_params).scaler_
    np.testing.assert_array_equal(loaded.scale_, lstm.scaler_.scale_)
    marker = tmp_path / "marker"
    (tmp_path / "scaler.pkl").write_bytes(pickle.dumps(Planted(marker)))  # e.g. a set of format 3

    with pytest.raises(ValueError, match="unknown format"):
        LSTMModel.load(tmp_path)
    assert not marker.exists()


def test_training_another_model_leaves_a_fitted_model_unchanged(small_params, lstm, history, short_history):
    # Each model keeps its own weights and optimizer state.
    before = lstm.predict(history, 10)

    LSTMModel(small_params).fit(short_history).predict(short_history, 5)

    np.testing.assert_array_equal(lstm.predict(history, 10), before)
