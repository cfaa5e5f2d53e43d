"""POST /forecasts: one batch job forecasting a list of products, or every product."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for

from api.errors import ValidationError
from api.services import Services, services
from api.validation import json_object, no_unknown_fields, positive_int
from forecasting.data.products import MAX_PRODUCT_ID, known_product_ids
from jobs.dispatch import submit

bp = Blueprint("bulk_forecasts", __name__)


@bp.post("/forecasts")
def create():
    """Queue a bulk forecast: {"product_ids": [...]} or {"all": true}, and "forecast_horizon".

    202 and the batch job; its children are forecast jobs, its result the forecasts of
    all of them (GET /jobs/<id>/result, as JSON, CSV or JSON Lines).
    """
    svc = services()
    params = bulk_params(json_object(request), svc)
    job = submit(svc.engine, svc.celery, kind="batch", product_id=None, params=params)
    location = url_for("jobs.get_job", job_id=job["id"])
    result = url_for("job_results.get_result", job_id=job["id"])
    return {"job_id": job["id"], "status": job["status"], "selection": params["selection"],
            "forecast_horizon": params["horizon"], "links": {"self": location, "result": result}}, \
        202, {"Location": location}


def bulk_params(body: dict[str, Any], svc: Services) -> dict[str, Any]:
    """Return the batch's params from the request body, or raise a 4xx naming what is wrong.

    Unknown product ids are one 422 naming them (up to 10), and nothing is queued.
    """
    no_unknown_fields(body, {"product_ids", "all", "forecast_horizon"})
    horizon = positive_int(body, "forecast_horizon", default=svc.settings.default_forecast_horizon,
                           maximum=svc.settings.max_forecast_horizon)
    if ("product_ids" in body) == ("all" in body):
        raise ValidationError("Give exactly one of 'product_ids' or 'all'.")
    if "all" in body:
        if body["all"] is not True:
            raise ValidationError("'all' must be true.", "all")
        return {"action": "forecast", "selection": "all", "horizon": horizon}
    value, limit = body["product_ids"], svc.settings.max_batch_products
    if not isinstance(value, list) or not value:
        raise ValidationError("'product_ids' must be a non-empty array of product ids.", "product_ids")
    if len(value) > limit:
        raise ValidationError(f"'product_ids' may hold at most {limit} ids (MAX_BATCH_PRODUCTS), got {len(value)}.",
                              "product_ids")
    ids = [positive_int({"product_ids[]": v}, "product_ids[]", maximum=MAX_PRODUCT_ID) for v in value]
    if len(set(ids)) != len(ids):
        raise ValidationError("'product_ids' lists a product more than once.", "product_ids")
    unknown = sorted(set(ids) - known_product_ids(svc.engine, product_ids=ids))
    if unknown:
        shown = ", ".join(map(str, unknown[:10])) + (" ..." if len(unknown) > 10 else "")
        raise ValidationError(f"'product_ids' names {len(unknown)} product(s) that do not exist: {shown}.",
                              "product_ids")
    return {"action": "forecast", "selection": "ids", "product_ids": ids, "horizon": horizon}
