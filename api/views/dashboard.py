"""The dashboard: products and their model sets, jobs with live progress, one page per product."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, render_template, request

from api import dashboard
from api.services import services
from api.validation import path_id, query_int

API = Path(__file__).resolve().parent.parent
bp = Blueprint("dashboard", __name__, template_folder=API / "templates", static_folder=API / "static",
               static_url_path="/dashboard/static")


@bp.get("/")
def index() -> str:
    """Show products with the state of their sets, and the jobs under way or just ended."""
    limit = query_int(request, "limit", default=100, minimum=1, maximum=1000)
    offset = query_int(request, "offset", default=0, minimum=0)
    return render_template("dashboard/index.html", **dashboard.overview(services(), limit=limit, offset=offset))


@bp.get("/products/<product_id>")
def product(product_id: str) -> str:
    """Show one product: its chart, the metrics and weights of its set, its training runs."""
    svc = services()
    horizon = query_int(request, "horizon", default=svc.settings.default_forecast_horizon, minimum=1,
                        maximum=svc.settings.max_forecast_horizon)
    return render_template("dashboard/product.html", horizon=horizon,
                           **dashboard.product_page(svc, path_id(product_id)))


@bp.get("/dashboard/jobs")
def jobs() -> dict:
    """Return the jobs the dashboard lists, for its progress bars to refresh."""
    return {"jobs": dashboard.jobs(services())}
