"""Products and their sales history: create, list, append or correct sales."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, request, url_for

from api.errors import ValidationError
from api.openapi import operation
from api.paging import page
from api.schemas.common import Paging
from api.schemas.products import (
    DateRange,
    Product,
    ProductChange,
    ProductCreate,
    ProductDeleted,
    ProductPage,
    Sales,
    SalesRows,
    SalesWritten,
)
from api.services import services
from api.validation import path_id
from forecasting.data.deletion import delete_product, delete_sales
from forecasting.data.products import (
    count_products,
    create_product,
    get_product,
    list_products,
    update_product,
)
from forecasting.data.sales import load_history, read_sales, upsert_sales
from jobs import metrics

bp = Blueprint("products", __name__)

MAX_ROWS_PER_REQUEST = 100_000


@bp.get("/products")
@operation(query=Paging, responses={200: ProductPage})
def list_all():
    """List products with their history span, in id order, a page at a time (?limit=&offset=)."""
    engine, asked = services().engine, request.context.query
    rows = list_products(engine, limit=asked.limit, offset=asked.offset)
    return page("products", rows, total=count_products(engine), limit=asked.limit, offset=asked.offset)


@bp.post("/products")
@operation(body=ProductCreate, responses={201: Product}, errors=(409,),
           headers={201: {"Location": {"description": "The new product", "schema": {"type": "string"}}}},
           links={201: {name: (target, {"product_id": "$response.body#/id"}) for name, target in (
               ("GetProduct", "products.get_one"), ("ChangeProduct", "products.patch_one"),
               ("AddSales", "products.put_sales"), ("GetSales", "products.get_sales"),
               ("PutCalendar", "calendar.put_calendar"), ("Retrain", "models.retrain_model"),
               ("DeleteProduct", "products.delete_one"))}})
def create():
    """Create a product: {"name": ..., "key"?: ..., "product_id"?: ..., "country"?: ..., "subdivision"?: ...}.

    A product id or key taken by another product is a 409.
    """
    asked: ProductCreate = request.context.json
    product = create_product(services().engine, **asked.model_dump())
    location = url_for("products.get_one", product_id=product["id"])
    return product, 201, {"Location": location}


@bp.get("/products/<product_id>")
@operation(responses={200: Product}, errors=(404,))
def get_one(product_id: str):
    """Return one product."""
    return get_product(services().engine, product_id=path_id(product_id))


@bp.patch("/products/<product_id>")
@operation(body=ProductChange, responses={200: Product}, errors=(404,))
def patch_one(product_id: str):
    """Change a product's name, country or subdivision (null clears them)."""
    pid = path_id(product_id)
    changes = request.context.json.model_dump(exclude_unset=True)
    return update_product(services().engine, product_id=pid, changes=changes)


@bp.get("/products/<product_id>/sales")
@operation(query=DateRange, responses={200: Sales}, errors=(404,))
def get_sales(product_id: str):
    """Return the product's stored sales rows, optionally within ?start=&end= (YYYY-MM-DD)."""
    svc = services()
    pid = path_id(product_id)
    get_product(svc.engine, product_id=pid)
    start, end = request.context.query.start, request.context.query.end
    rows = read_sales(svc.engine, product_id=pid, start=start, end=end)
    return {"product_id": pid, "count": len(rows), "sales": rows}


@bp.post("/products/<product_id>/sales")
@operation(body=SalesRows, responses={200: SalesWritten}, errors=(404,))
def put_sales(product_id: str):
    """Insert or update daily sales: a list of {"date", "quantity"} (or {"sales": [...]}); all or nothing."""
    svc = services()
    pid = path_id(product_id)
    body = request.get_json()
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
@operation(query=DateRange, responses={200: SalesWritten}, errors=(404,))
def delete_sales_range(product_id: str):
    """Delete the product's sales within ?start=&end= (YYYY-MM-DD, both inclusive; one may be left open)."""
    svc, pid = services(), path_id(product_id)
    start, end = request.context.query.start, request.context.query.end
    if start is None and end is None:
        raise ValidationError("Give the range to delete as ?start=YYYY-MM-DD, ?end=YYYY-MM-DD or both; "
                              "DELETE /products/<id> removes the whole product.")
    deleted = delete_sales(svc.engine, product_id=pid, start=start, end=end)
    return {"product_id": pid, "deleted": deleted, **_span(svc, pid)}


@bp.delete("/products/<product_id>")
@operation(responses={200: ProductDeleted}, errors=(404,))
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

