"""Small synthetic demand histories and tiny model settings shared by the forecasting tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from config.settings import default_model_params
from forecasting.params import ModelParams
from forecasting.store.signature import Signer

#: The key the forecasting tests sign model sets with.
SIGNING_KEY = "model signing key of the forecasting tests"


def make_signer() -> Signer:
    """Return a Signer holding :data:`SIGNING_KEY`."""
    return Signer([SIGNING_KEY])


def make_history(days: int, *, seed: int = 0, level: float = 40.0, start: str = "2021-01-01") -> pd.Series:
    """Return integer-valued daily demand with trend, weekly and yearly seasonality and Poisson noise."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=days, freq="D")
    t = np.arange(days)
    weekly = 8.0 * np.sin(2 * np.pi * dates.day_of_week.to_numpy() / 7)
    yearly = 10.0 * np.sin(2 * np.pi * dates.day_of_year.to_numpy() / 365.25)
    mean = np.clip(level + 0.01 * t + weekly + yearly, 0.5, None)
    return pd.Series(rng.poisson(mean).astype(float), index=dates, name="demand")


def tiny_params(**overrides: object) -> ModelParams:
    """Return ModelParams small enough for a fit in about a second."""
    values: dict[str, object] = dict(
        validation_days=28, lstm_units=(16, 8, 8, 4), lstm_epochs=3, lstm_batch_size=32,
        lstm_max_train_windows=300, rf_trees=10, rf_max_depth=8, rf_min_samples_leaf=2, seed=7,
    )
    values.update(overrides)
    return default_model_params(**values)


@pytest.fixture(scope="session")
def small_params() -> ModelParams:
    """Tiny settings for every model."""
    return tiny_params()


@pytest.fixture(scope="session")
def history() -> pd.Series:
    """About 14 months of daily demand (enough for yearly seasonality and lag 364)."""
    return make_history(430)


@pytest.fixture(scope="session")
def short_history() -> pd.Series:
    """Four months of daily demand."""
    return make_history(120, seed=1)


@pytest.fixture(scope="session")
def history_factory() -> object:
    """Return :func:`make_history` for tests that need their own length or seed."""
    return make_history


@pytest.fixture(scope="session")
def params_factory() -> object:
    """Return :func:`tiny_params` for tests that override a setting."""
    return tiny_params
