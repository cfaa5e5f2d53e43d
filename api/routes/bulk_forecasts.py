"""POST /forecasts: one batch job forecasting a list of products, or every product."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for

from api.errors import ValidationError
from api.openapi import LOCATION, RETRY_AFTER, operation
from api.routes.jobs import accepted_headers
from api.schemas.forecast import BulkForecastAccepted, BulkForecastRequest
from api.services import Services, services
from api.validation import unknown_products
from jobs.dispatch import submit

bp = Blueprint("bulk_forecasts", __name__)

#: Where the 202 of a bulk forecast leads: polling the batch, cancelling it, reading its forecasts.
BULK_LINKS = {"GetJob": ("jobs.get_job", {"job_id": "$response.body#/job_id"}),
              "CancelJob": ("jobs.cancel", {"job_id": "$response.body#/job_id"}),
              "GetResult": ("job_results.get_result", {"job_id": "$response.body#/job_id"})}


@bp.post("/forecasts")
@operation(body=BulkForecastRequest, responses={202: BulkForecastAccepted},
           headers={202: {"Location": LOCATION, "Retry-After": RETRY_AFTER}}, links={202: BULK_LINKS})
def create():
    """Queue a bulk forecast: {"product_ids": [...]} or {"all": true}, and "forecast_horizon".

    202 and the batch job; its children are forecast jobs, its result the forecasts of
    all of them (GET /jobs/{job_id}/result, as JSON, CSV or JSON Lines). Ids that name no
    product are one 422 naming them (up to 10), and nothing is queued.
    """
    svc = services()
    params = bulk_params(request.context.json, svc)
    job = submit(svc.engine, svc.celery, kind="batch", product_id=None, params=params)
    location = url_for("jobs.get_job", job_id=job["id"])
    result = url_for("job_results.get_result", job_id=job["id"])
    return {"job_id": job["id"], "status": job["status"], "selection": params["selection"],
            "forecast_horizon": params["horizon"], "links": {"self": location, "result": result}}, \
        202, accepted_headers(svc, location)


def bulk_params(asked: BulkForecastRequest, svc: Services) -> dict[str, Any]:
    """Return the batch's params of a checked request, or raise a 422 naming the ids that are no product."""
    horizon = asked.forecast_horizon
    if asked.all:
        return {"action": "forecast", "selection": "all", "horizon": horizon}
    ids = asked.product_ids or []
    count, shown = unknown_products(svc.engine, ids)
    if count:
        raise ValidationError(f"'product_ids' names {count} product(s) that do not exist: {shown}.", "product_ids")
    return {"action": "forecast", "selection": "ids", "product_ids": ids, "horizon": horizon}
