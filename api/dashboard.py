"""What the dashboard shows: products with the state of their model sets, jobs, one product's chart data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from api.errors import ApiError
from api.services import Services
from forecasting.data.products import get_product, list_products
from forecasting.data.sales import read_sales
from forecasting.errors import ModelIntegrityError
from forecasting.lifecycle import saved_forecasts
from forecasting.lifecycle.stale_scan import stale_products
from forecasting.lifecycle.steps import Policy
from forecasting.lifecycle.training_runs import list_runs
from jobs.recent import recent_jobs

METRIC_NAMES = ("smape", "mase", "mae", "rmse")


@dataclass(frozen=True)
class SetState:
    """A product's model set as the dashboard shows it."""

    state: str  # fresh, stale or missing
    reason: str | None
    info: dict[str, Any] | None


@dataclass(frozen=True)
class ChartData:
    """Everything a product's forecast chart draws."""

    product: dict[str, Any]
    history: list[dict[str, Any]]
    points: list[dict[str, Any]]
    members: list[str]
    asked: int
    state: SetState


def overview(svc: Services, *, limit: int, offset: int) -> dict[str, Any]:
    """Return a page of products with their set states, and the recent jobs."""
    products = list_products(svc.engine, limit=limit, offset=offset)
    states = set_states(svc, [p["id"] for p in products])
    rows = [{**p, **_set_summary(states[p["id"]])} for p in products]
    return {"products": rows, "jobs": jobs(svc), "limit": limit, "offset": offset}


def jobs(svc: Services) -> list[dict[str, Any]]:
    """Return the jobs under way and the latest that ended."""
    return recent_jobs(svc.engine, limit=svc.settings.dashboard_recent_jobs)


def product_page(svc: Services, product_id: int) -> dict[str, Any]:
    """Return one product with its set, its validation metrics and its training runs."""
    product = get_product(svc.engine, product_id=product_id)
    state = set_states(svc, [product_id])[product_id]
    return {"product": product, **_set_summary(state), "info": state.info,
            "runs": list_runs(svc.engine, product_id=product_id, limit=20),
            "saved_days": svc.settings.saved_forecast_days}


def set_states(svc: Services, product_ids: list[int]) -> dict[int, SetState]:
    """Return the state of each product's set, by the rules the stale scan applies."""
    if not product_ids:
        return {}
    stale, _ = stale_products(engine=svc.engine, store=svc.store, policy=Policy.from_settings(svc.settings),
                              product_ids=product_ids)
    reasons = dict(stale)
    out: dict[int, SetState] = {}
    for pid in product_ids:
        try:
            info = svc.store.read_info(pid)
        except ModelIntegrityError:
            out[pid] = SetState("stale", "corrupt", None)
            continue
        if info is None:
            out[pid] = SetState("missing", "not trained yet" if pid in reasons else "too little history to train", None)
        elif pid in reasons:
            out[pid] = SetState("stale", reasons[pid], info)
        else:
            out[pid] = SetState("fresh", None, info)
    return out


def chart_data(svc: Services, product_id: int, horizon: int) -> ChartData:
    """Return the recent history and the saved forecast of the product's set, cut to `horizon` days."""
    # The API never trains nor loads models: without a set it answers 404, and a horizon
    # past the saved days shows the saved days (the chart says so).
    product = get_product(svc.engine, product_id=product_id)
    state = set_states(svc, [product_id])[product_id]
    info = state.info
    points = _saved_points(svc, product_id, info) if info else None
    train = f"(POST /api/v1/models/{product_id}/retrain or POST /api/v1/forecast)"
    if info is None:
        raise ApiError(404, "Model set not found",
                       f"Product {product_id} has no trained model set; train it first {train}.")
    if points is None:
        raise ApiError(404, "Saved forecast not found",
                       f"The model set of product {product_id} has no saved forecast (SAVED_FORECAST_DAYS "
                       f"was 0 when it was trained); retrain it first {train}.")
    end = _history_end(info, product)
    start = end - timedelta(days=svc.settings.chart_history_days - 1) if end else None
    history = read_sales(svc.engine, product_id=product_id, start=start, end=end)
    members = [m for m in info.get("members") or [] if points and m in points[0]]
    return ChartData(product=product, history=history, points=points[:horizon], members=members, asked=horizon,
                     state=state)


def _saved_points(svc: Services, product_id: int, info: dict[str, Any]) -> list[dict[str, Any]] | None:
    set_id = info.get("set_id")
    return saved_forecasts.load(svc.engine, product_id=product_id, set_id=set_id) if set_id else None


def _history_end(info: dict[str, Any], product: dict[str, Any]) -> date | None:
    # The history the set was trained on ends where its forecast starts.
    value = (info.get("data") or {}).get("end") or product.get("end")
    return date.fromisoformat(value) if value else None


def _set_summary(state: SetState) -> dict[str, Any]:
    info = state.info or {}
    metrics = info.get("metrics") if isinstance(info.get("metrics"), dict) else {}
    return {
        "state": state.state, "reason": state.reason, "trained_at": info.get("trained_at"),
        "trained_reason": info.get("reason"), "weights": info.get("weights") or {},
        "metrics": {name: {k: values.get(k) for k in METRIC_NAMES} for name, values in metrics.items()
                    if isinstance(values, dict)},
        "training_seconds": info.get("training_seconds") or {},
    }

