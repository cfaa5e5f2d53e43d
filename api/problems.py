"""Every problem type the API answers with: its title, status and what it means.

A problem's `type` is a link into the documentation served by the service itself
(`/api/v1/docs/problems#<slug>`), which lists this catalogue; a title not listed here gets
`about:blank` (RFC 9457: the status says it all).
"""

from __future__ import annotations

DOCS_PATH = "/api/v1/docs/problems"

#: title -> (status, what it means and what to do).
PROBLEMS: dict[str, tuple[int, str]] = {
    "Malformed request": (400, "The body is empty, is not valid JSON, is not the JSON value the endpoint "
                               "takes (an object), or nests deeper than MAX_JSON_DEPTH. Send valid JSON."),
    "Bad Request": (400, "The request could not be read."),
    "Unauthorized": (401, "No API key was sent, or it is unknown or revoked. Send "
                          "'Authorization: Bearer <key>'."),
    "Forbidden": (403, "The key's scope is below what the endpoint needs (read < write < admin); "
                       "`required_scope` names it."),
    "Not Found": (404, "No such path."),
    "Product not found": (404, "No product has that id (a path id written with leading zeros or above "
                               "2147483647 names none either)."),
    "Job not found": (404, "No job has that id."),
    "Model set not found": (404, "The product has no stored model set: forecast or retrain it first."),
    "Saved forecast not found": (404, "The product's model set has no saved forecast to draw yet."),
    "No fresh saved forecast": (404, "The product has no fresh model set, or its saved forecast covers fewer days "
                                     "than asked (`fresh` says which): POST /api/v1/forecast trains or computes it."),
    "No forecast result": (404, "The job is no forecast job or bulk forecast, so it has no forecasts to export."),
    "Key not found": (404, "No API key has that id or name."),
    "Method Not Allowed": (405, "The path does not take this method; the `Allow` header lists those it takes."),
    "Not acceptable": (406, "The `Accept` header takes none of the media types the resource is available as; "
                            "`available` lists them (a forecast result: JSON, CSV, JSON Lines)."),
    "Job already ended": (409, "The job ended before it could be cancelled; `job_status` says how."),
    "Job not ended": (409, "The job is still queued or running; read its result once it has ended "
                           "(GET /api/v1/jobs/{job_id}?wait=30 waits for that). `job_status` says where it is."),
    "Job has no result": (409, "The forecast job ended failed, skipped or cancelled and has no forecast; "
                               "GET /api/v1/jobs/{job_id} shows why."),
    "Training already queued": (409, "A training of the product is being queued by another request; retry shortly."),
    "Product exists": (409, "The product id or key asked for is taken by another product."),
    "Key exists": (409, "An API key with that name exists already (revoked keys keep their names)."),
    "Request Entity Too Large": (413, "The body is larger than MAX_CONTENT_LENGTH (10 MB by default)."),
    "Unsupported media type": (415, "The body is not sent as JSON: send 'Content-Type: application/json'."),
    "Invalid request": (422, "A field or parameter is invalid; `detail` names it and the problem, "
                             "`field` names the field when there is one."),
    "Not enough sales history": (422, "The product has fewer days of sales than MIN_TRAINING_SAMPLES."),
    "Invalid sales data": (422, "A sales row cannot be stored; `detail` names the row and the problem. "
                                "Nothing was written."),
    "Invalid product data": (422, "A product's name, key, id, country or subdivision cannot be stored; `detail` "
                                  "names the problem, `field` the field. Nothing was changed."),
    "Invalid calendar data": (422, "A calendar row cannot be stored; `detail` names the row and the problem. "
                                   "Nothing was written."),
    "Internal server error": (500, "A fault of the service, logged with the request; the answer names nothing more."),
    "Database unavailable": (503, "The database refuses connections or is locked; retry after `Retry-After` s."),
    "Redis unavailable": (503, "Redis (job queue, locks, job events) is unreachable; nothing was queued."),
    "Model store unavailable": (503, "The model store (files or S3) is unreachable; retry after `Retry-After` s."),
    "Model volume unavailable": (503, "The model volume is full or read-only; nothing was changed; retry later."),
    "Broker unavailable": (503, "The job queue is unreachable; nothing was queued."),
}


def slug(title: str) -> str:
    """Return the anchor of a problem title: 'Product not found' -> 'product-not-found'."""
    return title.lower().replace(" ", "-")


def problem_type(title: str) -> str:
    """Return the `type` URI of a problem title: its entry in the docs, or about:blank when it has none."""
    return f"{DOCS_PATH}#{slug(title)}" if title in PROBLEMS else "about:blank"
