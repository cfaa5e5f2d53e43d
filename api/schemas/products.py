"""Products and their sales: create, change, list, read and write rows."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, RootModel, WithJsonSchema, model_validator

from api.schemas.common import Page, Query
from api.errors import ValidationError
from api.validation import clean_text, date_param, no_unknown_fields, positive_int
from forecasting.data.products import MAX_PRODUCT_ID
from forecasting.data.public_holidays import check_place
from forecasting.data.database import products
from forecasting.errors import InvalidProductData

TEXT_FIELDS = ("name", "key", "country", "subdivision")
# Text with a visible character and no control character (api.validation.clean_text refuses those).
PRINTABLE = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
NAME = {"type": "string", "minLength": 1, "maxLength": products.c.name.type.length, "pattern": PRINTABLE}
KEY = {"type": ["string", "null"], "minLength": 1, "maxLength": products.c.key.type.length, "pattern": PRINTABLE}


class Product(BaseModel):
    """A product and the span of its sales history."""

    id: int
    name: str
    key: str | None
    country: str | None
    subdivision: str | None
    rows: int = Field(ge=0, description="Days of sales stored")
    start: str | None = Field(description="First day of sales (YYYY-MM-DD)")
    end: str | None = Field(description="Last day of sales (YYYY-MM-DD)")
    created_at: str | None


class ProductPage(Page):
    products: list[Product]


class ProductCreate(BaseModel):
    """A new product; the id is the next free one unless given (409 when taken, as is a taken key)."""

    model_config = ConfigDict(extra="forbid")

    # Lengths are checked by create_product, which names the limit: described here, not checked twice.
    name: Annotated[str, WithJsonSchema(NAME)]
    key: Annotated[str | None, WithJsonSchema(KEY)] = Field(None, description="Its identity in imported files, "
                                                                              "unique")
    product_id: int | None = Field(None, ge=1, le=MAX_PRODUCT_ID)
    country: str | None = Field(None, description="ISO code the holidays package knows, e.g. DE")
    subdivision: str | None = Field(None, description="e.g. BY")

    @model_validator(mode="before")
    @classmethod
    def _precise(cls, body: Any) -> Any:
        no_unknown_fields(body, {"name", "key", "product_id", "country", "subdivision"})
        _clean_texts(body)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ValidationError("'name' is required and must be a non-empty string.", "name")
        key = body.get("key")
        if key is not None and (not isinstance(key, str) or not key.strip()):
            raise ValidationError("'key' must be a non-empty string when given.", "key")
        product_id = positive_int(body, "product_id", maximum=MAX_PRODUCT_ID) if "product_id" in body else None
        country, subdivision = _place(body)
        return {"name": name.strip(), "key": key, "product_id": product_id, "country": country,
                "subdivision": subdivision}


class ProductChange(BaseModel):
    """Change a product's name, country or subdivision (null clears the place)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[Any, WithJsonSchema(NAME)] = None
    country: str | None = None
    subdivision: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _precise(cls, body: Any) -> Any:
        # Names and places are checked by update_product, which names what it refuses.
        no_unknown_fields(body, {"name", "country", "subdivision"})
        _clean_texts(body)
        _place_types(body)
        return body


def _clean_texts(body: dict[str, Any]) -> None:
    for field in TEXT_FIELDS:
        clean_text(body.get(field), field)


def _place_types(body: dict[str, Any]) -> None:
    for field in ("country", "subdivision"):
        if body.get(field) is not None and not isinstance(body[field], str):
            raise ValidationError(f"'{field}' must be a code as a string, or null; got {body[field]!r:.40}.", field)


def _place(body: dict[str, Any]) -> tuple[str | None, str | None]:
    # Checked before creating, so the 422 names the field the holidays package does not know.
    _place_types(body)
    try:
        return check_place(body.get("country"), body.get("subdivision"))
    except InvalidProductData as exc:
        raise ValidationError(str(exc), exc.field) from None


class DateRange(Query):
    """?start=&end=: days, both inclusive (YYYY-MM-DD)."""

    start: date | None = Field(None, description="First day (YYYY-MM-DD)")
    end: date | None = Field(None, description="Last day (YYYY-MM-DD)")

    @model_validator(mode="before")
    @classmethod
    def _precise(cls, args: Any) -> Any:
        return {"start": date_param(args, "start"), "end": date_param(args, "end")}


SALE_ROW = {"type": "object", "required": ["date", "quantity"], "additionalProperties": False,
            "properties": {"date": {"type": "string", "format": "date"},
                           "quantity": {"type": "number", "minimum": 0}}}


class SalesRows(RootModel[Any]):
    """Daily sales, all stored or none: an array of {"date", "quantity"} rows, or {"sales": [...]}.

    At most 100,000 rows. Rows are checked by the database layer, which names the row and the
    problem in its 422, so this model only describes them.
    """

    root: Annotated[Any, WithJsonSchema({"anyOf": [
        {"type": "array", "minItems": 1, "maxItems": 100_000, "items": SALE_ROW},
        {"type": "object", "required": ["sales"], "properties": {
            "sales": {"type": "array", "minItems": 1, "maxItems": 100_000, "items": SALE_ROW}}},
    ]})]


class Sales(BaseModel):
    product_id: int
    count: int
    sales: list[dict[str, Any]]


class SalesWritten(BaseModel):
    product_id: int
    written: int | None = None
    deleted: int | None = None
    rows: int
    fingerprint: str | None
    start: str | None
    end: str | None


class ProductDeleted(BaseModel):
    product_id: int
    deleted: dict[str, Any]
