"""Every error leaves the API as application/problem+json, mapped in one place."""

from __future__ import annotations

import errno
import logging

from flask import Flask, Response, current_app, json, request
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from api.keys import KeyExists, KeyNotFound, KeyRefused
from api.problems import problem_type
from forecasting.errors import (
    ForecastingError,
    InsufficientHistory,
    InvalidCalendarData,
    InvalidProductData,
    InvalidSalesData,
    ModelSetNotFound,
    ProductExists,
    ProductNotFound,
)
from jobs.dispatch import BrokerUnavailable
from jobs.records import JobNotFound

log = logging.getLogger(__name__)



class ApiError(Exception):
    """An error the API answers with a status and a sentence saying what is wrong."""

    def __init__(self, status: int, title: str, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


class ValidationError(ApiError):
    """The request body or parameters are invalid (422)."""

    def __init__(self, detail: str, field: str | None = None) -> None:
        super().__init__(422, "Invalid request", detail, **({"field": field} if field else {}))


DOMAIN_STATUS: dict[type[Exception], tuple[int, str]] = {
    ProductNotFound: (404, "Product not found"),
    JobNotFound: (404, "Job not found"),
    ModelSetNotFound: (404, "Model set not found"),
    InsufficientHistory: (422, "Not enough sales history"),
    ProductExists: (409, "Product exists"),  # before InvalidSalesData, its base
    InvalidCalendarData: (422, "Invalid calendar data"),  # before InvalidSalesData, its base
    InvalidProductData: (422, "Invalid product data"),  # before InvalidSalesData, its base
    InvalidSalesData: (422, "Invalid sales data"),
}


def problem(status: int, title: str, detail: str, **extra: object) -> Response:
    """Return an RFC 9457 problem response."""
    body = {"type": problem_type(title), "title": title, "status": status, "detail": detail, **extra}
    return Response(json.dumps(body), status=status, mimetype="application/problem+json")


def outage(title: str, detail: str) -> Response:
    """Return a 503 problem with Retry-After: a part the service needs is down, not the request at fault."""
    response = problem(503, title, detail)
    response.headers["Retry-After"] = str(current_app.config["OUTAGE_RETRY_AFTER_SECONDS"])
    return response


def init_app(app: Flask) -> None:
    """Register the handlers that turn exceptions into problem responses."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return problem(exc.status, exc.title, exc.detail, **exc.extra)

    @app.errorhandler(ForecastingError)
    @app.errorhandler(JobNotFound)
    def _domain_error(exc: Exception) -> Response:
        known = next((value for kind, value in DOMAIN_STATUS.items() if isinstance(exc, kind)), None)
        if known is None:
            # Only the mapped errors are written for clients; another may name a path.
            return _unexpected(exc)
        field = getattr(exc, "field", None)
        return problem(*known, str(exc), **({"field": field} if field else {}))

    @app.errorhandler(KeyRefused)
    def _key_refused(exc: KeyRefused) -> Response:
        if isinstance(exc, KeyNotFound):
            return problem(404, "Key not found", str(exc))
        if isinstance(exc, KeyExists):
            return problem(409, "Key exists", str(exc))
        return problem(422, "Invalid request", str(exc))

    @app.errorhandler(BrokerUnavailable)
    def _broker_down(exc: BrokerUnavailable) -> Response:
        return outage("Broker unavailable", "The job queue is unreachable; nothing was queued. Retry later.")

    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError) -> Response:
        # Only a lost or refused connection (or a locked SQLite file) is an outage; any other
        # driver error is a fault of ours, answered as one.
        if not (isinstance(exc, (OperationalError, InterfaceError)) or exc.connection_invalidated):
            return _unexpected(exc)
        log.error("database unavailable", extra={"fields": {"path": request.path, "error": str(exc.orig)}})
        return outage("Database unavailable", "The database is unreachable or busy; retry later.")

    @app.errorhandler(RedisConnectionError)
    @app.errorhandler(RedisTimeoutError)
    def _redis_down(exc: Exception) -> Response:
        log.error("redis unavailable", extra={"fields": {"path": request.path, "error": str(exc)}})
        return outage("Redis unavailable", "Redis (job queue, locks and job events) is unreachable; "
                                           "nothing was queued. Retry later.")

    @app.errorhandler(OSError)
    def _volume_error(exc: OSError) -> Response:
        # A full or read-only model volume is an outage of that volume, not a fault of the request.
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            return _unexpected(exc)
        log.error("model volume unavailable", extra={"fields": {"path": request.path, "error": str(exc)}})
        return outage("Model volume unavailable", "The model volume is full or read-only; nothing was changed. "
                                                  "Retry later.")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        response = problem(exc.code or 500, exc.name, exc.description or exc.name)
        # Werkzeug's own headers (Allow of a 405, WWW-Authenticate, Retry-After) stay on the problem.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # The text of an unexpected error (paths, hosts, driver messages) stays in the log.
        log.error("unhandled error", exc_info=exc,
                  extra={"fields": {"method": request.method, "path": request.path}})
        return problem(500, "Internal server error", "The server failed to handle the request; it was logged.")
