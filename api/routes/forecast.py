"""POST /forecast: queue a forecast job for one product."""

from __future__ import annotations

from flask import Blueprint, request, url_for

from api.services import services
from api.validation import json_object, no_unknown_fields, positive_int
from forecasting.products import get_product
from workers.dispatch import submit

bp = Blueprint("forecast", __name__)


@bp.post("/forecast")
def create_forecast():
    """Validate the request, record a job and queue it; answer 202 with where to poll."""
    svc = services()
    body = json_object(request)
    no_unknown_fields(body, {"product_id", "forecast_horizon"})
    product_id = positive_int(body, "product_id")
    horizon = positive_int(
        body, "forecast_horizon", default=svc.settings.default_forecast_horizon,
        maximum=svc.settings.max_forecast_horizon,
    )
    get_product(svc.engine, product_id=product_id)
    job = submit(svc.engine, svc.celery, kind="forecast", product_id=product_id, params={"horizon": horizon})
    location = url_for("jobs.get_job", job_id=job["id"])
    return {"job_id": job["id"], "status": job["status"], "product_id": product_id,
            "forecast_horizon": horizon, "links": {"self": location}}, 202, {"Location": location}
