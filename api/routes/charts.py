"""GET /products/<id>/forecast.svg|png: a product's saved forecast drawn over its recent sales."""

from __future__ import annotations

from flask import Blueprint, Response, request

from api import charts, dashboard
from api.openapi import operation
from api.schemas.health import ChartQuery
from api.services import services
from api.validation import path_id

bp = Blueprint("charts", __name__)


@bp.get("/products/<product_id>/forecast.svg", defaults={"fmt": "svg"})
@bp.get("/products/<product_id>/forecast.png", defaults={"fmt": "png"})
@operation(query=ChartQuery, responses={200: None}, errors=(404,), media={200: "image/svg+xml|image/png"},
           headers={200: {"Forecast-Days": {"description": "Days drawn", "schema": {"type": "integer"}},
                          "Model-Set-State": {"description": "fresh, stale, missing or untrusted",
                                              "schema": {"type": "string"}}}})
def forecast_chart(product_id: str, fmt: str) -> Response:
    """Draw the saved forecast of the product's set over its recent sales (?horizon=N); 404 before training."""
    svc = services()
    horizon = request.context.query.horizon
    data = dashboard.chart_data(svc, path_id(product_id), horizon)
    response = Response(charts.forecast_chart(data, fmt), mimetype=charts.FORMATS[fmt])
    # Days drawn; fewer than asked when the horizon passes the saved forecast.
    response.headers["Forecast-Days"] = str(len(data.points))
    response.headers["Model-Set-State"] = data.state.state
    response.headers["Cache-Control"] = "no-cache"
    return response
