"""API keys over HTTP, for admin keys: list, create (the key is shown once), revoke."""

from __future__ import annotations

from flask import Blueprint, request

from api.errors import ValidationError
from api.keys import KeyNotFound, create_key, list_keys, revoke_key
from api.services import services
from api.validation import clean_text, json_object, no_unknown_fields

bp = Blueprint("keys", __name__)


@bp.get("/keys")
def list_all():
    """List every key, revoked ones included; never a key itself."""
    rows = [key.public() for key in list_keys(services().engine)]
    return {"count": len(rows), "keys": rows}


@bp.post("/keys")
def create():
    """Create a key: {"name": ..., "scope": "read" | "write" | "admin"}; the answer holds it, this once."""
    body = json_object(request)
    no_unknown_fields(body, {"name", "scope"})
    name, scope = body.get("name"), body.get("scope", "read")
    if not isinstance(name, str) or not isinstance(scope, str):
        raise ValidationError("'name' and 'scope' must be strings.")
    clean_text(name, "name")
    key, token = create_key(services().engine, name=name, scope=scope)
    # The key is in this answer and nowhere else: no cache may keep it.
    return {**key.public(), "key": token}, 201, {"Cache-Control": "no-store"}


@bp.delete("/keys/<key_id>")
def revoke(key_id: str):
    """Revoke a key by id; requests with it are refused from then on."""
    if not (key_id.isascii() and key_id.isdigit()):
        raise KeyNotFound(f"No key has the id {key_id[:40]!r}.")
    revoke_key(services().engine, key_id)
    return "", 204
