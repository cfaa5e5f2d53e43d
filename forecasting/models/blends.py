"""The blend a forecast uses: some or all of a set's members, its weights, intervals and error dependence.

A forecast may ask for a subset of the set's members (``members: ["prophet"]``): their
validated weights are renormalised over them, and the intervals come from the
validation errors of that blend (the members' validation forecasts the set keeps), not
from the whole ensemble's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from forecasting.models import aggregation, ensemble

if TYPE_CHECKING:
    from forecasting.models.model_set import ModelSet


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
    kept = model_set.validation_forecasts
    combined = ensemble.combine({name: kept["members"][name] for name in weights}, weights)
    return ensemble.fit_intervals(kept["actual"], combined, model_set.intervals["levels"])


def error_dependence(model_set: "ModelSet", members: Sequence[str] | None = None) -> float:
    """Return the lag-1 dependence of the daily errors of the blend of `members` (see aggregation)."""
    intervals = chosen_intervals(model_set, chosen_weights(model_set, members))
    return aggregation.residual_dependence(intervals.get("residuals") or [])


def bound_columns(levels: Sequence[float]) -> list[tuple[str, str]]:
    """Return the (lower, upper) column names :func:`forecast` gives the bounds of `levels`, in that order."""
    return [(f"lower{suffix}", f"upper{suffix}")
            for suffix in ("" if i == 0 else f"_{int(round(level * 100))}" for i, level in enumerate(levels))]
