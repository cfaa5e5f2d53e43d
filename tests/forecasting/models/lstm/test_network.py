"""The NumPy LSTM network: its gradients, its training and its Keras file."""

import numpy as np
import pytest

from forecasting.models.lstm import keras_file
from forecasting.models.lstm.network import LSTMNetwork
from forecasting.models.lstm.training import Adam, mse, train
from tests import services


def _network(seed=0, window=5, channels=3, units=(6, 5, 4, 3)):
    return LSTMNetwork.create(window, channels, units, np.random.default_rng(seed))


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(1)
    network = _network()
    network.weights = [w.astype(np.float64) for w in network.weights]
    x, y = rng.normal(size=(4, 5, 3)), rng.normal(size=4)
    predictions, cache = network.forward(x)
    grads = network.gradients(cache, 2 * (predictions - y) / len(y))

    for weight, grad in zip(network.weights, grads):
        numeric = np.zeros_like(weight)
        for index in np.ndindex(weight.shape):
            kept = weight[index]
            weight[index] = kept + 1e-6
            up = mse(network, x, y)
            weight[index] = kept - 1e-6
            down = mse(network, x, y)
            weight[index] = kept
            numeric[index] = (up - down) / 2e-6
        np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-7)


def test_create_initialises_as_keras_does():
    network = _network(units=(8, 4, 4, 2))
    recurrent = network.weights[1]

    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(8), atol=1e-5)  # orthogonal rows
    np.testing.assert_array_equal(network.weights[2][8:16], 1.0)  # unit forget bias
    np.testing.assert_array_equal(np.delete(network.weights[2], np.s_[8:16]), 0.0)
    assert all(w.dtype == np.float32 for w in network.weights)


def test_a_network_of_other_than_four_layer_sizes_is_refused():
    with pytest.raises(ValueError, match="4 layer sizes"):
        _network(units=(8, 4))


def test_training_lowers_the_loss_and_is_deterministic():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, 5, 3)).astype(np.float32)
    y = (x[:, -1, 0] * 0.8 + x[:, -2, 0] * 0.2).astype(np.float32)

    def run():
        network = _network()
        before = mse(network, x, y)
        ran = train(network, Adam(learning_rate=1e-2), x, y, epochs=30, batch_size=32, rng=np.random.default_rng(0))
        return network, before, ran

    network, before, ran = run()
    again, _, _ = run()

    assert ran == 30
    assert mse(network, x, y) < before / 5
    for first, second in zip(network.weights, again.weights):
        np.testing.assert_array_equal(first, second)


def test_early_stopping_stops_patience_epochs_after_the_best_and_keeps_its_weights():
    rng = np.random.default_rng(3)
    # Targets of pure noise: the held-out loss soon stops improving.
    x, y = rng.normal(size=(64, 5, 3)).astype(np.float32), rng.normal(size=64).astype(np.float32)
    held_out = rng.normal(size=(16, 5, 3)).astype(np.float32), rng.normal(size=16).astype(np.float32)
    network = _network()

    ran = train(network, Adam(learning_rate=3e-2), x, y, epochs=50, batch_size=16,
                rng=np.random.default_rng(0), validation=held_out, patience=2)

    # The same epochs one at a time (same shuffles, same optimizer), scored after each.
    replay, optimizer, shuffles, scores = _network(), Adam(learning_rate=3e-2), np.random.default_rng(0), []
    for _ in range(ran):
        train(replay, optimizer, x, y, epochs=1, batch_size=16, rng=shuffles)
        scores.append(mse(replay, *held_out))
    assert ran < 50
    assert int(np.argmin(scores)) == ran - 3
    assert mse(network, *held_out) == pytest.approx(min(scores), rel=1e-6)


def test_the_h5_file_reads_back_identically(tmp_path):
    network = _network(window=14, units=(16, 8, 8, 4))
    keras_file.save(network, tmp_path / "lstm_model.h5")

    loaded = keras_file.load(tmp_path / "lstm_model.h5")

    assert (loaded.window, loaded.channels, loaded.units) == (14, 3, (16, 8, 8, 4))
    for saved, read in zip(network.weights, loaded.weights):
        np.testing.assert_array_equal(saved, read)


def test_a_file_that_is_not_a_keras_model_is_refused(tmp_path):
    import h5py

    with h5py.File(tmp_path / "lstm_model.h5", "w") as handle:
        handle.create_dataset("x", data=[1, 2, 3])

    with pytest.raises(ValueError, match="not a Keras model file"):
        keras_file.load(tmp_path / "lstm_model.h5")


def test_keras_opens_the_file_and_predicts_the_same(tmp_path):
    keras = services.require_module("keras", "Keras is a development dependency only")
    network = _network(window=14, units=(16, 8, 8, 4))
    keras_file.save(network, tmp_path / "lstm_model.h5")
    x = np.random.default_rng(4).normal(size=(6, 14, 3)).astype(np.float32)

    model = keras.models.load_model(tmp_path / "lstm_model.h5", compile=False)

    assert [layer.__class__.__name__ for layer in model.layers[1:]] == ["LSTM", "LSTM", "Dense", "Dense", "Dense"]
    np.testing.assert_allclose(model.predict(x, verbose=0)[:, 0], network.predict(x), rtol=1e-4, atol=1e-5)


def test_a_file_keras_wrote_loads_and_predicts_the_same(tmp_path):
    keras = services.require_module("keras", "Keras is a development dependency only")
    inputs = keras.Input(shape=(14, 3))
    h = keras.layers.LSTM(16, return_sequences=True)(inputs)
    h = keras.layers.LSTM(8)(h)
    h = keras.layers.Dense(8, activation="relu")(h)
    h = keras.layers.Dense(4, activation="relu")(h)
    model = keras.Model(inputs, keras.layers.Dense(1)(h))
    model.save(tmp_path / "lstm_model.h5")
    x = np.random.default_rng(5).normal(size=(6, 14, 3)).astype(np.float32)

    network = keras_file.load(tmp_path / "lstm_model.h5")

    np.testing.assert_allclose(network.predict(x), model.predict(x, verbose=0)[:, 0], rtol=1e-4, atol=1e-5)
