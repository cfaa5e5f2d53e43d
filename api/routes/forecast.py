"""POST /forecast: queue a forecast job for one product, and wait for it when asked to."""

from __future__ import annotations

from contextlib import nullcontext

from flask import Blueprint, request, url_for

from api.openapi import JOB_LINKS, LOCATION, RETRY_AFTER, operation
from api.routes.jobs import accepted_headers, job_resource
from api.schemas.forecast import ForecastAccepted, ForecastRequest
from api.schemas.jobs import Job
from api.services import services
from api.validation import preferred_wait
from forecasting.data.products import product_exists
from forecasting.errors import ProductNotFound
from jobs import records
from jobs.dispatch import submit

bp = Blueprint("forecast", __name__)

PREFER_WAIT = {"name": "Prefer", "in": "header", "required": False,
               "description": "RFC 7240 `wait=N`: answer 200 with the ended job if it ends within N seconds "
                              "(at most MAX_JOB_WAIT_SECONDS); a preference that cannot be read is ignored",
               "schema": {"type": "string", "examples": ["wait=10"]}}


@bp.post("/forecast")
@operation(body=ForecastRequest, responses={202: ForecastAccepted, 200: Job}, errors=(404,),
           headers={202: {"Location": LOCATION, "Retry-After": RETRY_AFTER},
                    200: {"Location": LOCATION, "Preference-Applied": {"schema": {"type": "string"}}}},
           links={202: JOB_LINKS}, header_parameters=[PREFER_WAIT])
def create_forecast():
    """Queue a forecast of one product; 202 with where to poll.

    With ``Prefer: wait=N`` (RFC 7240) the answer waits up to N seconds for the job to end:
    then it is 200 with the ended job (as GET /jobs/{job_id} shows it), else the usual 202.
    """
    svc = services()
    asked: ForecastRequest = request.context.json
    product_id, horizon = asked.product_id, asked.forecast_horizon
    if not product_exists(svc.engine, product_id=product_id):
        raise ProductNotFound(product_id)
    wait, job_id = preferred_wait(request, svc.settings.max_job_wait_seconds), records.new_job_id()
    # Listening starts before the task is sent, so an end that comes quickly is not missed.
    with svc.job_ends.listening(job_id) if wait else nullcontext() as ended:
        job = submit(svc.engine, svc.celery, kind="forecast", product_id=product_id, params={"horizon": horizon},
                     job_id=job_id)
        location = url_for("jobs.get_job", job_id=job_id)
        if wait and ended(wait):
            done = records.get_job(svc.engine, job_id=job_id)
            return job_resource(svc, done), 200, {"Location": location, "Preference-Applied": f"wait={wait}"}
    return ({"job_id": job["id"], "status": job["status"], "product_id": product_id,
             "forecast_horizon": horizon, "links": {"self": location}}, 202, accepted_headers(svc, location))
