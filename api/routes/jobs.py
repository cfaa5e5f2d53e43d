"""GET /jobs/<id>: status, progress and result of a job, at once or once it ended."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for

from api.services import Services, services
from api.validation import query_int
from jobs import records

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


def job_resource(svc: Services, job: dict[str, Any]) -> dict[str, Any]:
    """Return the JSON body that shows `job`."""
    error_code, error = records.split_error(job["error"])
    body = {
        "id": job["id"], "kind": job["kind"], "status": job["status"], "product_id": job["product_id"],
        "progress": {"percent": job["progress"], "stage": job["stage"]},
        "params": job["params"], "attempts": job["attempts"],
        "created_at": job["created_at"], "started_at": job["started_at"], "finished_at": job["finished_at"],
        "result": job["result"], "error": error, "error_code": error_code,
        "links": {"self": url_for("jobs.get_job", job_id=job["id"])},
    }
    if job["kind"] == "batch":
        body["counts"] = records.batch_counts(svc.engine, job)
        body["failures"] = [_failure(f) for f in records.list_children_failed(svc.engine, parent_id=job["id"])]
    return body


def _failure(child: dict[str, Any]) -> dict[str, Any]:
    code, message = records.split_error(child["error"])
    return {"product_id": child["product_id"], "error": message, "error_code": code, "job_id": child["id"]}
