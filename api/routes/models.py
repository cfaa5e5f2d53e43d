"""Trained model sets: list, inspect, delete, retrain."""

from __future__ import annotations

from flask import Blueprint, request, url_for

from api.errors import ApiError
from api.openapi import JOB_LINKS, LOCATION, RETRY_AFTER, operation
from api.paging import page
from api.routes.jobs import accepted_headers
from api.schemas.common import Paging
from api.schemas.models import (
    BatchAccepted,
    HistoryQuery,
    ModelInfo,
    ModelPage,
    RetrainMany,
    RetrainOne,
    TrainingAccepted,
    TrainingHistory,
)
from api.services import services
from api.validation import path_id, unknown_products
from forecasting.data.products import get_product
from forecasting.errors import ModelSetNotFound, UntrustedModelSet
from forecasting.lifecycle import saved_forecasts
from forecasting.lifecycle.training_runs import list_runs
from jobs.dispatch import queue_training, submit

bp = Blueprint("models", __name__)

ACCEPTED_HEADERS = {202: {"Location": LOCATION, "Retry-After": RETRY_AFTER}}


@bp.get("/models")
@operation(query=Paging, responses={200: ModelPage})
def list_models():
    """List the products that have a stored model set, in product id order, a page at a time."""
    asked: Paging = request.context.query
    # The store lists every set in one pass (a folder listing or one S3 listing); a page is a slice of it.
    infos = services().store.list_infos()
    return page("models", infos[asked.offset:asked.offset + asked.limit], total=len(infos), limit=asked.limit,
                offset=asked.offset)


@bp.post("/models/retrain")
@operation(body=RetrainMany, responses={202: BatchAccepted}, errors=(404,), headers=ACCEPTED_HEADERS,
           links={202: JOB_LINKS})
def retrain_many():
    """Queue a bulk retrain: {"product_ids": [...]}, {"all": true} or {"only_stale": true}; one batch job."""
    svc = services()
    asked: RetrainMany = request.context.json
    params: dict = {"force": asked.force}
    if asked.product_ids is not None:
        count, shown = unknown_products(svc.engine, asked.product_ids)
        if count:
            raise ApiError(404, "Product not found", f"{count} product(s) do not exist: {shown}.")
        params.update(selection="ids", product_ids=asked.product_ids)
    else:
        params["selection"] = "all" if asked.all else "stale"
    job = submit(svc.engine, svc.celery, kind="batch", product_id=None, params=params)
    location = url_for("jobs.get_job", job_id=job["id"])
    return ({"job_id": job["id"], "status": job["status"], "selection": params["selection"],
             "links": {"self": location}}, 202, accepted_headers(svc, location))


@bp.get("/models/<product_id>/history")
@operation(query=HistoryQuery, responses={200: TrainingHistory}, errors=(404,))
def history(product_id: str):
    """Return the product's training runs, newest first (?limit=)."""
    svc = services()
    pid = path_id(product_id)
    get_product(svc.engine, product_id=pid)
    runs = list_runs(svc.engine, product_id=pid, limit=request.context.query.limit)
    return {"product_id": pid, "count": len(runs), "runs": runs}


@bp.get("/models/<product_id>")
@operation(responses={200: ModelInfo}, errors=(404,))
def get_model(product_id: str):
    """Return the product's model_info.json, and whether its signature verifies."""
    pid = path_id(product_id)
    inspected = services().store.inspect(pid)
    if inspected is None:
        raise ModelSetNotFound(pid)
    info, problem = inspected
    # Shown as found, so an operator can see what was planted; it is never loaded.
    untrusted = None if problem is None else str(UntrustedModelSet(pid, problem))
    return {**info, "trusted": problem is None, "untrusted_reason": untrusted}


@bp.delete("/models/<product_id>")
@operation(responses={204: None}, errors=(404,))
def delete_model(product_id: str):
    """Remove the product's model set; the next forecast trains a new one."""
    svc, pid = services(), path_id(product_id)
    if not svc.store.delete(pid):
        raise ModelSetNotFound(pid)
    saved_forecasts.discard(svc.engine, product_id=pid)
    return "", 204


@bp.post("/models/<product_id>/retrain")
@operation(body=RetrainOne, body_optional=True, responses={202: TrainingAccepted}, errors=(404, 409),
           headers=ACCEPTED_HEADERS, links={202: JOB_LINKS})
def retrain_model(product_id: str):
    """Queue a retraining of one product (forced unless {"force": false}); the body is optional."""
    svc = services()
    pid = path_id(product_id)
    force = request.context.json.force
    get_product(svc.engine, product_id=pid)
    job, created = queue_training(svc.engine, svc.celery, svc.redis, product_id=pid,
                                  params={"reason": "requested", "force": force, "source": "api"},
                                  expire=svc.settings.training_lock_seconds)
    if job is None:
        raise ApiError(409, "Training already queued", f"A training of product {pid} is being queued; retry shortly.")
    location = url_for("jobs.get_job", job_id=job["id"])
    body = {"job_id": job["id"], "status": job["status"], "product_id": pid, "created": created,
            "links": {"self": location}}
    return body, 202, accepted_headers(svc, location)
