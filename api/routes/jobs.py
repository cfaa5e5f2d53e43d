"""Jobs: list them, show one (at once or once it ended), cancel one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for

from api.errors import ApiError, ValidationError
from api.services import Services, services
from api.validation import query_int
from forecasting.data.products import MAX_PRODUCT_ID
from jobs import control, records

bp = Blueprint("jobs", __name__)


@bp.get("/jobs/<job_id>")
def get_job(job_id: str):
    """Return the job as recorded; with ``?wait=N``, once it ended or N seconds passed. Unknown id: 404."""
    svc = services()
    wait = query_int(request, "wait", default=0, minimum=0, maximum=svc.settings.max_job_wait_seconds)
    if not wait:
        return job_resource(svc, records.get_job(svc.engine, job_id=job_id))
    with svc.job_ends.listening(job_id) as ended:
        job = records.get_job(svc.engine, job_id=job_id)
        if job["status"] not in records.TERMINAL and ended(wait):
            job = records.get_job(svc.engine, job_id=job_id)
    return job_resource(svc, job)


@bp.get("/jobs")
def list_all():
    """List jobs newest first, filtered by ?status=&kind=&product_id=&parent_id=, a page at a time (?limit=&offset=)."""
    svc = services()
    filters = {"status": _choice("status", records.STATUSES), "kind": _choice("kind", sorted(records.KINDS))}
    if request.args.get("product_id") is not None:
        filters["product_id"] = query_int(request, "product_id", default=0, minimum=1, maximum=MAX_PRODUCT_ID)
    if request.args.get("parent_id") is not None:
        filters["parent_id"] = records.get_job(svc.engine, job_id=request.args["parent_id"])["id"]
    limit = query_int(request, "limit", default=100, minimum=1, maximum=1000)
    offset = query_int(request, "offset", default=0, minimum=0)
    page, total = control.list_jobs(svc.engine, limit=limit, offset=offset, **filters)
    body = {"total": total, "count": len(page), "limit": limit, "offset": offset,
            "jobs": [job_resource(svc, job) for job in page], "links": {}}
    if offset + len(page) < total:
        args = {**request.args.to_dict(), "limit": limit, "offset": offset + limit}
        body["links"]["next"] = url_for("jobs.list_all", **args)
    return body


def _choice(name: str, allowed) -> str | None:
    value = request.args.get(name)
    if value is not None and value not in allowed:
        raise ValidationError(f"'{name}' must be one of {', '.join(allowed)}; got {value[:40]!r}.", name)
    return value


@bp.delete("/jobs/<job_id>")
def cancel(job_id: str):
    """Cancel a queued or running job (a batch with its children); 409 when it has already ended."""
    svc = services()
    job, cancelled = control.cancel_job(svc.engine, job_id=job_id)
    if not cancelled:
        raise ApiError(409, "Job already ended", f"Job {job['id']} ended as {job['status']}; nothing to cancel.",
                       job_status=job["status"])
    control.release(svc.redis, cancelled)
    return job_resource(svc, records.get_job(svc.engine, job_id=job["id"]))


def job_resource(svc: Services, job: dict[str, Any]) -> dict[str, Any]:
    """Return the JSON body that shows `job`."""
    error_code, error = records.split_error(job["error"])
    body = {
        "id": job["id"], "kind": job["kind"], "status": job["status"], "product_id": job["product_id"],
        "progress": {"percent": job["progress"], "stage": job["stage"]},
        "params": job["params"], "attempts": job["attempts"],
        "created_at": job["created_at"], "started_at": job["started_at"], "finished_at": job["finished_at"],
        "result": job["result"], "error": error, "error_code": error_code,
        "parent_id": job["parent_id"], "links": {"self": url_for("jobs.get_job", job_id=job["id"])},
    }
    if job["kind"] == "forecast" or job["params"].get("action") == "forecast":
        body["links"]["result"] = url_for("job_results.get_result", job_id=job["id"])
    if job["kind"] == "batch":
        body["counts"] = records.batch_counts(svc.engine, job)
        body["failures"] = [_failure(f) for f in records.list_children_failed(svc.engine, parent_id=job["id"])]
    return body


def _failure(child: dict[str, Any]) -> dict[str, Any]:
    code, message = records.split_error(child["error"])
    return {"product_id": child["product_id"], "error": message, "error_code": code, "job_id": child["id"]}
