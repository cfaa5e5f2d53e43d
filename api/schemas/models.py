"""Model sets: the list, one set, its training history, retraining."""

from __future__ import annotations

from typing import Any

from flask import current_app
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.errors import ValidationError
from api.schemas.common import Accepted, Page, Query
from api.validation import int_param, no_unknown_fields, positive_int
from forecasting.data.products import MAX_PRODUCT_ID


class ModelSummary(BaseModel):
    """One stored set, as GET /models lists it."""

    model_config = ConfigDict(extra="allow")

    product_id: int
    status: str = Field(description="ok, or why the set cannot be used (e.g. untrusted)")


class ModelPage(Page):
    models: list[ModelSummary]


class ModelInfo(BaseModel):
    """A set's model_info.json as stored, and whether its signature verifies."""

    model_config = ConfigDict(extra="allow")

    trusted: bool
    untrusted_reason: str | None


class HistoryQuery(Query):
    limit: int = Field(50, ge=1, le=1000)

    @model_validator(mode="before")
    @classmethod
    def _precise(cls, args: Any) -> Any:
        return {"limit": int_param(args, "limit", default=50, minimum=1, maximum=1000)}


class TrainingHistory(BaseModel):
    product_id: int
    count: int
    runs: list[dict[str, Any]]


class RetrainOne(BaseModel):
    """Optional body: {"force": false} skips a set that is still fresh (default true)."""

    model_config = ConfigDict(extra="forbid")

    force: bool = True

    @model_validator(mode="before")
    @classmethod
    def _precise(cls, body: Any) -> Any:
        no_unknown_fields(body, {"force"})
        if not isinstance(body.get("force", True), bool):
            raise ValidationError("'force' must be true or false.", "force")
        return body


class RetrainMany(BaseModel):
    """Exactly one of `product_ids`, `all: true` or `only_stale: true` (admin for the last two)."""

    model_config = ConfigDict(extra="forbid")

    product_ids: list[int] | None = Field(None, min_length=1,
                                          json_schema_extra={"x-maximum-items-setting": "MAX_BATCH_PRODUCTS"})
    all: bool | None = None
    only_stale: bool | None = None
    force: bool | None = Field(None, description="Default: true, but false with only_stale")

    @model_validator(mode="before")
    @classmethod
    def _precise(cls, body: Any) -> Any:
        no_unknown_fields(body, {"product_ids", "all", "only_stale", "force"})
        chosen = [name for name in ("product_ids", "all", "only_stale") if name in body]
        if len(chosen) != 1:
            raise ValidationError("Give exactly one of 'product_ids', 'all' or 'only_stale'.")
        force = body.get("force", "only_stale" not in body)
        if not isinstance(force, bool):
            raise ValidationError("'force' must be true or false.", "force")
        if "product_ids" in body:
            return {"product_ids": _product_ids(body["product_ids"]), "force": force}
        if body[chosen[0]] is not True:
            raise ValidationError(f"'{chosen[0]}' must be true.", chosen[0])
        return {chosen[0]: True, "force": force}


def _product_ids(value: Any) -> list[int]:
    limit = current_app.config["MAX_BATCH_PRODUCTS"]
    if not isinstance(value, list) or not value:
        raise ValidationError("'product_ids' must be a non-empty array of product ids.", "product_ids")
    if len(value) > limit:
        raise ValidationError(f"'product_ids' may hold at most {limit} ids, got {len(value)}.", "product_ids")
    ids = [positive_int({"product_ids[]": v}, "product_ids[]", maximum=MAX_PRODUCT_ID) for v in value]
    if len(set(ids)) != len(ids):
        raise ValidationError("'product_ids' lists a product more than once.", "product_ids")
    return ids


class TrainingAccepted(Accepted):
    product_id: int
    created: bool = Field(description="False when a queued training was returned instead of a new one")


class BatchAccepted(Accepted):
    selection: str = Field(description="ids, all or stale")
