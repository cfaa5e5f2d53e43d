"""The API's own description: /api/v1/openapi.json, Swagger UI at /api/v1/docs, the problem types.

Swagger UI's files come from the installed swagger-ui-bundle-v2 package (Swagger UI 5, which
reads OpenAPI 3.1) and are served by the service itself: the docs work without the internet.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from api.openapi import document
from api.problems import PROBLEMS, slug

bp = Blueprint("docs", __name__)

#: Swagger UI's files the page loads; nothing else of the package is served.
ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
                    "favicon-32x32.png", "favicon-16x16.png"})


@bp.get("/api/v1/openapi.json")
def openapi() -> Response:
    """Return the OpenAPI 3.1 document of every endpoint under /api/v1."""
    return current_app.json.response(document(current_app))


@bp.get("/api/v1/docs")
def swagger() -> str:
    """Show the document in Swagger UI."""
    return render_template("docs/swagger.html")


@bp.get("/api/v1/docs/assets/<name>")
def asset(name: str) -> Response:
    """Serve one of Swagger UI's files from the installed package."""
    if name not in ASSETS:
        return current_app.response_class(status=404)
    response = send_from_directory(swagger_ui_path, name, max_age=86400)
    return response


@bp.get("/api/v1/docs/problems")
def problems() -> str:
    """List every problem type: the page a problem's `type` links to, one anchor per type."""
    rows = [{"slug": slug(title), "title": title, "status": status, "text": text}
            for title, (status, text) in sorted(PROBLEMS.items(), key=lambda item: (item[1][0], item[0]))]
    return render_template("docs/problems.html", problems=rows)
