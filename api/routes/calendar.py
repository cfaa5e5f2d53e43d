"""A product's calendar of known-in-advance inputs: upsert, read, delete a range."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from api.errors import ValidationError
from api.openapi import operation
from api.schemas.calendar import Calendar, CalendarRows, CalendarWritten
from api.schemas.products import DateRange
from api.services import services
from api.validation import path_id
from forecasting.data.calendar import delete_calendar, read_calendar, upsert_calendar
from forecasting.data.sales import load_history

bp = Blueprint("calendar", __name__)

MAX_ROWS_PER_REQUEST = 100_000


@bp.put("/products/<product_id>/calendar")
@operation(body=CalendarRows, responses={200: CalendarWritten}, errors=(404,))
def put_calendar(product_id: str):
    """Insert or update calendar rows: a list of {"date", "open"?, "holiday"?, "regressors"?}; all or nothing."""
    pid = path_id(product_id)
    written = upsert_calendar(services().engine, product_id=pid, rows=_rows(request.get_json()))
    return _state(pid, written=written)


@bp.get("/products/<product_id>/calendar")
@operation(query=DateRange, responses={200: Calendar}, errors=(404,))
def get_calendar(product_id: str):
    """Return the product's stored calendar rows, optionally within ?start=&end= (YYYY-MM-DD)."""
    pid = path_id(product_id)
    asked: DateRange = request.context.query
    rows = read_calendar(services().engine, product_id=pid, start=asked.start, end=asked.end)
    return {"product_id": pid, "count": len(rows), "calendar": rows}


@bp.delete("/products/<product_id>/calendar")
@operation(query=DateRange, responses={200: CalendarWritten}, errors=(404,))
def delete_range(product_id: str):
    """Delete the product's calendar rows within ?start=&end= (both required, YYYY-MM-DD)."""
    pid = path_id(product_id)
    start, end = request.context.query.start, request.context.query.end
    if start is None or end is None:
        raise ValidationError("Give the range to delete as ?start=YYYY-MM-DD&end=YYYY-MM-DD.")
    deleted = delete_calendar(services().engine, product_id=pid, start=start, end=end)
    return _state(pid, deleted=deleted)


def _rows(body: Any) -> list[Any]:
    items = body.get("calendar") if isinstance(body, dict) else body
    if not isinstance(items, list) or not items:
        raise ValidationError('Send a non-empty JSON array of {"date": "YYYY-MM-DD", "open"?: true, '
                              '"holiday"?: "public", "regressors"?: {"promo": 1}} objects.')
    if len(items) > MAX_ROWS_PER_REQUEST:
        raise ValidationError(f"At most {MAX_ROWS_PER_REQUEST} rows per request, got {len(items)}.")
    return items


def _state(pid: int, **counts: int) -> dict[str, Any]:
    # The fingerprint the models will be checked against, so a client can see its change land.
    history = load_history(services().engine, product_id=pid)
    return {"product_id": pid, **counts, "fingerprint": history.fingerprint}
