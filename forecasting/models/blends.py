"""The blend a forecast uses: some or all of a set's members, its weights, intervals and error dependence.

A forecast may ask for a subset of the set's members (``members: ["prophet"]``): their
validated weights are renormalised over them, and the intervals come from the
validation errors of that blend, not from the whole ensemble's: the set keeps each
member's forecast from every validation fold origin (:func:`validation_record`), and the
blend's fold forecasts are calibrated as the set's own were
(:func:`forecasting.models.intervals.calibrate`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from forecasting.models import ensemble
from forecasting.models import intervals as fold_intervals

if TYPE_CHECKING:
    from forecasting.models.model_set import ModelSet
    from forecasting.models.validation import Validation


def validation_record(found: "Validation", tail: np.ndarray) -> dict[str, Any]:
    """Return the JSON-able validation forecasts a set keeps: what :func:`blend_folds` reads.

    ``origins`` (offsets into the tail), ``actual`` (the tail, ``None`` on days not
    scored) and per member its forecasts from each origin (the whole tail first), rounded
    to four decimals of a unit: what the intervals of a member subset need, in a tenth of the text.
    """
    def rounded(values: np.ndarray) -> list[float | None]:
        return [round(float(x), 4) if np.isfinite(x) else None for x in values]

    return {
        "origins": [int(origin) for origin in found.origins],
        "actual": rounded(np.asarray(tail, dtype=float)),
        "members": {name: [rounded(found.forecasts[name]),
                           *(rounded(fold) for fold in found.fold_forecasts[name][1:])]
                    for name in found.members},
    }


def blend_folds(record: Mapping[str, Any], weights: Mapping[str, float]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return (actual, blend forecast) from each validation origin of `record`, the whole tail first."""
    used = {name: w for name, w in weights.items() if w > 0}
    tail = np.asarray(record["actual"], dtype=float)
    folds = []
    for position, origin in enumerate(record["origins"]):
        forecast = ensemble.combine({name: np.asarray(record["members"][name][position], dtype=float)
                                     for name in used}, used)
        folds.append((tail[origin : origin + len(forecast)], forecast))
    return folds


def chosen_weights(model_set: "ModelSet", members: Sequence[str] | None) -> dict[str, float]:
    """Return the ensemble weights over `members` (all the set's by default), renormalised to sum to 1.

    Members whose validated weights are all 0 (TSB took the whole weight, say) share equally.

    Raises
    ------
    ValueError
        Naming a member the set does not hold.
    """
    if members is None:
        return dict(model_set.weights)
    missing = [name for name in members if name not in model_set.members]
    if missing:
        raise ValueError(f"The model set holds no member {', '.join(missing)}; "
                         f"it holds {', '.join(model_set.members)}.")
    kept = {name: float(model_set.weights.get(name, 0.0)) for name in members}
    total = sum(kept.values())
    return {name: (w / total if total > 0 else 1 / len(kept)) for name, w in kept.items()}


def chosen_intervals(model_set: "ModelSet", weights: Mapping[str, float]) -> dict[str, Any]:
    """Return the interval description of the blend `weights` makes: the set's own for the whole set.

    A blend of some of the members is bounded by its own validation residuals (its members'
    recorded validation forecasts, weighted), not by the whole ensemble's.
    """
    if set(weights) == set(model_set.members) or not model_set.validation_forecasts:
        return model_set.intervals
    own = model_set.intervals
    return fold_intervals.calibrate(blend_folds(model_set.validation_forecasts, weights),
                                    own["validation_days"], own["levels"])


def error_dependence(model_set: "ModelSet", members: Sequence[str] | None = None) -> float:
    """Return the lag-1 dependence of the daily errors of the blend of `members` (``intervals.dependence``)."""
    return float(chosen_intervals(model_set, chosen_weights(model_set, members))["dependence"])


def bound_columns(levels: Sequence[float]) -> list[tuple[str, str]]:
    """Return the (lower, upper) column names :func:`forecast` gives the bounds of `levels`, in that order."""
    return [(f"lower{suffix}", f"upper{suffix}")
            for suffix in ("" if i == 0 else f"_{int(round(level * 100))}" for i, level in enumerate(levels))]
