"""Forecasts with options (levels, frequency, members, what-if calendar rows), computed per request."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from forecasting.lifecycle.calendar_warnings import calendar_warnings
from forecasting.lifecycle.forecast_options import ForecastOptions, check_members_in_set, check_override_days
from forecasting.lifecycle.steps import Forecast, LockFactory, Policy, Progress, prepare, product_calendar
from forecasting.store.caches import LoadedCache
from forecasting.store.model_store import ModelStore


def forecast(*, engine: Engine, store: ModelStore, cache: LoadedCache, product_id: int, horizon: int, policy: Policy,
             options: ForecastOptions, lock: LockFactory | None = None, job_id: str | None = None,
             progress: Progress | None = None) -> Forecast:
    """Forecast the `horizon` days after the product's history as `options` ask, training first when needed.

    Always computed, for this request only: the memo and the saved forecast keep the
    set's own forecast, and what-if calendar rows are merged into the calendar frame,
    never written. The result's ``options`` say what was used.
    """
    from forecasting.models import blends
    from forecasting.models import model_set as sets
    from forecasting.models.aggregation import aggregate

    prepared = prepare(engine=engine, store=store, cache=cache, product_id=product_id, policy=policy, lock=lock,
                       job_id=job_id, progress=progress)
    history, model_set = prepared.history, prepared.model_set
    # Checked again here: the set may have been retrained, the sales moved on, since the request.
    check_members_in_set(options.members, list(model_set.members))
    check_override_days(options.calendar, history.end, horizon)
    if progress:
        progress("forecasting", 98)
    calendar = product_calendar(engine, history, horizon, policy, overrides=options.calendar)
    levels = None if options.levels is None else [level / 100 for level in options.levels]
    frame = sets.forecast(model_set, history.series, horizon, calendar=calendar, members=options.members,
                          levels=levels)
    frame = aggregate(frame, options.frequency, rho=blends.error_dependence(model_set, options.members),
                      bounds=blends.bound_columns(levels or model_set.intervals["levels"]))
    end = history.end.isoformat() if history.end else None
    chosen = blends.chosen_weights(model_set, options.members)
    asked = levels or model_set.intervals["levels"]
    used = {"level": [int(round(level * 100)) for level in asked], "frequency": options.frequency, "members": list(chosen),
            "weights": {name: round(w, 6) for name, w in chosen.items()}, "calendar_overrides": len(options.calendar)}
    return Forecast(frame_points(frame), prepared.info, end, trained=prepared.trained, reason=prepared.reason,
                    warnings=calendar_warnings(engine, product_id, prepared.info, end, horizon, options.calendar),
                    options=used)


def frame_points(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Return a forecast frame (daily or per period) as one JSON-able dict per row, values to 4 decimals."""
    dates = [day.date().isoformat() for day in frame.index]
    extra = {}
    if "end" in frame:
        extra = {"end": [day.date().isoformat() for day in frame["end"]], "days": [int(d) for d in frame["days"]]}
        frame = frame.drop(columns=["end", "days"])
    columns = {name: [round(value, 4) for value in frame[name].to_numpy(dtype=float).tolist()] for name in frame}
    return [{"date": day, **{name: values[i] for name, values in extra.items()},
             **{name: values[i] for name, values in columns.items()}} for i, day in enumerate(dates)]
