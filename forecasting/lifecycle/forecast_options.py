"""What a forecast request may ask beyond its horizon: interval levels, frequency, members, a what-if calendar.

A request without options gets the set's forecast as it is (and may be served from the
forecast saved with the set); any option makes the forecast computed for that request,
and never kept: not saved, not memoised, and calendar overrides never stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from forecasting.data.calendar_store import CalendarEdit, edit_to_row, validate_calendar_rows
from forecasting.errors import InvalidCalendarData, InvalidForecastOptions
from forecasting.models.aggregation import FREQUENCIES
from forecasting.models.model_set import ALL_MEMBERS

MIN_LEVEL, MAX_LEVEL = 50, 99
MAX_LEVELS = 5
#: Override rows per request; a forecast covers at most MAX_FORECAST_HORIZON days anyway.
MAX_OVERRIDES = 1000


@dataclass(frozen=True)
class ForecastOptions:
    """A forecast request's options.

    Attributes
    ----------
    levels : tuple of int or None
        Interval levels in percent, ascending, each 50..99; ``lower``/``upper`` are the first.
        None: the set's own (``interval_levels`` of its params: 80 and 95).
    frequency : str
        ``daily``, ``weekly`` or ``monthly`` (:mod:`forecasting.models.aggregation`).
    members : tuple of str or None
        Members to forecast with (weights renormalised over them); None: the whole set.
    calendar : tuple of CalendarEdit
        What-if calendar rows for forecast days, applied for this forecast only.
    """

    levels: tuple[int, ...] | None = None
    frequency: str = "daily"
    members: tuple[str, ...] | None = None
    calendar: tuple[CalendarEdit, ...] = ()

    @property
    def is_default(self) -> bool:
        """Whether the request asks for nothing but the set's own forecast."""
        return self == ForecastOptions()

    def to_params(self) -> dict[str, Any]:
        """Return the options that differ from the defaults, JSON-able, for a job's params."""
        params: dict[str, Any] = {}
        if self.levels is not None:
            params["level"] = list(self.levels)
        if self.frequency != "daily":
            params["frequency"] = self.frequency
        if self.members is not None:
            params["members"] = list(self.members)
        if self.calendar:
            params["calendar"] = [edit_to_row(edit) for edit in self.calendar]
        return params

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ForecastOptions:
        """Return the options of a job's params (:meth:`to_params`), checked again."""
        return cls(
            levels=check_levels(params["level"]) if "level" in params else None,
            frequency=check_frequency(params.get("frequency", "daily")),
            members=check_members(params["members"]) if "members" in params else None,
            calendar=check_overrides(params["calendar"]) if "calendar" in params else (),
        )


def check_levels(value: Any) -> tuple[int, ...]:
    """Return interval levels as sorted distinct percents, or raise InvalidForecastOptions."""
    values = [value] if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(values, list) or not values:
        raise InvalidForecastOptions(f"'level' must be an integer or a non-empty array of integers "
                                     f"{MIN_LEVEL}..{MAX_LEVEL}, e.g. [80, 95].", "level")
    for item in values:
        if isinstance(item, bool) or not isinstance(item, int) or not MIN_LEVEL <= item <= MAX_LEVEL:
            raise InvalidForecastOptions(f"'level' values must be integers from {MIN_LEVEL} to {MAX_LEVEL} "
                                         f"(percent), got {item!r:.40}.", "level")
    levels = tuple(sorted(set(values)))
    if len(levels) > MAX_LEVELS:
        raise InvalidForecastOptions(f"'level' takes at most {MAX_LEVELS} levels, got {len(levels)}.", "level")
    return levels


def check_frequency(value: Any) -> str:
    """Return the frequency, or raise InvalidForecastOptions naming the ones accepted."""
    if value not in FREQUENCIES:
        raise InvalidForecastOptions(f"'frequency' must be one of {', '.join(FREQUENCIES)}, got {value!r:.40}.",
                                     "frequency")
    return value


def check_members(value: Any) -> tuple[str, ...]:
    """Return the member names in the order given, or raise InvalidForecastOptions naming an unknown one."""
    if not isinstance(value, list) or not value:
        raise InvalidForecastOptions(f"'members' must be a non-empty array of member names "
                                     f"({', '.join(ALL_MEMBERS)}).", "members")
    for name in value:
        if name not in ALL_MEMBERS:
            raise InvalidForecastOptions(f"'members' names an unknown member {name!r:.40}; members are "
                                         f"{', '.join(ALL_MEMBERS)}.", "members")
    if len(set(value)) != len(value):
        raise InvalidForecastOptions("'members' names a member more than once.", "members")
    return tuple(value)


def check_members_in_set(members: Sequence[str] | None, held: Sequence[str]) -> None:
    """Raise InvalidForecastOptions naming the first of `members` a model set holding `held` lacks."""
    for name in members or ():
        if name not in held:
            raise InvalidForecastOptions(f"'members' names {name}, which product's model set does not hold "
                                         f"(it holds {', '.join(held)}).", "members")


def check_overrides(value: Any) -> tuple[CalendarEdit, ...]:
    """Return what-if calendar rows as edits, checked exactly like the calendar API's rows."""
    if not isinstance(value, list) or not value:
        raise InvalidForecastOptions('\'calendar\' must be a non-empty array of {"date": "YYYY-MM-DD", '
                                     '"open"?: false, "holiday"?: "public", "regressors"?: {"promo": 1}} '
                                     'objects.', "calendar")
    if len(value) > MAX_OVERRIDES:
        raise InvalidForecastOptions(f"'calendar' takes at most {MAX_OVERRIDES} rows, got {len(value)}.", "calendar")
    try:
        return tuple(validate_calendar_rows(value))
    except InvalidCalendarData as exc:
        raise InvalidForecastOptions(f"'calendar': {exc}", "calendar") from None


def check_override_days(edits: Sequence[CalendarEdit], last_sale: date | None, horizon: int) -> None:
    """Raise InvalidForecastOptions naming the first override that is not a forecast day.

    The forecast days are the `horizon` days after the product's last sales day.
    """
    if not edits:
        return
    if last_sale is None:
        raise InvalidForecastOptions("'calendar' overrides need a product with sales to forecast from.", "calendar")
    first, last = last_sale + timedelta(days=1), last_sale + timedelta(days=horizon)
    for edit in edits:
        if not first <= edit.day <= last:
            raise InvalidForecastOptions(f"'calendar' row for {edit.day} is not a forecast day: this forecast "
                                         f"covers {first} to {last}.", "calendar")
