"""POST /forecast: queue a forecast job for one product, and wait for it when asked to."""

from __future__ import annotations

from contextlib import nullcontext

from flask import Blueprint, request, url_for

from api.routes.jobs import job_resource
from api.forecast_options import OPTION_FIELDS, check_for_product, forecast_options
from api.services import services
from api.validation import json_object, no_unknown_fields, positive_int, preferred_wait
from forecasting.data.products import MAX_PRODUCT_ID, product_exists
from forecasting.errors import ProductNotFound
from jobs import records
from jobs.dispatch import submit

bp = Blueprint("forecast", __name__)


@bp.post("/forecast")
def create_forecast():
    """Validate the request, record a job and queue it; answer 202 with where to poll.

    With ``Prefer: wait=N`` the answer waits up to N seconds for the job to end: then
    it is 200 with the ended job (as GET /jobs/<id> shows it), else the usual 202.
    Options (``level``, ``frequency``, ``members``, what-if ``calendar`` rows) go to the
    job's params; a request without them asks for the set's own forecast.
    """
    svc = services()
    body = json_object(request)
    no_unknown_fields(body, {"product_id", "forecast_horizon", *OPTION_FIELDS})
    product_id = positive_int(body, "product_id", maximum=MAX_PRODUCT_ID)
    horizon = positive_int(
        body, "forecast_horizon", default=svc.settings.default_forecast_horizon,
        maximum=svc.settings.max_forecast_horizon,
    )
    options = forecast_options(body, svc.settings.model_params.interval_levels)
    if not product_exists(svc.engine, product_id=product_id):
        raise ProductNotFound(product_id)
    if not options.is_default:
        check_for_product(options, engine=svc.engine, store=svc.store, product_id=product_id, horizon=horizon)
    wait, job_id = preferred_wait(request, svc.settings.max_job_wait_seconds), records.new_job_id()
    # Listening starts before the task is sent, so an end that comes quickly is not missed.
    with svc.job_ends.listening(job_id) if wait else nullcontext() as ended:
        job = submit(svc.engine, svc.celery, kind="forecast", product_id=product_id,
                     params={"horizon": horizon, **options.to_params()}, job_id=job_id)
        location = url_for("jobs.get_job", job_id=job_id)
        if wait and ended(wait):
            done = records.get_job(svc.engine, job_id=job_id)
            return job_resource(svc, done), 200, {"Location": location, "Preference-Applied": f"wait={wait}"}
    return {"job_id": job["id"], "status": job["status"], "product_id": product_id,
            "forecast_horizon": horizon, "links": {"self": location}}, 202, {"Location": location}
