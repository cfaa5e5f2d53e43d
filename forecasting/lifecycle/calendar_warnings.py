"""The forecast days whose calendar leaves a value the model set reads unstated, for a result's ``warnings``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from forecasting.data.calendar import unstated_days
from forecasting.data.calendar_store import CalendarEdit


def calendar_warnings(engine: Engine, product_id: int, info: dict[str, Any], history_end: str | None, horizon: int,
                      overrides: Sequence[CalendarEdit] = ()) -> list[dict[str, Any]]:
    """Return the forecast days whose calendar leaves a value the set reads unstated, per field.

    One warning per field: ``open`` when the product's calendar states open days at all
    (a day without it is forecast as open), and each regressor the set was trained with
    (a day without it reads 0). Both are the defaults of
    :mod:`forecasting.models.calendar_inputs`.
    """
    if history_end is None:
        return []
    first = date.fromisoformat(history_end) + timedelta(days=1)
    regressors = (info.get("calendar") or {}).get("regressors") or []
    found = unstated_days(engine, product_id=product_id, first=first, last=first + timedelta(days=horizon - 1),
                          regressors=regressors, overrides=overrides)
    warnings = []
    for key, days in found.items():
        default, meaning = (True, "read as open") if key == "open" else (0, "read as 0")
        warnings.append({"field": key, "default": default, "count": len(days),
                         "days": [day.isoformat() for day in days],
                         "detail": f"{len(days)} forecast day(s) have no '{key}' in the calendar; {meaning}."})
    return warnings
