"""Jobs: list them, show one (at once or once it ended), cancel one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for

from api.errors import ApiError
from api.openapi import RETRY_AFTER, operation
from api.paging import page
from api.schemas.jobs import Job, JobFilters, JobPage, JobWait
from api.services import Services, services
from jobs import control, records

bp = Blueprint("jobs", __name__)


@bp.get("/jobs/<job_id>")
@operation(query=JobWait, responses={200: Job}, errors=(404,), headers={200: {"Retry-After": RETRY_AFTER}})
def get_job(job_id: str):
    """Return the job as recorded; with ``?wait=N``, once it ended or N seconds passed.

    A job still queued or running carries `Retry-After`: when to ask again. Unknown id: 404.
    """
    svc = services()
    wait = request.context.query.wait
    if not wait:
        return _shown(svc, records.get_job(svc.engine, job_id=job_id))
    with svc.job_ends.listening(job_id) as ended:
        job = records.get_job(svc.engine, job_id=job_id)
        if job["status"] not in records.TERMINAL and ended(wait):
            job = records.get_job(svc.engine, job_id=job_id)
    return _shown(svc, job)


@bp.get("/jobs")
@operation(query=JobFilters, responses={200: JobPage}, errors=(404,))
def list_all():
    """List jobs newest first, filtered by ?status=&kind=&product_id=&parent_id=, a page at a time."""
    svc = services()
    asked: JobFilters = request.context.query
    filters = {name: getattr(asked, name) for name in ("status", "kind", "product_id") if getattr(asked, name)}
    if asked.parent_id is not None:
        filters["parent_id"] = records.get_job(svc.engine, job_id=asked.parent_id)["id"]
    jobs, total = control.list_jobs(svc.engine, limit=asked.limit, offset=asked.offset, **filters)
    return page("jobs", [job_resource(svc, job) for job in jobs], total=total, limit=asked.limit,
                offset=asked.offset)


@bp.delete("/jobs/<job_id>")
@operation(responses={200: Job}, errors=(404, 409))
def cancel(job_id: str):
    """Cancel a queued or running job (a batch with its children); 409 when it has already ended."""
    svc = services()
    job, cancelled = control.cancel_job(svc.engine, job_id=job_id)
    if not cancelled:
        raise ApiError(409, "Job already ended", f"Job {job['id']} ended as {job['status']}; nothing to cancel.",
                       job_status=job["status"])
    control.release(svc.redis, cancelled)
    return job_resource(svc, records.get_job(svc.engine, job_id=job["id"]))


def _shown(svc: Services, job: dict[str, Any]):
    headers = {} if job["status"] in records.TERMINAL else {"Retry-After": str(svc.settings.job_retry_after_seconds)}
    return job_resource(svc, job), 200, headers


def accepted_headers(svc: Services, location: str) -> dict[str, str]:
    """Return the headers of a 202: where the job is, and when to look."""
    return {"Location": location, "Retry-After": str(svc.settings.job_retry_after_seconds)}


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
