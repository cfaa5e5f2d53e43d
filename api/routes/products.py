"""Products and their sales history."""

from __future__ import annotations

from flask import Blueprint, request

from api.services import services
from api.validation import path_id, positive_int
from forecasting.sales import get_product, list_products

bp = Blueprint("products", __name__)


@bp.get("/products")
def list_all():
    """List products with their history span, a page at a time."""
    args = {k: int(v) for k, v in request.args.items() if k in {"limit", "offset"} and v.isdigit()}
    limit = positive_int(args, "limit", default=100, maximum=1000)
    offset = args.get("offset", 0)
    rows = list_products(services().engine, limit=limit, offset=offset)
    return {"count": len(rows), "limit": limit, "offset": offset, "products": rows}


@bp.get("/products/<product_id>")
def get_one(product_id: str):
    """Return one product."""
    return get_product(services().engine, product_id=path_id(product_id))
