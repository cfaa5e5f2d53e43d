"""GET /jobs/<id>/result: the forecasts of an ended forecast job or bulk forecast, as JSON, CSV or JSON Lines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, request, stream_with_context, url_for

from api import exports
from api.errors import ApiError
from api.openapi import operation
from api.schemas.forecast import ForecastExport
from api.services import Services, services
from jobs import records
from jobs.results import forecast_results

bp = Blueprint("job_results", __name__)


@bp.get("/jobs/<job_id>/result")
@operation(responses={200: ForecastExport}, errors=(404, 406, 409),
           media={200: "|".join(exports.MEDIA_TYPES)},
           headers={200: {"Vary": {"schema": {"type": "string"}},
                          "Content-Disposition": {"description": "CSV and JSON Lines: a file named after the job",
                                                  "schema": {"type": "string"}}}})
def get_result(job_id: str) -> Response:
    """Stream the job's forecasts in the format the Accept header asks for (JSON when it takes any).

    406 for an Accept none of them meets; 404 for an unknown job or one that is no forecast;
    409 while the job has not ended, and for a single forecast that ended without a result.
    A bulk forecast that ended failed or cancelled gives the forecasts its products did get.
    """
    media_type = _negotiate()
    svc = services()
    job = records.get_job(svc.engine, job_id=job_id)
    if not (job["kind"] == "forecast" or (job["kind"] == "batch" and job["params"].get("action") == "forecast")):
        raise ApiError(404, "No forecast result", f"Job {job['id']} is a {_described(job)}; only forecast jobs "
                                                  "and bulk forecasts have a result to export.")
    if job["status"] not in records.TERMINAL:
        raise ApiError(409, "Job not ended", f"Job {job['id']} is {job['status']}; its result can be read once it "
                       f"has ended: wait for it with GET {url_for('jobs.get_job', job_id=job['id'])}?wait=30.",
                       job_status=job["status"])
    head = {"job_id": job["id"], "kind": job["kind"], "status": job["status"],
            "forecast_horizon": job["params"]["horizon"]}
    if job["kind"] == "batch":
        head["counts"] = records.batch_counts(svc.engine, job)
    body: Iterator[str] = exports.render(media_type, head, _results(svc, job))
    headers = {"Vary": "Accept"}
    if media_type != exports.JSON:
        # A file to save: `curl -OJ` and browsers name it after the job.
        headers["Content-Disposition"] = f'attachment; filename="forecast-{job["id"]}.{exports.SUFFIXES[media_type]}"'
    mimetype = media_type + ("; charset=utf-8" if media_type == exports.CSV else "")
    return Response(stream_with_context(body), mimetype=mimetype, headers=headers)


def _results(svc: Services, job: dict[str, Any]) -> exports.Chunks:
    if job["kind"] == "batch":
        return forecast_results(svc.engine, parent_id=job["id"], chunk=svc.settings.export_chunk_products)
    if job["status"] != "succeeded":
        raise ApiError(409, "Job has no result", f"Job {job['id']} ended {job['status']} and has no forecast; "
                       f"GET {url_for('jobs.get_job', job_id=job['id'])} shows why.", job_status=job["status"])
    return [[json.dumps(job["result"])]]


def _negotiate() -> str:
    if not request.headers.get("Accept", "").strip():
        return exports.JSON
    chosen = request.accept_mimetypes.best_match(exports.MEDIA_TYPES)
    if chosen is None:
        raise ApiError(406, "Not acceptable", f"A forecast result is available as {', '.join(exports.MEDIA_TYPES)}; "
                       f"the Accept header asks for {request.headers['Accept'][:100]!r}.",
                       available=list(exports.MEDIA_TYPES))
    return chosen


def _described(job: dict[str, Any]) -> str:
    return {"batch": "bulk retrain", "train": "training job"}.get(job["kind"], f"{job['kind']} job")
