"""LSTM member: two LSTM and two dense layers on standardised windows of demand.

TensorFlow and Keras are imported inside the methods: a Celery prefork parent imports
this module and must never start TensorFlow.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

from forecasting.params import ModelParams

MODEL_FILE = "lstm_model.h5"
SCALER_FILE = "scaler.pkl"
#: Share of the most recent training windows held out for early stopping.
VALIDATION_SHARE = 0.1
#: Fewer windows than this train without a held-out split (early stopping watches the training loss).
MIN_WINDOWS_FOR_SPLIT = 20


class _DropMessage(logging.Filter):
    """Drop log records whose message contains `text`."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


def _calendar_channels(dates: pd.DatetimeIndex) -> np.ndarray:
    """Return the day-of-week sin/cos of `dates`, shape (n, 2)."""
    angle = 2 * np.pi * pd.DatetimeIndex(dates).day_of_week.to_numpy(dtype=float) / 7
    return np.column_stack([np.sin(angle), np.cos(angle)])


def _recursive_forecast(model: Any, first: Any, future: Any) -> Any:
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


class LSTMModel:
    """Keras LSTM forecasting the next day from the last ``lstm_window`` days, recursively.

    Parameters
    ----------
    params : ModelParams
        Uses the ``lstm_*`` settings and ``seed``.
    day_of_week : bool, default True
        Add the day-of-week sin/cos of every input day as two more channels.
    """

    FILES: tuple[str, ...] = (MODEL_FILE, SCALER_FILE)

    def __init__(self, params: ModelParams | None, day_of_week: bool = True) -> None:
        self.params = params
        self.day_of_week = day_of_week

    # -- training -----------------------------------------------------------------
    def fit(self, history: pd.Series) -> LSTMModel:
        """Fit the scaler and train a new network on the windows of `history`.

        Parameters
        ----------
        history : pandas.Series
            Daily demand on a contiguous daily DatetimeIndex, longer than ``lstm_window`` days.

        Returns
        -------
        LSTMModel
            self
        """
        import keras

        params = self._params()
        window = params.lstm_window
        if len(history) <= window:
            raise ValueError(f"LSTM needs more than {window} days of history (lstm_window), got {len(history)}.")
        scaler = StandardScaler().fit(history.to_numpy(dtype=float).reshape(-1, 1))
        self.scaler_, self.window_, self.day_of_week_ = scaler, window, self.day_of_week
        keras.utils.set_random_seed(params.seed)
        self.model_ = self._build(keras, channels=3 if self.day_of_week else 1)
        self._forecast_fn = None
        self.epochs_trained_ = self._train(history, params.lstm_epochs, early_stopping=True)
        return self

    def continue_fit(self, history: pd.Series, epochs: int) -> LSTMModel:
        """Train the fitted network `epochs` more epochs on the windows of `history`.

        The scaler is kept (the network learned its scale); this is how a validated
        network also learns the held-out tail, at a fraction of a full fit.

        Parameters
        ----------
        history : pandas.Series
            Daily demand, typically the validation history plus its held-out tail.
        epochs : int
            Extra epochs, run without early stopping.

        Returns
        -------
        LSTMModel
            self
        """
        import keras

        self._fitted()
        if epochs < 1:
            return self
        keras.utils.set_random_seed(self._params().seed)
        if getattr(self.model_, "optimizer", None) is None:
            self._compile(keras, self.model_)
        self._forecast_fn = None
        self.epochs_trained_ = getattr(self, "epochs_trained_", 0) + self._train(history, epochs, early_stopping=False)
        return self

    def _build(self, keras: Any, channels: int) -> Any:
        units = self._params().lstm_units
        if len(units) != 4:
            raise ValueError(f"lstm_units must give 4 layer sizes, got {units}.")
        inputs = keras.Input(shape=(self.window_, channels))
        x = keras.layers.LSTM(units[0], return_sequences=True)(inputs)
        x = keras.layers.LSTM(units[1])(x)
        x = keras.layers.Dense(units[2], activation="relu")(x)
        x = keras.layers.Dense(units[3], activation="relu")(x)
        outputs = keras.layers.Dense(1)(x)
        model = keras.Model(inputs, outputs, name="demand_lstm")
        self._compile(keras, model)
        return model

    @staticmethod
    def _compile(keras: Any, model: Any) -> None:
        # A loss object, not the string "mse": Keras 3 cannot deserialise the string from h5.
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss=keras.losses.MeanSquaredError())

    def _train(self, history: pd.Series, epochs: int, early_stopping: bool) -> int:
        """Run `epochs` epochs on the most recent windows and return how many ran."""
        import keras

        params = self._params()
        X, y = self._windows(history)
        X, y = X[-params.lstm_max_train_windows :], y[-params.lstm_max_train_windows :]
        callbacks, validation = [], None
        if early_stopping:
            held_out = int(round(len(X) * VALIDATION_SHARE)) if len(X) >= MIN_WINDOWS_FOR_SPLIT else 0
            if held_out:
                # The split is the END of the series: early stopping judges the future, not a shuffle.
                validation = (X[-held_out:], y[-held_out:])
                X, y = X[:-held_out], y[:-held_out]
            monitor = "val_loss" if validation is not None else "loss"
            callbacks.append(
                keras.callbacks.EarlyStopping(monitor=monitor, patience=params.lstm_patience, restore_best_weights=True)
            )
        record = self.model_.fit(
            X,
            y,
            epochs=epochs,
            batch_size=params.lstm_batch_size,
            validation_data=validation,
            callbacks=callbacks,
            shuffle=True,
            verbose=0,
        )
        return len(record.history["loss"])

    # -- forecasting ----------------------------------------------------------------
    def _channels(self, history: pd.Series) -> np.ndarray:
        """Return the per-day input channels of `history`, shape (n, 1 or 3), float32."""
        scaled = self.scaler_.transform(history.to_numpy(dtype=float).reshape(-1, 1))
        if self.day_of_week_:
            scaled = np.hstack([scaled, _calendar_channels(pd.DatetimeIndex(history.index))])
        return scaled.astype(np.float32)

    def _windows(self, history: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        channels = self._channels(history)
        if len(channels) <= self.window_:
            raise ValueError(f"Need more than {self.window_} days of history, got {len(channels)}.")
        # sliding_window_view gives (n - window + 1, channels, window); the last window has no target.
        X = np.lib.stride_tricks.sliding_window_view(channels, self.window_, axis=0)[:-1].transpose(0, 2, 1)
        return np.ascontiguousarray(X), channels[self.window_ :, 0].copy()

    def predict(self, history: pd.Series, horizon: int) -> np.ndarray:
        """Forecast the `horizon` days after `history`, feeding each prediction back in.

        Parameters
        ----------
        history : pandas.Series
            Daily demand on a contiguous daily DatetimeIndex, at least ``lstm_window`` days.
        horizon : int
            Days to forecast.

        Returns
        -------
        numpy.ndarray
            Shape ``(horizon,)``, clipped at 0.
        """
        import tensorflow as tf

        self._fitted()
        if horizon < 1:
            raise ValueError(f"horizon must be at least 1, got {horizon}.")
        if len(history) < self.window_:
            raise ValueError(f"Need at least {self.window_} days of history, got {len(history)}.")
        first = self._channels(history.iloc[-self.window_ :])[None, :, :]
        dates = pd.date_range(history.index[-1] + pd.Timedelta(days=1), periods=horizon, freq="D")
        future = _calendar_channels(dates) if self.day_of_week_ else np.zeros((horizon, 0))
        scaled = self._forecast_loop()(tf.constant(first), tf.constant(future.astype(np.float32))).numpy()
        values = self.scaler_.inverse_transform(scaled.reshape(-1, 1)).ravel()
        return np.clip(values.astype(float), 0.0, None)

    def _forecast_loop(self) -> Any:
        """Return (and cache) a tf.function running the whole recursive forecast in one graph.

        One graph call replaces `horizon` Python-level model calls: 90 steps cost
        tens of milliseconds instead of seconds with ``model.predict`` in a loop.
        """
        import tensorflow as tf

        if getattr(self, "_forecast_fn", None) is None:
            width = 3 if self.day_of_week_ else 1
            signature = [
                tf.TensorSpec([1, self.window_, width], tf.float32),
                tf.TensorSpec([None, width - 1], tf.float32),
            ]
            # A partial, not a closure: TensorFlow counts retracing per code object, and
            # one function per model would warn of "excessive retracing" after five models.
            self._forecast_fn = tf.function(functools.partial(_recursive_forecast, self.model_), input_signature=signature)
        return self._forecast_fn

    # -- persistence ----------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write ``lstm_model.h5`` (no optimizer state) and ``scaler.pkl`` into `directory`."""
        self._fitted()
        directory = Path(directory)
        # h5 is the file format the service documents; Keras logs "legacy" on every h5 save.
        absl_logger, legacy_note = logging.getLogger("absl"), _DropMessage("HDF5 file")
        absl_logger.addFilter(legacy_note)
        try:
            self.model_.save(directory / MODEL_FILE, include_optimizer=False)
        finally:
            absl_logger.removeFilter(legacy_note)
        joblib.dump(self.scaler_, directory / SCALER_FILE)

    @classmethod
    def load(cls, directory: Path, params: ModelParams | None = None) -> LSTMModel:
        """Read the network and scaler that :meth:`save` wrote into `directory`.

        Parameters
        ----------
        directory : pathlib.Path
            Folder holding ``lstm_model.h5`` and ``scaler.pkl``; checksums checked by the caller.
        params : ModelParams, optional
            Parameters to keep (needed only to :meth:`continue_fit` a loaded model).

        Returns
        -------
        LSTMModel
        """
        import keras

        directory = Path(directory)
        network = keras.models.load_model(directory / MODEL_FILE, compile=False)
        _, window, width = network.input_shape
        model = cls(params, day_of_week=width == 3)
        model.model_, model.scaler_ = network, joblib.load(directory / SCALER_FILE)
        model.window_, model.day_of_week_, model._forecast_fn = int(window), width == 3, None
        return model

    def __getstate__(self) -> dict[str, Any]:
        # The traced tf.function cannot be pickled or deep-copied; it is rebuilt on demand.
        state = dict(self.__dict__)
        state["_forecast_fn"] = None
        return state

    def _params(self) -> ModelParams:
        if self.params is None:
            raise ValueError("LSTMModel needs ModelParams to be trained.")
        return self.params

    def _fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise RuntimeError("LSTMModel is not fitted: call fit() or load() first.")
