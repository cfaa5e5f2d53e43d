"""Trained model sets: list, inspect, delete, retrain."""

from __future__ import annotations

from flask import Blueprint, request, url_for

from api.errors import ApiError, ValidationError
from api.services import services
from api.validation import json_object, no_unknown_fields, path_id
from forecasting.errors import ModelSetNotFound
from forecasting.sales import get_product
from workers.dispatch import queue_training

bp = Blueprint("models", __name__)


@bp.get("/models")
def list_models():
    """List every product that has a stored model set."""
    infos = services().store.list_infos()
    return {"count": len(infos), "models": infos}


@bp.get("/models/<product_id>")
def get_model(product_id: str):
    """Return the product's model_info.json."""
    pid = path_id(product_id)
    info = services().store.read_info(pid)
    if info is None:
        raise ModelSetNotFound(pid)
    return info


@bp.delete("/models/<product_id>")
def delete_model(product_id: str):
    """Remove the product's model set; the next forecast trains a new one."""
    pid = path_id(product_id)
    if not services().store.delete(pid):
        raise ModelSetNotFound(pid)
    return "", 204


@bp.post("/models/<product_id>/retrain")
def retrain_model(product_id: str):
    """Queue a retraining of one product (forced unless {"force": false})."""
    svc = services()
    pid = path_id(product_id)
    force = _force(request)
    get_product(svc.engine, product_id=pid)
    job, created = queue_training(svc.engine, svc.celery, svc.redis, product_id=pid,
                                  params={"reason": "requested", "force": force, "source": "api"},
                                  expire=svc.settings.training_lock_seconds)
    if job is None:
        raise ApiError(409, "Training already queued", f"A training of product {pid} is being queued; retry shortly.")
    location = url_for("jobs.get_job", job_id=job["id"])
    body = {"job_id": job["id"], "status": job["status"], "product_id": pid, "created": created,
            "links": {"self": location}}
    return body, 202, {"Location": location}


def _force(req) -> bool:
    if not req.get_data(cache=True):
        return True
    body = json_object(req)
    no_unknown_fields(body, {"force"})
    force = body.get("force", True)
    if not isinstance(force, bool):
        raise ValidationError("'force' must be true or false.", "force")
    return force
