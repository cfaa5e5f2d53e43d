"""LSTM network on standardised windows of a daily series, forecasting recursively.

The service trains it on what is left of log demand after the seasonal profile and the
level are removed (:mod:`forecasting.models.lstm.deseasonalised`); this module knows only a series.

Runtime
    The network runs in NumPy (:mod:`forecasting.models.lstm.network`), trained with Adam and
    early stopping (:mod:`forecasting.models.lstm.training`) and saved in Keras's HDF5 format
    (:mod:`forecasting.models.lstm.keras_file`): the same layers and file as a Keras model, without
    TensorFlow's 3 s and 600 MB import in every worker process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

from forecasting.models.features import forecast_dates
from forecasting.models.lstm import keras_file
from forecasting.models.lstm.network import LSTMNetwork
from forecasting.models.lstm.training import Adam, train
from forecasting.models.member import Member, read_json_payload
from forecasting.params import ModelParams

MODEL_FILE = "lstm_model.h5"
SCALER_FILE = "scaler.pkl"
#: Share of the most recent training windows held out for early stopping.
VALIDATION_SHARE = 0.1
#: Fewer windows than this train without a held-out split (early stopping watches the training loss).
MIN_WINDOWS_FOR_SPLIT = 20
#: 3: the scaler and what the caller asked to keep beside it (``extra``); 1 and 2 held a
#: yearly-baseline flag, superseded by the seasonal profile (sets of those are retrained).
#: 4: the same as JSON (the scaler as its arrays), no longer a joblib pickle; the name is kept.
SCALER_FORMAT_VERSION = 4


def _calendar_channels(dates: pd.DatetimeIndex) -> np.ndarray:
    """Return the day-of-week sin/cos of `dates`, shape (n, 2)."""
    angle = 2 * np.pi * pd.DatetimeIndex(dates).day_of_week.to_numpy(dtype=float) / 7
    return np.column_stack([np.sin(angle), np.cos(angle)])


class LSTMModel(Member):
    """LSTM forecasting the next day from the last ``lstm_window`` days, recursively.

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
    def fit(self, history: pd.Series, known: np.ndarray | None = None) -> LSTMModel:
        """Fit the scaler and train a new network on the windows of `history`.

        Parameters
        ----------
        history : pandas.Series
            Daily demand on a contiguous daily DatetimeIndex, longer than ``lstm_window`` days.
        known : numpy.ndarray, optional
            Known-in-advance input channels beside each day, shape ``(len(history), k)``,
            already on a unit scale; a window's last day carries those of its target day
            when the caller shifts them so (:mod:`forecasting.models.lstm.deseasonalised`).

        Returns
        -------
        LSTMModel
            self
        """
        params = self._params()
        window = params.lstm_window
        if len(history) <= window:
            raise ValueError(f"LSTM needs more than {window} days of history (lstm_window), got {len(history)}.")
        scaler = StandardScaler().fit(history.to_numpy(dtype=float).reshape(-1, 1))
        self.scaler_, self.window_, self.day_of_week_ = scaler, window, self.day_of_week
        self.known_channels_ = 0 if known is None else int(np.shape(known)[1])
        rng = np.random.default_rng(params.seed)
        width = (3 if self.day_of_week else 1) + self.known_channels_
        self.network_ = LSTMNetwork.create(window, width, params.lstm_units, rng)
        self.optimizer_, self.epochs_trained_ = Adam(), 0
        self.epochs_trained_ = self._train(history, params.lstm_epochs, early_stopping=True, known=known)
        return self

    def continue_fit(self, history: pd.Series, epochs: int, known: np.ndarray | None = None) -> LSTMModel:
        """Train the fitted network `epochs` more epochs on the windows of `history`.

        The scaler is kept (the network learned its scale); this is how a validated
        network also learns the held-out tail, at a fraction of a full fit.

        Parameters
        ----------
        history : pandas.Series
            Daily demand, typically the validation history plus its held-out tail.
        epochs : int
            Extra epochs, run without early stopping.
        known : numpy.ndarray, optional
            The known input channels of `history`, as in :meth:`fit`.

        Returns
        -------
        LSTMModel
            self
        """
        self._learned("network_")
        if epochs < 1:
            return self
        ran = self._train(history, epochs, early_stopping=False, known=known)
        self.epochs_trained_ = getattr(self, "epochs_trained_", 0) + ran
        return self

    def _train(self, history: pd.Series, epochs: int, early_stopping: bool, known: np.ndarray | None = None) -> int:
        """Run `epochs` epochs on the most recent windows of `history` and return how many ran.

        With early stopping the most recent ``VALIDATION_SHARE`` of the windows is held
        out (the END of the series: early stopping judges the future, not a shuffle).
        """
        params = self._params()
        X, y = self._windows(history, known)
        X, y = X[-params.lstm_max_train_windows :], y[-params.lstm_max_train_windows :]
        validation, patience = None, None
        if early_stopping:
            patience = params.lstm_patience
            held_out = round(len(X) * VALIDATION_SHARE) if len(X) >= MIN_WINDOWS_FOR_SPLIT else 0
            if held_out:
                validation = (X[-held_out:], y[-held_out:])
                X, y = X[:-held_out], y[:-held_out]
        if not hasattr(self, "optimizer_"):
            self.optimizer_ = Adam()  # a loaded model: its optimizer state was not saved
        # The shuffles depend on the seed and the epochs so far only: the same whatever ran before.
        rng = np.random.default_rng([params.seed, getattr(self, "epochs_trained_", 0)])
        return train(self.network_, self.optimizer_, X, y, epochs=epochs, batch_size=params.lstm_batch_size,
                     rng=rng, validation=validation, patience=patience)

    # -- forecasting ----------------------------------------------------------------
    def _channels(self, history: pd.Series, known: np.ndarray | None = None) -> np.ndarray:
        """Return the per-day input channels of `history`, shape (n, 1 or 3, plus the known ones), float32."""
        scaled = self.scaler_.transform(history.to_numpy(dtype=float).reshape(-1, 1))
        if self.day_of_week_:
            scaled = np.hstack([scaled, _calendar_channels(pd.DatetimeIndex(history.index))])
        return np.hstack([scaled, self._known(known, len(history))]).astype(np.float32)

    def _known(self, known: np.ndarray | None, rows: int) -> np.ndarray:
        """Return the known channels of `rows` days (zeros when the caller gave none)."""
        width = getattr(self, "known_channels_", 0)
        if known is None:
            return np.zeros((rows, width))
        known = np.asarray(known, dtype=float).reshape(rows, -1)
        if known.shape[1] != width:
            raise ValueError(f"The network was trained with {width} known input channel(s), got {known.shape[1]}.")
        return known

    def _windows(self, history: pd.Series, known: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        channels = self._channels(history, known)
        if len(channels) <= self.window_:
            raise ValueError(f"Need more than {self.window_} days of history, got {len(channels)}.")
        # sliding_window_view gives (n - window + 1, channels, window); the last window has no target.
        X = np.lib.stride_tricks.sliding_window_view(channels, self.window_, axis=0)[:-1].transpose(0, 2, 1)
        return np.ascontiguousarray(X), channels[self.window_ :, 0].copy()

    def predict(self, history: pd.Series, horizon: int, known: np.ndarray | None = None,
                known_future: np.ndarray | None = None) -> np.ndarray:
        """Forecast the `horizon` days after `history`, feeding each prediction back in.

        Parameters
        ----------
        history : pandas.Series
            Daily demand on a contiguous daily DatetimeIndex, at least ``lstm_window`` days.
        horizon : int
            Days to forecast.
        known, known_future : numpy.ndarray, optional
            The known input channels of `history` and of the `horizon` forecast days.

        Returns
        -------
        numpy.ndarray
            Shape ``(horizon,)``, clipped at 0.
        """
        self._learned("network_")
        dates = forecast_dates(history, horizon)
        if len(history) < self.window_:
            raise ValueError(f"Need at least {self.window_} days of history, got {len(history)}.")
        known = None if known is None else np.asarray(known, dtype=float).reshape(len(history), -1)
        first = self._channels(history.iloc[-self.window_ :], None if known is None else known[-self.window_ :])
        future = _calendar_channels(dates) if self.day_of_week_ else np.zeros((horizon, 0))
        future = np.hstack([future, self._known(known_future, horizon)])
        scaled = self.network_.forecast(first, future)
        values = self.scaler_.inverse_transform(scaled.reshape(-1, 1)).ravel()
        return np.clip(values.astype(float), 0.0, None)

    # -- persistence ----------------------------------------------------------------
    def save(self, directory: Path, extra: dict[str, Any] | None = None) -> None:
        """Write ``lstm_model.h5`` (Keras's HDF5 format, no optimizer state) and ``scaler.pkl`` into `directory`.

        Parameters
        ----------
        directory : pathlib.Path
            Existing folder.
        extra : dict, optional
            Plain values the caller keeps in ``scaler.pkl`` beside the scaler (how the
            series was derived from demand); :meth:`load` returns them as ``extra_``.
        """
        self._learned("network_")
        directory = Path(directory)
        keras_file.save(self.network_, directory / MODEL_FILE)
        # JSON rather than a pickle: reading it cannot run code. Floats round-trip exactly.
        payload = {"format_version": SCALER_FORMAT_VERSION, "scaler": _scaler_to_json(self.scaler_),
                   "known_channels": getattr(self, "known_channels_", 0), "extra": dict(extra or {})}
        (directory / SCALER_FILE).write_text(json.dumps(payload, default=_plain), encoding="utf-8")

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

        Raises
        ------
        UnknownFormatError
            When ``scaler.pkl`` is not of ``SCALER_FORMAT_VERSION``.
        """
        directory = Path(directory)
        network = keras_file.load(directory / MODEL_FILE)
        window, width = network.window, network.channels
        payload = read_json_payload(directory / SCALER_FILE, expected=SCALER_FORMAT_VERSION)
        # Files written before known inputs existed record none.
        known = int(payload.get("known_channels", 0))
        model = cls(params, day_of_week=width - known == 3)
        model.network_, model.scaler_ = network, _scaler_from_json(payload["scaler"])
        model.extra_ = dict(payload["extra"])
        model.window_, model.day_of_week_, model.known_channels_ = int(window), width - known == 3, known
        return model

    def _params(self) -> ModelParams:
        if self.params is None:
            raise ValueError("LSTMModel needs ModelParams to be trained.")
        return self.params


def _scaler_to_json(scaler: StandardScaler) -> dict[str, Any]:
    """Return the fitted StandardScaler as the plain lists and numbers it transforms with."""
    return {"mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist(), "var": scaler.var_.tolist(),
            "n_samples_seen": int(scaler.n_samples_seen_)}


def _scaler_from_json(values: dict[str, Any]) -> StandardScaler:
    """Rebuild the StandardScaler that :func:`_scaler_to_json` described."""
    scaler = StandardScaler()
    scaler.mean_ = np.asarray(values["mean"], dtype=float)
    scaler.scale_ = np.asarray(values["scale"], dtype=float)
    scaler.var_ = np.asarray(values["var"], dtype=float)
    scaler.n_samples_seen_ = int(values["n_samples_seen"])
    scaler.n_features_in_ = len(scaler.mean_)
    return scaler


def _plain(value: Any) -> Any:
    # Values the caller keeps in ``extra`` may be numpy scalars or arrays.
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
