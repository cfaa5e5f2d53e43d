"""A product's calendar rows: open days, holidays, regressors."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, RootModel, WithJsonSchema

CALENDAR_ROW = {"type": "object", "required": ["date"], "properties": {
    "date": {"type": "string", "format": "date"},
    "open": {"type": ["boolean", "null"]},
    "holiday": {"type": ["string", "null"], "description": "\"\": known, no holiday; null: unknown"},
    "regressors": {"type": "object", "description": "name -> finite number; null removes it",
                   "additionalProperties": {"type": ["number", "null"]}},
}}


class CalendarRows(RootModel[Any]):
    """Calendar rows, all stored or none: an array, or {"calendar": [...]}; at most 100,000 rows.

    Rows are checked by the database layer, which names the row and the problem in its 422,
    so this model only describes them.
    """

    root: Annotated[Any, WithJsonSchema({"anyOf": [
        {"type": "array", "minItems": 1, "maxItems": 100_000, "items": CALENDAR_ROW},
        {"type": "object", "required": ["calendar"], "properties": {
            "calendar": {"type": "array", "minItems": 1, "maxItems": 100_000, "items": CALENDAR_ROW}}},
    ]})]


class Calendar(BaseModel):
    product_id: int
    count: int
    calendar: list[dict[str, Any]]


class CalendarWritten(BaseModel):
    product_id: int
    written: int | None = None
    deleted: int | None = None
    fingerprint: str | None
