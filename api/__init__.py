"""Flask app factory of the forecasting API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from api import auth, cors, errors
from api.services import Services
from api.validation import refuse_large_body
from config.logs import configure_logging
from config.settings import load_settings


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Create the API app; `test_config` overrides settings by their upper-case names."""
    settings = load_settings(overrides=test_config)
    configure_logging(settings.log_level)
    app = Flask(__name__)
    app.config.from_mapping(settings.as_flask_config())
    app.json.sort_keys = False
    app.extensions["forecasting"] = Services.create(settings)
    errors.init_app(app)
    # Order matters: a too large body is refused unread, a preflight carries no key.
    app.before_request(refuse_large_body)
    cors.init_app(app, settings.cors_origins)
    auth.init_app(app, settings, app.extensions["forecasting"].engine)

    from api.routes import charts, forecast, health, jobs, keys, models, products

    for module in (forecast, jobs, models, products, keys, health, charts):
        app.register_blueprint(module.bp, url_prefix="/api/v1")
    from api.routes import calendar as calendar_routes

    app.register_blueprint(calendar_routes.bp, url_prefix="/api/v1")
    from api.routes import bulk_forecasts, job_results

    app.register_blueprint(bulk_forecasts.bp, url_prefix="/api/v1")
    app.register_blueprint(job_results.bp, url_prefix="/api/v1")
    from api.views import dashboard, docs, metrics

    app.register_blueprint(dashboard.bp)
    app.register_blueprint(docs.bp)
    metrics.init_app(app)
    return app
