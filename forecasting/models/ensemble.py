"""Combine the member forecasts and bound them with intervals from validation residuals.

Weights
    Each member's weight is proportional to ``1 / MAE`` of its forecast of the held-out
    validation tail, normalised to sum to 1. MAE rather than SMAPE because SMAPE
    scores every day of zero demand with a non-zero forecast as a 200 % miss, which
    swamps intermittent products. A member with a non-finite error (a failed or
    diverged forecast) gets weight 0. Errors are floored at ``ERROR_FLOOR`` times
    the mean finite error, so a member that was perfect on a quiet validation
    window (all zeros, say) cannot take the whole weight.

    How sharply the weights follow the errors is chosen per product on the validation
    folds (:func:`choose_weights`): equal weights, ``1 / MAE``, ``1 / MAE**2``,
    ``1 / MAE**4`` or one member alone, whichever blend has the lowest mean fold MAE,
    provided it beats ``1 / MAE`` by ``SWITCH_MARGIN`` (3 %).
    Members as alike as on store-item demand keep near-equal weights; one member clearly
    better (the forest with a calendar on Rossmann) takes most of the weight.

Intervals
    Calibrated on the validation folds (:mod:`forecasting.models.intervals`), at any
    level; :func:`interval_bounds` reads them for the levels a forecast asks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from forecasting.models import intervals as fold_intervals

#: Smallest error used for weighting, as a share of the mean finite error.
ERROR_FLOOR = 0.1


#: Powers of the inverse error the weights may take (0: equal weights); the set keeps the one
#: whose blend forecast its validation folds best (:func:`choose_weights`).
WEIGHT_POWERS: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0)
#: The candidate kept unless another blend's fold error is lower by ``SWITCH_MARGIN``: ``1 / MAE``.
DEFAULT_POWER_POSITION = 1
#: Share by which another blend must beat ``1 / MAE`` on the folds to be chosen.
SWITCH_MARGIN = 0.03


def choose_weights(errors: Mapping[str, float], fold_error: Callable[[Mapping[str, float]], float]) -> dict[str, float]:
    """Return the weights, among ``1 / error ** p`` for p in ``WEIGHT_POWERS`` and each member alone, whose blend errs least.

    Parameters
    ----------
    errors : mapping of str to float
        Validation error of each member (mean fold MAE; MSE for intermittent shapes).
    fold_error : callable
        Returns the blend's mean error over the validation folds for a weight mapping.

    Returns
    -------
    dict of str to float
        Same keys; ties go to the earlier candidate (the gentler weighting).
    """
    candidates = [inverse_error_weights(errors, power) for power in WEIGHT_POWERS]
    finite = [name for name, err in errors.items() if np.isfinite(err)]
    candidates += [{name: float(name == best) for name in errors} for best in finite]
    scores = [fold_error(weights) for weights in candidates]
    default = DEFAULT_POWER_POSITION
    finite_scores = [(score, position) for position, score in enumerate(scores) if np.isfinite(score)]
    if not finite_scores:
        return candidates[default]
    best_score, best = min(finite_scores)
    # Members about as good as each other keep the gentle weights: a blend of equals is
    # safer out of sample than the fold noise's favourite.
    if np.isfinite(scores[default]) and best_score > scores[default] * (1 - SWITCH_MARGIN):
        return candidates[default]
    return candidates[best]


def inverse_error_weights(errors: Mapping[str, float], power: float = 1.0) -> dict[str, float]:
    """Return weights proportional to ``1 / error``, summing to 1.

    Parameters
    ----------
    errors : mapping of str to float
        Validation error (MAE) of each member.
    power : float
        Weights proportional to ``1 / error ** power`` (0: equal weights).

    Returns
    -------
    dict of str to float
        Same keys and order; non-finite errors get 0.

    Raises
    ------
    ValueError
        When no member has a finite error.
    """
    finite = {name: float(err) for name, err in errors.items() if np.isfinite(err) and err >= 0}
    if not finite:
        raise ValueError(f"No member has a finite validation error: {dict(errors)}.")
    floor = ERROR_FLOOR * float(np.mean(list(finite.values())))
    if floor == 0:
        # Every finite member was perfect: nothing tells them apart.
        raw = {name: (1.0 if name in finite else 0.0) for name in errors}
    else:
        raw = {name: (1.0 / max(finite[name], floor) ** power if name in finite else 0.0) for name in errors}
    total = sum(raw.values())
    return {name: value / total for name, value in raw.items()}


def combine(forecasts: Mapping[str, ArrayLike], weights: Mapping[str, float]) -> np.ndarray:
    """Return the weighted sum of the member forecasts.

    Members with weight 0 are skipped, so their (possibly non-finite) values never
    reach the result.
    """
    used = {name: w for name, w in weights.items() if w > 0}
    missing = set(used) - set(forecasts)
    if missing:
        raise ValueError(f"No forecast for weighted member(s): {sorted(missing)}.")
    total = sum(used.values())
    return sum(w / total * np.asarray(forecasts[name], dtype=float) for name, w in used.items())


def interval_bounds(forecast: ArrayLike, intervals: Mapping[str, Any],
                    levels: Sequence[float] | None = None) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """Return ``{level: (lower, upper)}`` around `forecast` for every level asked.

    Parameters
    ----------
    forecast : array-like
        Ensemble forecast, step 1 first.
    intervals : mapping
        What :func:`forecasting.models.intervals.calibrate` returned (possibly read back from JSON).
    levels : sequence of float, optional
        Nominal coverages in (0, 1), any of them; by default those `intervals` was calibrated for.

    Returns
    -------
    dict of float to (numpy.ndarray, numpy.ndarray)
        Lower bounds clipped at 0, ``lower <= forecast <= upper``, in the order of `levels`.
    """
    if intervals.get("method") != fold_intervals.METHOD:
        raise ValueError(f"Unknown interval method {intervals.get('method')!r} (expected {fold_intervals.METHOD!r}).")
    return fold_intervals.all_bounds(forecast, intervals, intervals["levels"] if levels is None else levels)
