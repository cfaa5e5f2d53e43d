"""Products and their sales history: create, list, append or correct sales."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, request, url_for

from api.errors import ValidationError
from api.services import services
from api.validation import (
    clean_text,
    json_body,
    json_object,
    no_unknown_fields,
    path_id,
    positive_int,
    query_date,
    query_int,
)
from forecasting.data.deletion import delete_product, delete_sales
from forecasting.data.products import MAX_PRODUCT_ID, create_product, get_product, list_products, update_product
from forecasting.data.public_holidays import check_place
from forecasting.data.sales import load_history, read_sales, upsert_sales
from forecasting.errors import InvalidSalesData
from jobs import metrics

bp = Blueprint("products", __name__)

MAX_ROWS_PER_REQUEST = 100_000


@bp.get("/products")
def list_all():
    """List products with their history span, a page at a time (?limit=&offset=)."""
    limit = query_int(request, "limit", default=100, minimum=1, maximum=1000)
    offset = query_int(request, "offset", default=0, minimum=0)
    rows = list_products(services().engine, limit=limit, offset=offset)
    return {"count": len(rows), "limit": limit, "offset": offset, "products": rows}


@bp.post("/products")
def create():
    """Create a product: {"name": ..., "key"?: ..., "product_id"?: ..., "country"?: ..., "subdivision"?: ...}."""
    body = json_object(request)
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
    product = create_product(services().engine, name=name.strip(), key=key, product_id=product_id,
                             country=country, subdivision=subdivision)
    location = url_for("products.get_one", product_id=product["id"])
    return product, 201, {"Location": location}


@bp.get("/products/<product_id>")
def get_one(product_id: str):
    """Return one product."""
    return get_product(services().engine, product_id=path_id(product_id))


@bp.patch("/products/<product_id>")
def patch_one(product_id: str):
    """Change a product's name, country or subdivision (null clears them)."""
    pid = path_id(product_id)
    body = json_object(request)
    no_unknown_fields(body, {"name", "country", "subdivision"})
    _clean_texts(body)
    _place_types(body)
    return update_product(services().engine, product_id=pid, changes=body)


def _clean_texts(body: dict[str, Any]) -> None:
    for field in ("name", "key", "country", "subdivision"):
        clean_text(body.get(field), field)


def _place_types(body: dict[str, Any]) -> None:
    for field in ("country", "subdivision"):
        if body.get(field) is not None and not isinstance(body[field], str):
            raise ValidationError(f"'{field}' must be a code as a string, or null; got {body[field]!r:.40}.", field)


def _place(body: dict[str, Any]) -> tuple[str | None, str | None]:
    # Checked before creating, so the 422 names the field the holidays package does not know.
    _place_types(body)
    country, subdivision = body.get("country"), body.get("subdivision")
    try:
        check_place(country, None)
    except InvalidSalesData as exc:
        raise ValidationError(str(exc), "country") from None
    try:
        return check_place(country, subdivision)
    except InvalidSalesData as exc:
        raise ValidationError(str(exc), "subdivision") from None


@bp.get("/products/<product_id>/sales")
def get_sales(product_id: str):
    """Return the product's stored sales rows, optionally within ?start=&end= (YYYY-MM-DD)."""
    svc = services()
    pid = path_id(product_id)
    get_product(svc.engine, product_id=pid)
    start, end = query_date(request, "start"), query_date(request, "end")
    rows = read_sales(svc.engine, product_id=pid, start=start, end=end)
    return {"product_id": pid, "count": len(rows), "sales": rows}


@bp.post("/products/<product_id>/sales")
def put_sales(product_id: str):
    """Insert or update daily sales: a list of {"date", "quantity"} (or {"sales": [...]}); all or nothing."""
    svc = services()
    pid = path_id(product_id)
    body = json_body(request)
    items = body.get("sales") if isinstance(body, dict) else body
    if not isinstance(items, list) or not items:
        raise ValidationError('Send a non-empty JSON array of {"date": "YYYY-MM-DD", "quantity": n} objects.')
    if len(items) > MAX_ROWS_PER_REQUEST:
        raise ValidationError(f"At most {MAX_ROWS_PER_REQUEST} rows per request, got {len(items)}.")
    earliest, latest = svc.settings.sale_date_bounds(datetime.now(timezone.utc).date())
    written = upsert_sales(svc.engine, product_id=pid, rows=[_pair(n, item) for n, item in enumerate(items, 1)],
                           earliest=earliest, latest=latest)
    metrics.sales_ingested("api", written)
    return {"product_id": pid, "written": written, **_span(svc, pid)}


@bp.delete("/products/<product_id>/sales")
def delete_sales_range(product_id: str):
    """Delete the product's sales within ?start=&end= (YYYY-MM-DD, both inclusive; one may be left open)."""
    svc, pid = services(), path_id(product_id)
    start, end = query_date(request, "start"), query_date(request, "end")
    if start is None and end is None:
        raise ValidationError("Give the range to delete as ?start=YYYY-MM-DD, ?end=YYYY-MM-DD or both; "
                              "DELETE /products/<id> removes the whole product.")
    deleted = delete_sales(svc.engine, product_id=pid, start=start, end=end)
    return {"product_id": pid, "deleted": deleted, **_span(svc, pid)}


@bp.delete("/products/<product_id>")
def delete_one(product_id: str):
    """Delete a product: its sales, calendar, model set and saved forecast; its jobs stay as history."""
    svc, pid = services(), path_id(product_id)
    deleted = delete_product(svc.engine, product_id=pid)
    return {"product_id": pid, "deleted": {**deleted, "model_set": svc.store.delete(pid)}}


def _span(svc, pid: int) -> dict[str, Any]:
    # The fingerprint the models will be checked against, so a client can see its change land.
    history = load_history(svc.engine, product_id=pid)
    return {"rows": history.rows, "fingerprint": history.fingerprint,
            "start": history.start.isoformat() if history.start else None,
            "end": history.end.isoformat() if history.end else None}


def _pair(number: int, item: Any) -> tuple[Any, Any]:
    if not isinstance(item, dict) or set(item) != {"date", "quantity"}:
        raise ValidationError(f'Row {number} must be an object with exactly "date" and "quantity", got {item!r:.60}.')
    return item["date"], item["quantity"]

