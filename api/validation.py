"""Parse and check request input; every failure names the field and the problem."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from flask import Request, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from api.errors import ApiError, ValidationError
from sqlalchemy.engine import Engine

from forecasting.data.products import MAX_PRODUCT_ID, known_product_ids

# A canonical id: ASCII digits without leading zeros (str.isdigit also takes "²" and "٣").
CANONICAL_ID = re.compile(r"[1-9][0-9]*")
# A signed integer of ASCII digits, short enough for int() (which refuses over 4,300 digits).
_ASCII_INT = re.compile(r"-?[0-9]{1,18}")
_ASCII_SECONDS = re.compile(r"[0-9]{1,18}")


def json_body(request: Request) -> Any:
    """Return the parsed JSON body (any JSON value), or raise a 4xx saying why there is none.

    A body sent without the header 'Content-Type: application/json' (e.g. curl's `-d`
    alone, a form encoding) is a 415 that names the header to send.
    """
    declared = request.mimetype
    if declared != "application/json" and not declared.endswith("+json"):
        sent = f"as {declared}" if declared else "without a Content-Type"
        raise ApiError(415, "Unsupported media type",
                       f"The request body is sent {sent}; send JSON with the header "
                       "'Content-Type: application/json'.")
    raw = request.get_data(cache=True)
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is None and len(raw) >= limit:
        # A body without a length (chunked) is read up to the limit and silently cut there
        # by Werkzeug: one that fills the limit may be longer, so it is refused whole.
        raise RequestEntityTooLarge(f"The request body reached {limit} bytes (MAX_CONTENT_LENGTH) "
                                    "before its end; send less.")
    if not raw.strip():
        raise ApiError(400, "Malformed request", "The request body is empty; send JSON.")
    limit = current_app.config["MAX_JSON_DEPTH"]
    try:
        value = json.loads(raw)
    except RecursionError:
        # The parser recurses once per level: a body nested deeper than the interpreter allows.
        raise _too_deep(limit) from None
    except ValueError:
        raise ApiError(400, "Malformed request", "The request body is not valid JSON.") from None
    # Fewer brackets than the limit cannot nest deeper than it: most bodies skip the walk.
    if raw.count(b"[") + raw.count(b"{") > limit and nesting_exceeds(value, limit):
        raise _too_deep(limit)
    return value


def nesting_exceeds(value: Any, limit: int) -> bool:
    """Return whether arrays and objects in `value` nest more than `limit` levels deep (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _too_deep(limit: int) -> ApiError:
    return ApiError(400, "Malformed request",
                    f"The request body nests arrays or objects more than {limit} levels deep (MAX_JSON_DEPTH).")


# C0 and C1 control characters (NUL included) and lone UTF-16 surrogates: no name or key holds
# them, PostgreSQL refuses NUL in text, and a surrogate cannot be encoded for the database.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_text(value: Any, name: str) -> Any:
    """Return `value` unchanged, or raise a 422 naming field `name` when it is text holding a control character."""
    if isinstance(value, str):
        found = _UNPRINTABLE.search(value)
        if found:
            raise ValidationError(f"'{name}' must not contain control characters; found U+{ord(found[0]):04X} "
                                  f"at position {found.start()}.", name)
    return value


def json_object(request: Request) -> dict[str, Any]:
    """Return the request body as a JSON object, or raise a 400 saying why not."""
    return as_object(json_body(request))


def as_object(body: Any) -> dict[str, Any]:
    """Return `body` when it is a JSON object, or raise a 400 saying what it is instead."""
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
    """Return a product id path segment; 422 when it is no number, 404 when no product can have it."""
    if not (value.isascii() and value.isdigit()) or not value.strip("0"):
        raise ValidationError(f"'{name}' in the path must be a positive integer, got '{value[:40]}'.", name)
    # "0001" and 2**31 are positive numbers but name no product: a 404, so one product has one URL.
    if not CANONICAL_ID.fullmatch(value) or len(value) > 10 or int(value) > MAX_PRODUCT_ID:
        raise ApiError(404, "Product not found", f"No product has the id '{value[:40]}'.")
    return int(value)


def refuse_large_body() -> None:
    """Answer 413 before reading a body whose Content-Length is above MAX_CONTENT_LENGTH.

    A body without a Content-Length (chunked) is read at most up to the limit, and
    refused by json_body when it reaches it.
    """
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge(f"The request body is {request.content_length} bytes; "
                                    f"at most {limit} (MAX_CONTENT_LENGTH) are accepted.")


def query_int(request: Request, name: str, *, default: int, minimum: int, maximum: int | None = None) -> int:
    """Return the integer query parameter `name`, or raise a 422 saying what is wrong."""
    return int_param(request.args, name, default=default, minimum=minimum, maximum=maximum)


def int_param(args: Mapping[str, Any], name: str, *, default: int, minimum: int, maximum: int | None = None) -> int:
    """Return the integer parameter `name` of `args` (query parameters as text), or raise a 422."""
    raw = args.get(name)
    if raw is None:
        return default
    # int() also takes other scripts' digits ("٣"), blanks and underscores; a number here is ASCII digits.
    if not isinstance(raw, str) or not _ASCII_INT.fullmatch(raw):
        raise ValidationError(f"'{name}' must be an integer, got {str(raw)[:40]!r}.", name)
    value = int(raw)
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ValidationError(f"'{name}' must be {bound}, got {value}.", name)
    return value


def query_date(request: Request, name: str) -> date | None:
    """Return the YYYY-MM-DD query parameter `name` (None when absent), or raise a 422."""
    return date_param(request.args, name)


def date_param(args: Mapping[str, Any], name: str) -> date | None:
    """Return the YYYY-MM-DD parameter `name` of `args` (None when absent), or raise a 422."""
    value = args.get(name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationError(f"'{name}' must be a YYYY-MM-DD date, got {value!r}.", name) from None


def choice_param(args: Mapping[str, Any], name: str, allowed: Sequence[str]) -> str | None:
    """Return the parameter `name` of `args` when it is one of `allowed` (None when absent), or raise a 422."""
    value = args.get(name)
    if value is not None and value not in allowed:
        raise ValidationError(f"'{name}' must be one of {', '.join(allowed)}; got {str(value)[:40]!r}.", name)
    return value


def unknown_products(engine: Engine, ids: Sequence[int]) -> tuple[int, str]:
    """Return how many of `ids` are no product, and the first 10 of them as text ("4, 9 ...")."""
    unknown = sorted(set(ids) - known_product_ids(engine, product_ids=list(ids)))
    return len(unknown), ", ".join(map(str, unknown[:10])) + (" ..." if len(unknown) > 10 else "")


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
            # ASCII only: str.isdigit() takes "²", which int() then refuses.
            if name.strip().lower() == "wait" and _ASCII_SECONDS.fullmatch(value):
                return min(int(value), maximum)
    return None
