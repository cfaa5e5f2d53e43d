"""API keys over HTTP, for admin keys: list, create (the key is shown once), revoke."""

from __future__ import annotations

from flask import Blueprint, request

from api.keys import KeyNotFound, create_key, list_keys, revoke_key
from api.openapi import operation
from api.schemas.keys import KeyCreate, KeyList, NewKey
from api.services import services

bp = Blueprint("keys", __name__)


@bp.get("/keys")
@operation(responses={200: KeyList})
def list_all():
    """List every key, revoked ones included; never a key itself."""
    rows = [key.public() for key in list_keys(services().engine)]
    return {"count": len(rows), "keys": rows}


@bp.post("/keys")
@operation(body=KeyCreate, responses={201: NewKey}, errors=(409,),
           links={201: {"RevokeKey": ("keys.revoke", {"key_id": "$response.body#/id"})}})
def create():
    """Create a key: {"name": ..., "scope": "read" | "write" | "admin"}; the answer holds it, this once.

    A name taken already (revoked keys keep theirs) is a 409.
    """
    asked: KeyCreate = request.context.json
    key, token = create_key(services().engine, name=asked.name, scope=asked.scope)
    # The key is in this answer and nowhere else: no cache may keep it.
    return {**key.public(), "key": token}, 201, {"Cache-Control": "no-store"}


@bp.delete("/keys/<key_id>")
@operation(responses={204: None}, errors=(404,))
def revoke(key_id: str):
    """Revoke a key by id; requests with it are refused from then on."""
    if not (key_id.isascii() and key_id.isdigit()):
        raise KeyNotFound(f"No key has the id {key_id[:40]!r}.")
    revoke_key(services().engine, key_id)
    return "", 204
