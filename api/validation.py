"""Parse and check request input; every failure names the field and the problem."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from flask import Request

from api.errors import ApiError, ValidationError


def json_body(request: Request) -> Any:
    """Return the parsed JSON body (any JSON value), or raise a 4xx saying why there is none.

    A body declared as another media type (e.g. curl's default form encoding) is a 415
    that names the header to send; a body without a Content-Type is read as JSON.
    """
    declared = request.mimetype
    if declared and declared != "application/json" and not declared.endswith("+json"):
        raise ApiError(415, "Unsupported media type",
                       f"The request body is sent as {declared}; send JSON with the header "
                       "'Content-Type: application/json'.")
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise ApiError(400, "Malformed request", "The request body is empty; send JSON.")
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, "Malformed request", "The request body is not valid JSON.") from None


def json_object(request: Request) -> dict[str, Any]:
    """Return the request body as a JSON object, or raise a 400 saying why not."""
    body = json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "Malformed request", f"The request body must be a JSON object, not {_kind(body)}.")
    return body


def positive_int(body: dict[str, Any], name: str, *, default: int | None = None, maximum: int | None = None) -> int:
    """Return body[name] as an integer >= 1 (and <= maximum), or raise a 422."""
    if name not in body:
        if default is not None:
            return default
        raise ValidationError(f"'{name}' is required.", name)
    value = body[name]
    # bool is an int in Python, and 1.0 / "1" are not what the client meant to send as ids.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"'{name}' must be an integer, got {_describe(value)}.", name)
    if value < 1:
        raise ValidationError(f"'{name}' must be at least 1, got {value}.", name)
    if maximum is not None and value > maximum:
        raise ValidationError(f"'{name}' must be at most {maximum}, got {value}.", name)
    return value


def path_id(value: str, name: str = "product_id") -> int:
    """Return a positive integer path segment, or raise a 404-free 422."""
    if not value.isdigit() or int(value) < 1:
        raise ValidationError(f"'{name}' in the path must be a positive integer, got '{value}'.", name)
    return int(value)


def query_int(request: Request, name: str, *, default: int, minimum: int, maximum: int | None = None) -> int:
    """Return the integer query parameter `name`, or raise a 422 saying what is wrong."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(f"'{name}' must be an integer, got {raw!r}.", name) from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ValidationError(f"'{name}' must be {bound}, got {value}.", name)
    return value


def query_date(request: Request, name: str) -> date | None:
    """Return the YYYY-MM-DD query parameter `name` (None when absent), or raise a 422."""
    value = request.args.get(name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"'{name}' must be a YYYY-MM-DD date, got {value!r}.", name) from None


def no_unknown_fields(body: dict[str, Any], allowed: set[str]) -> None:
    """Reject fields the endpoint does not know, so typos do not pass silently."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ValidationError(f"Unknown field(s): {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}.")


def _kind(value: Any) -> str:
    return {
        type(None): "null", bool: "a boolean", int: "an integer", float: "a number",
        str: "a string", list: "an array", dict: "an object",
    }.get(type(value), type(value).__name__)


def _describe(value: Any) -> str:
    if value is None or isinstance(value, (list, dict)):
        return _kind(value)
    shown = json.dumps(value)
    return f"{_kind(value)} {shown if len(shown) <= 40 else shown[:37] + '...'}"


def preferred_wait(request: Request, maximum: int) -> int | None:
    """Return the seconds of an RFC 7240 ``Prefer: wait=N`` header, at most `maximum`; None without one.

    Like any preference it is a wish, not a demand: one that cannot be read is ignored.
    """
    for header in request.headers.getlist("Prefer"):
        for preference in header.split(","):
            name, _, value = preference.split(";")[0].partition("=")
            value = value.strip().strip('"')
            if name.strip().lower() == "wait" and value.isdigit():
                return min(int(value), maximum)
    return None
