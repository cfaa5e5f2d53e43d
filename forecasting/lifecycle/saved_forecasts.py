"""The forecast each model set makes, saved in the database when the set is trained.

While a set is fresh the product's sales are exactly those it was trained on (any
change makes it stale), and its members are deterministic, so its forecast for the
next N days is fixed: it is computed once, after training, and a request for up to
N days reads it. The row names the set it came from (``set_id``), so a forecast of
a replaced set is never served.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from forecasting.data.database import forecasts

Points = list[dict[str, Any]]

#: What a forecast request may give and still be answered by a saved forecast: the horizon alone.
DEFAULT_REQUEST_PARAMS = frozenset({"horizon"})


def answers(params: Mapping[str, Any]) -> bool:
    """Return whether a saved forecast may answer a forecast job's `params` (the default request).

    The one place that decides it: a request that asks for anything beyond the horizon
    (another set of members, level, calendar, ...) is computed, never read from here.
    """
    return set(params) <= DEFAULT_REQUEST_PARAMS


def save(engine: Engine, *, product_id: int, set_id: str, points: Points) -> None:
    """Keep `points` as the forecast of the product's set `set_id`, replacing any earlier one."""
    with engine.begin() as conn:
        conn.execute(delete(forecasts).where(forecasts.c.product_id == product_id))
        conn.execute(forecasts.insert().values(
            product_id=product_id, set_id=set_id, days=len(points), points=json.dumps(points),
            created_at=datetime.now(timezone.utc),
        ))


def load(engine: Engine, *, product_id: int, set_id: str) -> Points | None:
    """Return the saved forecast of the product's set `set_id`, or None when there is none."""
    with engine.connect() as conn:
        raw = conn.execute(
            select(forecasts.c.points).where(forecasts.c.product_id == product_id, forecasts.c.set_id == set_id)
        ).scalar()
    return None if raw is None else json.loads(raw)


def discard(engine: Engine, *, product_id: int) -> None:
    """Forget the product's saved forecast (its set was deleted)."""
    with engine.begin() as conn:
        conn.execute(delete(forecasts).where(forecasts.c.product_id == product_id))
