"""Who may do what: every request's API key is checked here, against one table of endpoint scopes."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, Request, Response, current_app, g, request
from sqlalchemy.engine import Engine

from api import keys
from api.errors import problem
from config.settings import Settings, insecure_settings

log = logging.getLogger(__name__)

OPEN = None
REALM = "forecasting"


def _bulk_retrain_scope(req: Request) -> str:
    # Retraining every (or every stale) product is a fleet-wide action; a list of ids is not.
    # Only a body that is plainly a list of ids needs less than admin, whatever it is declared as;
    # the view reads it again (and refuses what is not JSON) from Flask's cache.
    try:
        body = req.get_json(force=True, silent=True)
    except RecursionError:
        body = None  # nested too deep to be a list of ids; the view answers why with a 400
    ids_only = isinstance(body, dict) and "product_ids" in body and not {"all", "only_stale"} & body.keys()
    return "write" if ids_only else "admin"


# (method, endpoint) -> the scope it needs: a name, a function of the request, or OPEN.
# A route missing here needs admin (tests/api/test_auth.py checks every route is listed).
ENDPOINT_SCOPES: dict[tuple[str, str], str | Callable[[Request], str] | None] = {
    ("GET", "health.health"): OPEN,
    ("GET", "jobs.get_job"): "read",
    ("GET", "jobs.list_all"): "read",
    ("DELETE", "jobs.cancel"): "write",
    ("DELETE", "products.delete_sales_range"): "write",  # a data correction, as an upsert of sales is
    ("DELETE", "products.delete_one"): "admin",
    ("GET", "models.list_models"): "read",
    ("GET", "models.get_model"): "read",
    ("GET", "models.history"): "read",
    ("GET", "products.list_all"): "read",
    ("GET", "products.get_one"): "read",
    ("GET", "products.get_sales"): "read",
    ("POST", "forecast.create_forecast"): "write",
    ("GET", "forecast.saved_forecast"): "read",
    ("POST", "products.create"): "write",
    ("POST", "products.put_sales"): "write",
    ("POST", "models.retrain_model"): "write",
    ("POST", "models.retrain_many"): _bulk_retrain_scope,
    # Forecasting a list of products is what `write` does for one; forecasting every product
    # (training each whose set is missing) is fleet-wide, as retraining all is.
    ("POST", "bulk_forecasts.create"): _bulk_retrain_scope,
    ("GET", "job_results.get_result"): "read",
    ("DELETE", "models.delete_model"): "admin",
    ("PATCH", "products.patch_one"): "write",
    ("GET", "calendar.get_calendar"): "read",
    ("PUT", "calendar.put_calendar"): "write",
    ("DELETE", "calendar.delete_range"): "write",  # a data correction, as an upsert of sales is
    ("GET", "charts.forecast_chart"): "read",
    # The dashboard's pages and its jobs feed show what GET endpoints show; a browser sends the
    # key as the password of HTTP Basic authentication (see _token).
    ("GET", "dashboard.index"): "read",
    ("GET", "dashboard.product"): "read",
    ("GET", "dashboard.jobs"): "read",
    # Stylesheets and scripts hold no data.
    ("GET", "dashboard.static"): OPEN,
    ("GET", "metrics.scrape"): "read",
    # The API's description holds no data.
    ("GET", "docs.openapi"): OPEN,
    ("GET", "docs.swagger"): OPEN,
    ("GET", "docs.asset"): OPEN,
    ("GET", "docs.problems"): OPEN,
    ("GET", "keys.list_all"): "admin",
    ("POST", "keys.create"): "admin",
    ("DELETE", "keys.revoke"): "admin",
}


class InsecureConfiguration(RuntimeError):
    """The service is set up for production with a setting that is not safe there."""


def init_app(app: Flask, settings: Settings, engine: Engine) -> None:
    """Refuse an unsafe production set-up, log when keys are off, and check every request's key."""
    if settings.env == "production":
        refuse_unsafe_production(settings, engine)
    elif not settings.auth_required:
        log.warning("API keys are not required: every client may do everything",
                    extra={"fields": {"setting": "AUTH_REQUIRED", "value": False, "env": settings.env}})
    app.before_request(_authorise)


def refuse_unsafe_production(settings: Settings, engine: Engine) -> None:
    """Raise InsecureConfiguration naming each unsafe setting, or when no API key exists."""
    unsafe = insecure_settings(settings)
    reasons = [f"{name} is not safe for production" + (" (it must be true)" if name == "AUTH_REQUIRED" else
                                                      " (its password is a placeholder)") for name in unsafe]
    if settings.auth_required and keys.count_active(engine) == 0:
        reasons.append("no API key exists; create one with `manage.py api-keys create --scope admin --name NAME`")
    if reasons:
        raise InsecureConfiguration("ENV=production refuses to start: " + "; ".join(reasons) + ".")


def granted(scope: str) -> bool:
    """Return whether the current request may act with `scope` (always, when keys are not required)."""
    if not current_app.config["AUTH_REQUIRED"]:
        return True
    key = g.get("api_key")
    return key is not None and key.allows(scope)


def _authorise() -> Response | None:
    if request.method == "OPTIONS" or request.endpoint is None:
        # Preflights carry no credentials, and an unknown route is answered 404 by the router.
        return None
    g.api_key = None
    if not current_app.config["AUTH_REQUIRED"]:
        return None
    token = _token(request)
    if token:
        g.api_key = keys.find_key(current_app.extensions["forecasting"].engine, token)
        if g.api_key is None:
            return _unauthorised("The API key is unknown or revoked.", error="invalid_token")
    method = "GET" if request.method == "HEAD" else request.method
    rule = ENDPOINT_SCOPES.get((method, request.endpoint), "admin")
    if rule is OPEN:
        return None
    if g.api_key is None:
        return _unauthorised("This request needs an API key: send the header 'Authorization: Bearer <key>'.")
    needed = rule(request) if callable(rule) else rule
    if not g.api_key.allows(needed):
        response = problem(403, "Forbidden", f"This request needs an API key with scope '{needed}'; "
                                             f"this key has scope '{g.api_key.scope}'.", required_scope=needed)
        response.headers["WWW-Authenticate"] = f'Bearer realm="{REALM}", error="insufficient_scope", scope="{needed}"'
        return response
    return None


def _token(req: Request) -> str | None:
    # A Bearer token, or the password of HTTP Basic authentication: a browser can send no
    # Bearer header for the dashboard's pages, but asks for Basic credentials when challenged.
    scheme, _, value = req.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic" and req.authorization is not None:
        return (req.authorization.password or "").strip() or None
    return None


def _unauthorised(detail: str, error: str | None = None) -> Response:
    response = problem(401, "Unauthorized", detail)
    # RFC 6750 3.1: no error code when the request carried no credentials at all.
    challenge = f'Bearer realm="{REALM}"' + (f', error="{error}"' if error else "")
    response.headers["WWW-Authenticate"] = challenge
    if request.blueprint == "dashboard":
        # Pages for people: the browser's prompt takes the key as the password (any user name).
        response.headers.add("WWW-Authenticate", f'Basic realm="{REALM} dashboard: the API key as password"')
    return response
