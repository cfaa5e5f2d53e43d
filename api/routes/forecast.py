"""Forecasts: POST /forecast queues a job (and waits for it when asked to); a fresh saved
forecast is answered from the database, without a worker.
"""

from __future__ import annotations

from contextlib import nullcontext

import orjson
from flask import Blueprint, Response, current_app, request, url_for
from sqlalchemy import event

from api.errors import ApiError, outage
from api.forecast_options import check_for_product, forecast_options
from api.openapi import JOB_LINKS, LOCATION, RETRY_AFTER, operation
from api.routes.jobs import accepted_headers, job_resource
from api.schemas.forecast import ForecastAccepted, ForecastRequest, ForecastResult, SavedForecastQuery
from api.schemas.jobs import Job
from api.services import Services, services
from api.validation import path_id, preferred_wait
from forecasting.data.recent_tokens import RecentTokens
from forecasting.lifecycle import saved_forecasts, steps
from forecasting.store.caches import ForecastMemo, Lru, TrustedInfos
from forecasting.store.s3_objects import StoreUnavailable
from jobs import metrics, records
from jobs.celery_app import FORECAST_QUEUE, FORECAST_TRAINING_QUEUE
from jobs.dispatch import submit

bp = Blueprint("forecast", __name__)

PREFER_WAIT = {"name": "Prefer", "in": "header", "required": False,
               "description": "RFC 7240 `wait=N`: answer 200 with the ended job if it ends within N seconds "
                              "(at most MAX_JOB_WAIT_SECONDS), or at once when the saved forecast answers; "
                              "a preference that cannot be read is ignored",
               "schema": {"type": "string", "examples": ["wait=10"]}}


@bp.post("/forecast")
@operation(body=ForecastRequest, responses={202: ForecastAccepted, 200: Job}, errors=(404,),
           headers={202: {"Location": LOCATION, "Retry-After": RETRY_AFTER},
                    200: {"Location": LOCATION, "Preference-Applied": {"schema": {"type": "string"}}}},
           links={202: JOB_LINKS}, header_parameters=[PREFER_WAIT])
def create_forecast():
    """Validate the request, record a job and queue it; answer 202 with where to poll.

    With ``Prefer: wait=N`` the answer waits up to N seconds for the job to end: then
    it is 200 with the ended job (as GET /jobs/<id> shows it), else the usual 202. When
    the product's saved forecast answers the request, that job is recorded as ended at
    once and no worker runs it. Options (``level``, ``frequency``, ``members``, what-if
    ``calendar`` rows) go to the job's params; a request without them asks for the set's
    own forecast, which only then may come from the saved one.
    """
    svc = services()
    asked: ForecastRequest = request.context.json
    product_id, horizon = asked.product_id, asked.forecast_horizon
    # The options as sent (the model checked them): read into the domain's ForecastOptions.
    options = forecast_options(request.get_json(), svc.settings.model_params.interval_levels)
    params = {"horizon": horizon, **options.to_params()}
    # One look at the product's token and model_info.json (404 for an unknown product): what the
    # worker would read first, by the worker's own code.
    try:
        kept = _kept(svc, product_id, horizon, params)
    except StoreUnavailable:
        # The model store does not answer: the job is queued as ever, and its worker sees to it.
        kept = steps.Kept(fresh=True, forecast=None)
    if not options.is_default:
        check_for_product(options, engine=svc.engine, store=svc.store, product_id=product_id, horizon=horizon)
    wait = preferred_wait(request, svc.settings.max_job_wait_seconds)
    if wait and kept.forecast is not None:
        job = records.record_served(svc.engine, kind="forecast", product_id=product_id, params=params,
                                    result=steps.forecast_result(product_id, horizon, kept.forecast))
        metrics.job_ended(job)
        metrics.forecast_served("saved")
        location = url_for("jobs.get_job", job_id=job["id"])
        return job_resource(svc, job), 200, {"Location": location, "Preference-Applied": f"wait={wait}"}
    job_id = records.new_job_id()
    # A set that must be trained first goes to the worker of such forecasts, so it holds up
    # neither the forecasts of fresh sets nor waits behind a bulk retrain.
    queue = FORECAST_QUEUE if kept.fresh else FORECAST_TRAINING_QUEUE
    # Listening starts before the task is sent, so an end that comes quickly is not missed.
    with svc.job_ends.listening(job_id) if wait else nullcontext() as ended:
        job = submit(svc.engine, svc.celery, kind="forecast", product_id=product_id, params=params,
                     job_id=job_id, queue=queue)
        location = url_for("jobs.get_job", job_id=job_id)
        if wait and ended(wait):
            done = records.get_job(svc.engine, job_id=job_id)
            return job_resource(svc, done), 200, {"Location": location, "Preference-Applied": f"wait={wait}"}
    return {"job_id": job["id"], "status": job["status"], "product_id": product_id,
            "forecast_horizon": horizon, "links": {"self": location}}, 202, accepted_headers(svc, location)


