"""GET /jobs/<id>: status, progress and result of a job."""

from __future__ import annotations

from flask import Blueprint, url_for

from api.services import services
from forecasting import jobs

bp = Blueprint("jobs", __name__)


@bp.get("/jobs/<job_id>")
def get_job(job_id: str):
    """Return the job as recorded; an unknown id is a 404."""
    svc = services()
    job = jobs.get_job(svc.engine, job_id=job_id)
    body = {
        "id": job["id"], "kind": job["kind"], "status": job["status"], "product_id": job["product_id"],
        "progress": {"percent": job["progress"], "stage": job["stage"]},
        "params": job["params"], "attempts": job["attempts"],
        "created_at": job["created_at"], "started_at": job["started_at"], "finished_at": job["finished_at"],
        "result": job["result"], "error": job["error"],
        "links": {"self": url_for("jobs.get_job", job_id=job["id"])},
    }
    if job["kind"] == "batch":
        body["counts"] = jobs.batch_counts(svc.engine, job)
        body["failures"] = [{"product_id": f["product_id"], "error": f["error"], "job_id": f["id"]}
                            for f in jobs.list_children_failed(svc.engine, parent_id=job["id"])]
    return body
