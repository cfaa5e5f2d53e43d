"""CORS for the origins listed in CORS_ORIGINS, and nothing at all when it is empty.

Written out rather than taken from flask-cors: the whole policy is these few lines (exact
origins, no wildcard, no cookies), so there is no option to get wrong and no dependency to
follow for advisories.
"""

from __future__ import annotations

from flask import Flask, Response, request

ALLOWED_HEADERS = "Authorization, Content-Type, Prefer"
# Headers a browser script may read; Location and Retry-After carry meaning in our answers.
EXPOSED_HEADERS = "Location, Retry-After, Preference-Applied, WWW-Authenticate"
PREFLIGHT_MAX_AGE = 600


def init_app(app: Flask, origins: tuple[str, ...]) -> None:
    """Answer preflights and mark responses for the listed origins; do nothing when none is listed."""
    if not origins:
        return
    allowed = frozenset(origins)

    @app.before_request
    def _preflight() -> Response | None:
        origin = request.headers.get("Origin")
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        response = Response(status=204)
        if origin in allowed:
            response.headers.update({
                "Access-Control-Allow-Methods": "GET, POST, DELETE",
                "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE),
            })
        return response

    @app.after_request
    def _allow_origin(response: Response) -> Response:
        origin = request.headers.get("Origin")
        # Caches must keep answers per origin, since the header differs by origin.
        response.vary.add("Origin")
        if origin in allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        return response