@bp.get("/products/<product_id>/forecast")
@operation(query=SavedForecastQuery, responses={200: ForecastResult}, errors=(404,))
def saved_forecast(product_id: str):
    """Answer the product's forecast of ``?horizon=N`` days from its saved forecast, without a job.

    200 with what a forecast job's ``result`` holds, while the product's model set is fresh
    (the worker's rules) and its saved forecast covers the horizon; otherwise a 404 that
    says to POST /forecast, which trains or computes it.
    """
    svc = services()
    pid = path_id(product_id)
    horizon = request.context.query.horizon
    reads = _reads(svc)
    try:
        info = steps.fresh_info(engine=svc.reader, store=svc.store, product_id=pid, policy=reads.policy,
                                infos=reads.infos, tokens=reads.tokens)
    except StoreUnavailable:
        return outage("Model store unavailable", "The model store is unreachable; retry later.")
    key = steps.kept_answer_key(pid, horizon, info) if info is not None else None
    # The answer as sent before for the same key: its points, warnings and model summary cannot
    # have changed (see kept_answer_key), and it saves their reads and their encoding.
    body = reads.answers.get(key, None) if key is not None else None
    if body is None:
        kept = steps.kept_for_info(engine=svc.engine, memo=reads.memo, product_id=pid, horizon=horizon, info=info)
        if kept.forecast is None:
            post = url_for("forecast.create_forecast")
            detail = (f"The saved forecast of product {pid} covers fewer than the {horizon} days asked for; "
                      f"POST {post} computes them." if kept.fresh else
                      f"Product {pid} has no fresh model set, so no saved forecast answers; POST {post} trains it "
                      "and forecasts.")
            raise ApiError(404, "No fresh saved forecast", detail, fresh=kept.fresh)
        # orjson: this is the hot path of the service, and Flask's encoder took 0.5 ms of it for 90
        # points against orjson's 0.14 ms (under cProfile, same answer).
        body = orjson.dumps(steps.forecast_result(pid, horizon, kept.forecast))
        if key is not None:
            reads.answers.put(key, body)
    metrics.forecast_served("saved")
    return Response(body, mimetype="application/json")


def _kept(svc: Services, product_id: int, horizon: int, params: dict[str, int]) -> steps.Kept:
    reads = _reads(svc)
    # A request the saved forecast cannot answer (options) needs only freshness, for its queue.
    return steps.kept_forecast(engine=svc.engine, store=svc.store, memo=reads.memo, product_id=product_id,
                               horizon=horizon, policy=reads.policy, infos=reads.infos,
                               read_forecast=saved_forecasts.answers(params))


class _Reads:
    """What this API process keeps to answer saved forecasts: the policy, the model_info.json files
    it verified, the forecasts it read and the answers it encoded (each keyed by what makes it
    exact, so never stale), and the sales tokens it read moments ago."""

    def __init__(self, svc: Services) -> None:
        self.policy = steps.Policy.from_settings(svc.settings)
        self.memo = ForecastMemo(svc.settings.forecast_memo_size)
        self.infos = TrustedInfos()
        self.answers = Lru(svc.settings.saved_answer_memo_size)
        self.tokens = RecentTokens(svc.settings.saved_forecast_token_ttl_ms / 1000)
        # Whatever this process commits (sales, calendar, a deleted product) is seen by the next read.
        event.listen(svc.engine, "commit", lambda conn: self.tokens.clear())


def _reads(svc: Services) -> _Reads:
    reads = current_app.extensions.get("saved_forecast_reads")
    if reads is None:
        reads = current_app.extensions["saved_forecast_reads"] = _Reads(svc)
    return reads
