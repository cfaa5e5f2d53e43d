"""One way every list pages: limit and offset in, total and the next page's link out."""

from __future__ import annotations

from typing import Any

from flask import request, url_for


def page(name: str, items: list[Any], *, total: int, limit: int, offset: int) -> dict[str, Any]:
    """Return the body of a page of a list: `total`, `count`, `limit`, `offset`, the items under `name`, `links`.

    `links.next` is the same request for the next page, while items remain after this one.
    """
    body: dict[str, Any] = {"total": total, "count": len(items), "limit": limit, "offset": offset,
                            name: items, "links": {}}
    if offset + len(items) < total:
        args = {**request.args.to_dict(), "limit": limit, "offset": offset + limit}
        body["links"]["next"] = url_for(request.endpoint, **(request.view_args or {}), **args)
    return body
