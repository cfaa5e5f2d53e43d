"""The service as a forecasting method of the accuracy bench: one function trains and forecasts a series."""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.clock import cpu_seconds

MEMBERS = ("prophet", "lstm", "random_forest")


@dataclass
class ServiceForecast:
    """The ensemble's forecast and intervals, each member's forecast, and what it cost (CPU and wall seconds)."""

    forecasts: dict[str, np.ndarray]
    intervals: dict[float, tuple[np.ndarray, np.ndarray]]
    train_seconds: float
    seconds: float
    wall_seconds: float
    weights: dict[str, float]
    calendar_used: bool


def accepts_calendar() -> bool:
    """Return whether the service's training takes a calendar yet."""
    from forecasting.models.model_set import forecast, train_model_set

    return all("calendar" in inspect.signature(f).parameters for f in (train_model_set, forecast))


def warm_up() -> None:
    """Import the libraries the members import lazily, so the first series is not charged for them."""
    from forecasting.models.model_set import import_model_libraries

    import_model_libraries()


def service_forecast(train: pd.Series, horizon: int, *, product_id: int,
                     calendar: pd.DataFrame | None = None) -> ServiceForecast:
    """Train the production model set on `train` and forecast `horizon` days, with the calendar when it takes one."""
    from config.settings import Settings
    from forecasting.models.model_set import forecast, train_model_set

    settings = Settings()
    params = settings.model_params
    # The calendar (past and future days) goes in once the service's API has the argument.
    extra = {"calendar": calendar} if calendar is not None and accepts_calendar() else {}
    clock, cpu = time.perf_counter(), cpu_seconds()
    model_set = train_model_set(train, params=params, min_samples=settings.min_training_samples,
                                product_id=product_id, **extra)
    trained = cpu_seconds() - cpu
    frame = forecast(model_set, train, horizon, **extra)
    seconds, wall = cpu_seconds() - cpu, time.perf_counter() - clock
    forecasts = {"service ensemble": frame["forecast"].to_numpy(dtype=float)}
    forecasts.update({f"service {name}": frame[name].to_numpy(dtype=float) for name in MEMBERS})
    intervals = {}
    for position, level in enumerate(params.interval_levels):
        suffix = "" if position == 0 else f"_{int(round(level * 100))}"
        intervals[level] = (frame[f"lower{suffix}"].to_numpy(dtype=float), frame[f"upper{suffix}"].to_numpy(dtype=float))
    return ServiceForecast(forecasts, intervals, trained, seconds, wall, dict(model_set.weights), bool(extra))
