"""Hyper-parameters of the per-product model set."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ModelParams:
    """Settings of the three models and their validation.

    Parameters
    ----------
    validation_days : int
        Length of the held-out tail each model is scored on.
    lstm_window : int
        Days of history the LSTM sees per prediction.
    lstm_units : tuple of int
        Units of the four layers (two LSTM, two dense).
    lstm_epochs : int
        Maximum training epochs (early stopping may end sooner).
    lstm_batch_size : int
        Mini-batch size.
    lstm_patience : int
        Epochs without improvement before early stopping.
    lstm_max_train_windows : int
        Most recent windows used for training (older ones are dropped).
    rf_trees, rf_max_depth, rf_min_samples_leaf : int
        RandomForest size; ``rf_max_depth`` may be None (unbounded).
    rf_compress : int
        joblib compression level of ``rf_model.pkl``.
    prophet_uncertainty_samples : int
        Prophet's own interval samples (0 = off; intervals come from validation).
    prophet_changepoint_prior_scale : float
        Flexibility of Prophet's trend (its ``changepoint_prior_scale``).
    prophet_yearly_order : int
        Fourier order of Prophet's yearly seasonality.
    interval_levels : tuple of float
        Nominal coverages of the forecast intervals, e.g. (0.8, 0.95).
    seed : int
        Random seed for every model.
    """

    validation_days: int
    lstm_window: int
    lstm_units: tuple[int, ...]
    lstm_epochs: int
    lstm_batch_size: int
    lstm_patience: int
    lstm_max_train_windows: int
    rf_trees: int
    rf_max_depth: int | None
    rf_min_samples_leaf: int
    rf_compress: int
    prophet_uncertainty_samples: int
    prophet_changepoint_prior_scale: float
    prophet_yearly_order: int
    interval_levels: tuple[float, ...]
    seed: int

    def to_dict(self) -> dict[str, Any]:
        """Return the parameters as JSON-able values."""
        return asdict(self)
