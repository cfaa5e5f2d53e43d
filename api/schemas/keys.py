"""API keys: one, the list, a new one (with its secret, shown once)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.errors import ValidationError
from api.keys import MAX_NAME, KeyRefused, check_key_fields
from api.validation import clean_text, no_unknown_fields

Scope = Literal["read", "write", "admin"]


class Key(BaseModel):
    id: int
    name: str
    scope: Scope
    prefix: str = Field(description="The key's first characters, to recognise it")
    created_at: Any
    revoked_at: Any


class KeyList(BaseModel):
    count: int
    keys: list[Key]


class KeyCreate(BaseModel):
    """A new key; a name taken already (revoked keys keep theirs) is a 409."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME, pattern=r".*\D", description="Not only digits (those name ids)")
    scope: Scope = "read"

    @model_validator(mode="before")
    @classmethod
    def _precise(cls, body: Any) -> Any:
        no_unknown_fields(body, {"name", "scope"})
        name, scope = body.get("name"), body.get("scope", "read")
        if not isinstance(name, str) or not isinstance(scope, str):
            raise ValidationError("'name' and 'scope' must be strings.")
        clean_text(name, "name")
        try:
            name = check_key_fields(name, scope)
        except KeyRefused as exc:  # a ValueError, which pydantic would reword
            raise ValidationError(str(exc)) from None
        return {"name": name, "scope": scope}


class NewKey(Key):
    key: str = Field(description="The secret, in this answer only")
