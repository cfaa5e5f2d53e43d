"""Prophet member: trend, weekly and yearly seasonality, optional holidays."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.params import ModelParams

FILE_NAME = "prophet_model.pkl"
FORMAT_VERSION = 1
#: Yearly seasonality is fitted only from this much history; on less it just echoes noise.
MIN_DAYS_FOR_YEARLY = 365


@contextmanager
def _quiet_stan() -> Iterator[None]:
    """Keep cmdstanpy's and prophet's loggers at WARNING or quieter for the duration of a fit."""
    from cmdstanpy.utils import get_logger

    # get_logger() sets the level to DEBUG on its first call, so call it before overriding.
    loggers = [get_logger(), logging.getLogger("prophet")]
    levels = [logger.level for logger in loggers]
    for logger, level in zip(loggers, levels):
        logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


class ProphetModel:
    """Wrapper of a Prophet model with the service's settings.

    Parameters
    ----------
    params : ModelParams
        Uses ``prophet_uncertainty_samples`` (0 turns Prophet's own intervals off; the
        service's intervals come from validation residuals).
    holidays : pandas.DataFrame, optional
        Prophet holidays frame (columns ``holiday``, ``ds`` and optionally
        ``lower_window``, ``upper_window``).
    """

    FILES: tuple[str, ...] = (FILE_NAME,)

    def __init__(self, params: ModelParams | None, holidays: pd.DataFrame | None = None) -> None:
        self.params = params
        self.holidays = holidays

    def fit(self, history: pd.Series) -> ProphetModel:
        """Fit Prophet on `history`.

        Parameters
        ----------
        history : pandas.Series
            Daily demand on a contiguous daily DatetimeIndex.

        Returns
        -------
        ProphetModel
            self
        """
        from prophet import Prophet

        if len(history) < 2:
            raise ValueError(f"Prophet needs at least 2 days of history, got {len(history)}.")
        samples = self.params.prophet_uncertainty_samples if self.params is not None else 0
        model = Prophet(
            growth="linear",
            yearly_seasonality=len(history) >= MIN_DAYS_FOR_YEARLY,
            weekly_seasonality=True,
            daily_seasonality=False,
            holidays=self.holidays,
            uncertainty_samples=samples,
        )
        frame = pd.DataFrame({"ds": pd.DatetimeIndex(history.index), "y": history.to_numpy(dtype=float)})
        with _quiet_stan():
            model.fit(frame)
        self.prophet_ = model
        return self

    def predict(self, history: pd.Series, horizon: int) -> np.ndarray:
        """Forecast the `horizon` days after the last day of `history`.

        Parameters
        ----------
        history : pandas.Series
            Daily demand; only its last date is used (Prophet forecasts from dates).
        horizon : int
            Days to forecast.

        Returns
        -------
        numpy.ndarray
            Shape ``(horizon,)``, clipped at 0.
        """
        model = self._fitted()
        if horizon < 1:
            raise ValueError(f"horizon must be at least 1, got {horizon}.")
        start = pd.Timestamp(history.index[-1]) + pd.Timedelta(days=1)
        future = pd.DataFrame({"ds": pd.date_range(start, periods=horizon, freq="D")})
        yhat = model.predict(future)["yhat"].to_numpy(dtype=float)
        return np.clip(yhat, 0.0, None)

    def save(self, directory: Path) -> None:
        """Write ``prophet_model.pkl`` into `directory`.

        The pickle holds a format version and Prophet's own JSON serialisation, which
        stays readable across Prophet's internal attribute changes.
        """
        from prophet.serialize import model_to_json

        payload: dict[str, Any] = {"format_version": FORMAT_VERSION, "prophet_json": model_to_json(self._fitted())}
        with open(Path(directory) / FILE_NAME, "wb") as handle:
            pickle.dump(payload, handle, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def load(cls, directory: Path, params: ModelParams | None = None) -> ProphetModel:
        """Read the model that :meth:`save` wrote into `directory`.

        Parameters
        ----------
        directory : pathlib.Path
            Folder holding ``prophet_model.pkl``; its checksum must have been checked by the caller.
        params : ModelParams, optional
            Parameters to keep on the loaded model (prediction does not need them).

        Returns
        -------
        ProphetModel
        """
        from prophet.serialize import model_from_json

        with open(Path(directory) / FILE_NAME, "rb") as handle:
            payload = pickle.load(handle)
        if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{FILE_NAME} has an unknown format (expected version {FORMAT_VERSION}).")
        prophet = model_from_json(payload["prophet_json"])
        model = cls(params, holidays=prophet.holidays)
        model.prophet_ = prophet
        return model

    def _fitted(self) -> Any:
        if not hasattr(self, "prophet_"):
            raise RuntimeError("ProphetModel is not fitted: call fit() or load() first.")
        return self.prophet_
