"""The seed pipeline as the seed README describes it: the baseline the bench measures against.

Kept apart from forecasting/ on purpose: this is what "1-2 minutes per product,
under 5 s per forecast, ~25 MB per product" looked like. LSTM 128-64-32-16 on
30-day windows, 50 epochs at batch 32, compiled with loss "mse", forecast with
``model.predict`` in a loop; RandomForest of 200 unbounded trees on the 24
engineered features, dumped raw; Prophet with its defaults. Each model is fitted
on the history minus a 90-day tail, scored on that tail, weighted by inverse MAE
and saved (the seed fitted once; no refit on the whole history).
"""

from __future__ import annotations

import json
import pickle
import time
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from forecasting.models import features

WINDOW, EPOCHS, BATCH, UNITS, TREES, VALIDATION_DAYS = 30, 50, 32, (128, 64, 32, 16), 200, 90


def _prophet_fit(history: pd.Series) -> Any:
    from prophet import Prophet

    model = Prophet()
    model.fit(pd.DataFrame({"ds": history.index, "y": history.to_numpy(dtype=float)}))
    return model


def _prophet_predict(model: Any, last: pd.Timestamp, horizon: int) -> np.ndarray:
    future = pd.DataFrame({"ds": pd.date_range(last + pd.Timedelta(days=1), periods=horizon, freq="D")})
    return np.clip(model.predict(future)["yhat"].to_numpy(), 0, None)


def _lstm_fit(history: pd.Series) -> tuple[Any, Any]:
    import keras
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(history.to_numpy().reshape(-1, 1))
    scaled = scaler.transform(history.to_numpy().reshape(-1, 1)).ravel()
    X = np.array([scaled[i : i + WINDOW] for i in range(len(scaled) - WINDOW)])[:, :, None]
    y = scaled[WINDOW:]
    keras.utils.set_random_seed(42)
    model = keras.Sequential([
        keras.Input(shape=(WINDOW, 1)),
        keras.layers.LSTM(UNITS[0], return_sequences=True),
        keras.layers.LSTM(UNITS[1]),
        keras.layers.Dense(UNITS[2], activation="relu"),
        keras.layers.Dense(UNITS[3], activation="relu"),
        keras.layers.Dense(1),
    ])
    model.compile(optimizer="adam", loss="mse")
    model.fit(X, y, epochs=EPOCHS, batch_size=BATCH, verbose=0)
    return model, scaler


def _lstm_predict(model: Any, scaler: Any, history: pd.Series, horizon: int) -> np.ndarray:
    window = list(scaler.transform(history.to_numpy()[-WINDOW:].reshape(-1, 1)).ravel())
    out = []
    for _ in range(horizon):
        value = float(model.predict(np.array(window[-WINDOW:])[None, :, None], verbose=0)[0, 0])
        out.append(value)
        window.append(value)
    return np.clip(scaler.inverse_transform(np.array(out).reshape(-1, 1)).ravel(), 0, None)


def _forest_fit(history: pd.Series) -> Any:
    from sklearn.ensemble import RandomForestRegressor

    X, y = features.training_frame(history)
    return RandomForestRegressor(n_estimators=TREES, random_state=42, n_jobs=1).fit(X, y)


def _forest_predict(model: Any, history: pd.Series, horizon: int) -> np.ndarray:
    values = list(history.to_numpy(dtype=float))
    dates = pd.date_range(history.index[-1] + pd.Timedelta(days=1), periods=horizon, freq="D")
    for date in dates:
        # The service's feature code (targets relative to the level), on raw demand: the
        # seed's cost profile (pandas row, unbounded trees, one predict call per day).
        row, level = features.next_features(np.array(values), date=date)
        frame = pd.DataFrame([row], columns=list(features.FEATURE_NAMES))
        values.append(max(level + float(model.predict(frame)[0]), 0.0))
    return np.array(values[-horizon:])


def train(history: pd.Series, directory: Path) -> dict[str, Any]:
    """Fit, validate, weight and save the seed's three models into `directory`; return timings."""
    directory = Path(directory)
    train_part, actual = history.iloc[:-VALIDATION_DAYS], history.iloc[-VALIDATION_DAYS:].to_numpy()
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    prophet = _prophet_fit(train_part)
    forecasts = {"prophet": _prophet_predict(prophet, train_part.index[-1], VALIDATION_DAYS)}
    seconds["prophet"] = time.perf_counter() - clock
    clock = time.perf_counter()
    lstm, scaler = _lstm_fit(train_part)
    forecasts["lstm"] = _lstm_predict(lstm, scaler, train_part, VALIDATION_DAYS)
    seconds["lstm"] = time.perf_counter() - clock
    clock = time.perf_counter()
    forest = _forest_fit(train_part)
    forecasts["random_forest"] = _forest_predict(forest, train_part, VALIDATION_DAYS)
    seconds["random_forest"] = time.perf_counter() - clock
    errors = {name: float(np.mean(np.abs(values - actual))) for name, values in forecasts.items()}
    inverse = {name: 1.0 / max(err, 1e-9) for name, err in errors.items()}
    weights = {name: value / sum(inverse.values()) for name, value in inverse.items()}
    clock = time.perf_counter()
    with open(directory / "prophet_model.pkl", "wb") as handle:
        pickle.dump(prophet, handle)
    lstm.save(directory / "lstm_model.h5")
    joblib.dump(forest, directory / "rf_model.pkl")
    joblib.dump(scaler, directory / "scaler.pkl")
    (directory / "model_info.json").write_text(json.dumps({"weights": weights, "mae": errors}))
    seconds["save"] = time.perf_counter() - clock
    return {"seconds": seconds, "weights": weights}


def load(directory: Path) -> dict[str, Any]:
    """Read what :func:`train` saved."""
    import keras

    directory = Path(directory)
    with open(directory / "prophet_model.pkl", "rb") as handle:
        prophet = pickle.load(handle)
    return {
        "prophet": prophet,
        # compile=False: Keras 3 cannot deserialise the "mse" loss string from h5.
        "lstm": keras.models.load_model(directory / "lstm_model.h5", compile=False),
        "random_forest": joblib.load(directory / "rf_model.pkl"),
        "scaler": joblib.load(directory / "scaler.pkl"),
        "weights": json.loads((directory / "model_info.json").read_text())["weights"],
    }


def forecast(models: dict[str, Any], history: pd.Series, horizon: int) -> np.ndarray:
    """Forecast `horizon` days with the seed's predict path: each model, then the weighted sum."""
    values = {
        "prophet": _prophet_predict(models["prophet"], history.index[-1], horizon),
        "lstm": _lstm_predict(models["lstm"], models["scaler"], history, horizon),
        "random_forest": _forest_predict(models["random_forest"], history, horizon),
    }
    return sum(models["weights"][name] * values[name] for name in values)
