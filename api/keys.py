"""API keys: the api_keys table, and creating, finding, listing and revoking keys.

A key is ``fk_`` and 43 characters of ``secrets.token_urlsafe(32)``: 256 random bits. Only
its sha256 is stored. A slow password hash (bcrypt, scrypt) protects guessable secrets
against offline guessing; nobody can guess 2**256 tokens, so one fast hash is enough and
keeps every request to a single indexed lookup. The first characters of the key are
kept in clear as `prefix`, so people can tell keys apart in `manage.py api-keys list`.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Column, DateTime, Integer, String, Table, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from forecasting.data.database import metadata, utc_iso

# Ordered: each scope includes the ones before it (admin > write > read).
SCOPES = ("read", "write", "admin")
TOKEN_PREFIX = "fk_"  # not a secret: the public marker every key starts with  # nosec B105
PREFIX_CHARS = len(TOKEN_PREFIX) + 8
MAX_NAME = 100

# A table of the service, not of the domain; created by migration 0005.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(MAX_NAME), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("scope", String(8), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Revoked keys stay listed, so who had access and until when is not forgotten.
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)


class KeyRefused(ValueError):
    """A key cannot be created or revoked, with the reason."""


class KeyExists(KeyRefused):
    """A key with that name exists already (revoked keys keep their names)."""


class KeyNotFound(KeyRefused):
    """No key has the name or id given."""


@dataclass(frozen=True)
class ApiKey:
    """A stored key, without its secret."""

    id: int
    name: str
    prefix: str
    scope: str
    created_at: str | None
    revoked_at: str | None

    def public(self) -> dict[str, Any]:
        """Return what may be shown of the key: everything but its secret, which is not kept."""
        return {"id": self.id, "name": self.name, "scope": self.scope, "prefix": self.prefix,
                "created_at": self.created_at, "revoked_at": self.revoked_at}

    def allows(self, scope: str) -> bool:
        """Return whether this key's scope includes `scope`."""
        return SCOPES.index(self.scope) >= SCOPES.index(scope)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _key(row: Any) -> ApiKey:
    return ApiKey(id=row.id, name=row.name, prefix=row.prefix, scope=row.scope,
                  created_at=utc_iso(row.created_at), revoked_at=utc_iso(row.revoked_at))


def check_key_fields(name: str, scope: str) -> str:
    """Return the name stripped, or raise KeyRefused when the name or the scope cannot be a key's."""
    name = name.strip()
    if scope not in SCOPES:
        raise KeyRefused(f"Scope must be one of {', '.join(SCOPES)}, got {scope!r}.")
    if not name or len(name) > MAX_NAME or name.isdigit():
        raise KeyRefused(f"A key name is 1 to {MAX_NAME} characters and not only digits (those name ids).")
    return name


def create_key(engine: Engine, *, name: str, scope: str) -> tuple[ApiKey, str]:
    """Store a new key and return it with its token, which is shown this once and never stored."""
    name = check_key_fields(name, scope)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    values = {"name": name, "prefix": token[:PREFIX_CHARS], "token_sha256": _digest(token), "scope": scope,
              "created_at": datetime.now(timezone.utc)}
    try:
        with engine.begin() as conn:
            row = conn.execute(api_keys.insert().values(**values).returning(*api_keys.c)).one()
    except IntegrityError:
        raise KeyExists(f"A key named {name!r} exists already (revoked keys keep their names).") from None
    return _key(row), token


def find_key(engine: Engine, token: str) -> ApiKey | None:
    """Return the active key whose token is `token`, or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    with engine.connect() as conn:
        row = conn.execute(select(api_keys).where(api_keys.c.token_sha256 == _digest(token),
                                                  api_keys.c.revoked_at.is_(None))).first()
    return _key(row) if row is not None else None


def list_keys(engine: Engine) -> list[ApiKey]:
    """Return every key, revoked ones included, oldest first."""
    with engine.connect() as conn:
        return [_key(row) for row in conn.execute(select(api_keys).order_by(api_keys.c.id))]


def count_active(engine: Engine) -> int:
    """Return how many keys are not revoked."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(api_keys)
                                .where(api_keys.c.revoked_at.is_(None))).scalar_one())


def revoke_key(engine: Engine, name_or_id: str) -> ApiKey:
    """Revoke the key named `name_or_id` (or with that id); revoking twice changes nothing."""
    by_id = name_or_id.isascii() and name_or_id.isdigit() and int(name_or_id) < 2**31
    match = api_keys.c.id == int(name_or_id) if by_id else api_keys.c.name == name_or_id
    with engine.begin() as conn:
        conn.execute(update(api_keys).where(match, api_keys.c.revoked_at.is_(None))
                     .values(revoked_at=datetime.now(timezone.utc)))
        row = conn.execute(select(api_keys).where(match)).first()
    if row is None:
        raise KeyNotFound(f"No key has the name or id {name_or_id!r}.")
    return _key(row)
