"""Trained model sets: list, inspect, delete, retrain."""

from __future__ import annotations

from flask import Blueprint, request, url_for

from api.errors import ApiError, ValidationError
from api.services import services
from api.validation import json_object, no_unknown_fields, path_id, positive_int, query_int
from forecasting.data.products import MAX_PRODUCT_ID, get_product, known_product_ids
from forecasting.errors import ModelSetNotFound, UntrustedModelSet
from forecasting.lifecycle import saved_forecasts
from forecasting.lifecycle.training_runs import list_runs
from jobs.dispatch import queue_training, submit

bp = Blueprint("models", __name__)


@bp.get("/models")
def list_models():
    """List every product that has a stored model set."""
    infos = services().store.list_infos()
    return {"count": len(infos), "models": infos}


@bp.post("/models/retrain")
def retrain_many():
    """Queue a bulk retrain: {"product_ids": [...]}, {"all": true} or {"only_stale": true}."""
    svc = services()
    body = json_object(request)
    no_unknown_fields(body, {"product_ids", "all", "only_stale", "force"})
    chosen = [name for name in ("product_ids", "all", "only_stale") if name in body]
    if len(chosen) != 1:
        raise ValidationError("Give exactly one of 'product_ids', 'all' or 'only_stale'.")
    params: dict = {"force": body.get("force", "only_stale" not in body)}
    if not isinstance(params["force"], bool):
        raise ValidationError("'force' must be true or false.", "force")
    if "product_ids" in body:
        params.update(selection="ids", product_ids=_product_ids(body["product_ids"], svc))
    else:
        if body[chosen[0]] is not True:
            raise ValidationError(f"'{chosen[0]}' must be true.", chosen[0])
        params["selection"] = "all" if "all" in body else "stale"
    job = submit(svc.engine, svc.celery, kind="batch", product_id=None, params=params)
    location = url_for("jobs.get_job", job_id=job["id"])
    return {"job_id": job["id"], "status": job["status"], "selection": params["selection"],
            "links": {"self": location}}, 202, {"Location": location}


def _product_ids(value, svc) -> list[int]:
    limit = svc.settings.max_batch_products
    if not isinstance(value, list) or not value:
        raise ValidationError("'product_ids' must be a non-empty array of product ids.", "product_ids")
    if len(value) > limit:
        raise ValidationError(f"'product_ids' may hold at most {limit} ids, got {len(value)}.", "product_ids")
    ids = [positive_int({"product_ids[]": v}, "product_ids[]", maximum=MAX_PRODUCT_ID) for v in value]
    if len(set(ids)) != len(ids):
        raise ValidationError("'product_ids' lists a product more than once.", "product_ids")
    unknown = sorted(set(ids) - known_product_ids(svc.engine, product_ids=ids))
    if unknown:
        shown = ", ".join(map(str, unknown[:10])) + (" ..." if len(unknown) > 10 else "")
        raise ApiError(404, "Product not found", f"{len(unknown)} product(s) do not exist: {shown}.")
    return ids


@bp.get("/models/<product_id>/history")
def history(product_id: str):
    """Return the product's training runs, newest first (?limit=)."""
    svc = services()
    pid = path_id(product_id)
    get_product(svc.engine, product_id=pid)
    runs = list_runs(svc.engine, product_id=pid, limit=query_int(request, "limit", default=50, minimum=1,
                                                                   maximum=1000))
    return {"product_id": pid, "count": len(runs), "runs": runs}


@bp.get("/models/<product_id>")
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
def delete_model(product_id: str):
    """Remove the product's model set; the next forecast trains a new one."""
    svc, pid = services(), path_id(product_id)
    if not svc.store.delete(pid):
        raise ModelSetNotFound(pid)
    saved_forecasts.discard(svc.engine, product_id=pid)
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
