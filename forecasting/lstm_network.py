"""The LSTM's network: its layers, its compiled-once shared copy, and its forecast loop.

Keras traces a training function (and this module a forecast loop) per network object:
about 1.5 s of every fit, more than the epochs themselves. A worker trains and forecasts
many products of the same shape, so one traced network per shape and process is kept and
each product's weights are copied in and out of it (well under a millisecond).

TensorFlow and Keras are imported inside the functions: a Celery prefork parent imports
this module and must never start TensorFlow.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class SharedNetwork:
    """One compiled network per architecture and process, shared by every LSTMModel of that shape.

    Keras traces a training function (and this module a forecast loop) per network
    object: about 1.5 s of every fit, more than the epochs themselves. A worker trains
    and forecasts many products of the same shape, so the traced network is kept and
    each product's weights are copied in and out of it (well under a millisecond).
    """

    network: Any
    optimizer_start: list[np.ndarray]
    forecast_fn: Any = None


_SHARED: dict[tuple[Any, ...], SharedNetwork] = {}
# Training and forecasting swap weights in and out of a shared network: one at a time.
SHARED_LOCK = threading.RLock()


def shared_network(window: int, channels: int, units: tuple[int, ...]) -> SharedNetwork:
    """Return the process's compiled network of this shape, building it on first use."""
    import keras

    key = (window, channels, units)
    with SHARED_LOCK:
        if key not in _SHARED:
            network = build_network(keras, *key)
            # A loss object, not the string "mse": Keras 3 cannot deserialise the string from h5.
            network.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                            loss=keras.losses.MeanSquaredError())
            network.optimizer.build(network.trainable_variables)
            start = [np.array(v.numpy()) for v in network.optimizer.variables]
            _SHARED[key] = SharedNetwork(network=network, optimizer_start=start)
        return _SHARED[key]


def recursive_forecast(model: Any, first: Any, future: Any) -> Any:
    """Feed `model` its own predictions for ``len(future)`` steps (traced by tf.function).

    `first` is the last input window (1, window, channels); `future` holds the
    calendar channels of the forecast days (steps, channels - 1).
    """
    import tensorflow as tf

    steps = tf.shape(future)[0]

    def body(i: Any, window: Any, out: Any) -> tuple[Any, Any, Any]:
        value = tf.cast(model(window, training=False), tf.float32)  # (1, 1)
        day = tf.concat([value, future[i : i + 1]], axis=1)[:, None, :]
        return i + 1, tf.concat([window[:, 1:, :], day], axis=1), out.write(i, value[0, 0])

    out = tf.TensorArray(tf.float32, size=steps)
    _, _, out = tf.while_loop(lambda i, window, out: i < steps, body, [tf.constant(0), first, out])
    return out.stack()


def build_network(keras: Any, window: int, channels: int, units: tuple[int, ...]) -> Any:
    """Return a new, uncompiled network: LSTM, LSTM, Dense, Dense, Dense(1)."""
    if len(units) != 4:
        raise ValueError(f"lstm_units must give 4 layer sizes, got {units}.")
    inputs = keras.Input(shape=(window, channels))
    x = keras.layers.LSTM(units[0], return_sequences=True)(inputs)
    x = keras.layers.LSTM(units[1])(x)
    x = keras.layers.Dense(units[2], activation="relu")(x)
    x = keras.layers.Dense(units[3], activation="relu")(x)
    outputs = keras.layers.Dense(1)(x)
    return keras.Model(inputs, outputs, name="demand_lstm")
