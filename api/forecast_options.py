"""Parse the options of POST /forecast: interval levels, frequency, members, what-if calendar rows.

Each field is read by one small function that raises a 422 naming it; the rules
themselves are the domain's (:mod:`forecasting.lifecycle.forecast_options`), which the
worker applies again to the job's params.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from api.errors import ValidationError
from forecasting.data.calendar import last_sale_day
from forecasting.errors import InvalidForecastOptions, ModelIntegrityError
from forecasting.lifecycle import forecast_options as rules
from forecasting.lifecycle.forecast_options import ForecastOptions
from forecasting.store.contract import ModelSets

OPTION_FIELDS = frozenset({"level", "frequency", "members", "calendar"})


def _checked(check: Callable[[Any], Any], value: Any) -> Any:
    try:
        return check(value)
    except InvalidForecastOptions as exc:
        raise ValidationError(str(exc), exc.field) from None


def levels(body: dict[str, Any], default: tuple[int, ...]) -> tuple[int, ...] | None:
    """Return ``level`` (an integer or an array of them, 50..99) sorted; None when absent or `default`; else a 422."""
    asked = _checked(rules.check_levels, body["level"]) if "level" in body else None
    return None if asked == default else asked


def frequency(body: dict[str, Any]) -> str:
    """Return ``frequency`` (daily, weekly, monthly; default daily), or raise a 422."""
    return _checked(rules.check_frequency, body.get("frequency", "daily"))


def members(body: dict[str, Any]) -> tuple[str, ...] | None:
    """Return ``members`` (known member names; default: the whole set), or raise a 422 naming an unknown one."""
    return _checked(rules.check_members, body["members"]) if "members" in body else None


def calendar_overrides(body: dict[str, Any]) -> tuple[Any, ...]:
    """Return the ``calendar`` what-if rows, checked like ``PUT /products/<id>/calendar`` rows, or raise a 422."""
    return _checked(rules.check_overrides, body["calendar"]) if "calendar" in body else ()


def forecast_options(body: dict[str, Any], default_levels: Sequence[float]) -> ForecastOptions:
    """Return every option of a forecast request body (defaults for those it leaves out).

    `default_levels` are the sets' interval levels (ModelParams.interval_levels, fractions): asking
    for exactly those is no option.
    """
    default = tuple(sorted(int(round(level * 100)) for level in default_levels))
    return ForecastOptions(levels=levels(body, default), frequency=frequency(body), members=members(body),
                           calendar=calendar_overrides(body))


def check_for_product(options: ForecastOptions, *, engine: Any, store: ModelSets, product_id: int,
                      horizon: int) -> None:
    """Raise a 422 when an override is not a forecast day, or a member is not in the product's current set.

    A product without a readable set is trained by the job, which checks the members again.
    """
    if options.calendar:
        _checked(lambda edits: rules.check_override_days(edits, last_sale_day(engine, product_id=product_id),
                                                         horizon), options.calendar)
    if options.members is not None:
        try:
            info = store.read_info(product_id)
        except ModelIntegrityError:
            return
        if info is not None:
            _checked(lambda chosen: rules.check_members_in_set(chosen, info.get("members") or []), options.members)
