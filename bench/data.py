"""Bench data: the store-item demand file (real) and a fixed synthetic history."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
DATA_FILE = ROOT.parent / "shared" / "data" / "store-item-demand" / "train_stores_1_2.csv"


def real_series(path: Path = DATA_FILE, limit: int | None = None) -> dict[tuple[int, int], pd.Series] | None:
    """Return daily sales per (store, item), or None when the file is absent."""
    if not path.exists():
        return None
    frame = pd.read_csv(path, parse_dates=["date"])
    out: dict[tuple[int, int], pd.Series] = {}
    for (store, item), group in frame.groupby(["store", "item"], sort=True):
        series = group.set_index("date")["sales"].astype(float).sort_index()
        full = pd.date_range(series.index[0], series.index[-1], freq="D")
        out[(int(store), int(item))] = series.reindex(full, fill_value=0.0).rename("demand")
    keys = sorted(out)
    if limit is not None and limit < len(keys):
        # An even spread over stores and items, not the first `limit` items of store 1.
        picked = np.linspace(0, len(keys) - 1, limit).round().astype(int)
        keys = [keys[i] for i in picked]
    return {key: out[key] for key in keys}


def synthetic_history(days: int = 1100, seed: int = 11) -> pd.Series:
    """Return ~3 years of daily demand with trend, weekly and yearly seasonality (Poisson noise)."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2021-01-01", periods=days, freq="D")
    t = np.arange(days)
    weekly = 8.0 * np.sin(2 * np.pi * dates.day_of_week.to_numpy() / 7)
    yearly = 10.0 * np.sin(2 * np.pi * dates.day_of_year.to_numpy() / 365.25)
    mean = np.clip(40.0 + 0.01 * t + weekly + yearly, 0.5, None)
    return pd.Series(rng.poisson(mean).astype(float), index=dates, name="demand")
