"""POST /forecast: the request with its options, the 202 that answers it; a forecast result; bulk forecasts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import current_app
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from api.forecast_options import OPTION_FIELDS, forecast_options
from api.schemas.calendar import CALENDAR_ROW
from api.schemas.common import Accepted, Links
from api.schemas.health import ChartQuery
from api.errors import ValidationError
from api.validation import no_unknown_fields, positive_int
from forecasting.data.products import MAX_PRODUCT_ID
from forecasting.lifecycle.forecast_options import MAX_LEVEL, MAX_LEVELS, MAX_OVERRIDES, MIN_LEVEL
from forecasting.models.model_set import ALL_MEMBERS

_LEVEL = {"type": "integer", "minimum": MIN_LEVEL, "maximum": MAX_LEVEL}
Member = Literal["prophet", "lstm", "random_forest", "tsb"]


class ForecastRequest(BaseModel):
    """Forecast one product `forecast_horizon` days ahead; the options change what is forecast.

    A request without options (or with the defaults spelled out) is the set's own forecast,
    which the saved forecast may answer; any option makes the worker compute it for this request.
    """

    model_config = ConfigDict(extra="forbid")

    product_id: int = Field(ge=1, le=MAX_PRODUCT_ID)
    forecast_horizon: int = Field(None, ge=1, validate_default=False,
                                  description="Days ahead; DEFAULT_FORECAST_HORIZON (90) when left out",
                                  json_schema_extra={"x-maximum-setting": "MAX_FORECAST_HORIZON"})
    level: Annotated[int | list[int] | None, WithJsonSchema({
        "anyOf": [_LEVEL, {"type": "array", "items": _LEVEL, "minItems": 1, "maxItems": MAX_LEVELS}],
        "description": f"Interval levels in percent, {MIN_LEVEL}..{MAX_LEVEL}: one or up to {MAX_LEVELS} "
                       "(repeats count once); sorted ascending, `lower`/`upper` bound the first, "
                       "`lower_<L>`/`upper_<L>` the others. Default: the sets' own, [80, 95]",
        "examples": [[50, 90]]})] = None
    frequency: Literal["daily", "weekly", "monthly"] = Field(
        "daily", description="`weekly` (Monday to Sunday) or `monthly` (calendar months): each point sums a "
                             "period's forecast days (`end` its last day, `days` how many)")
    members: Annotated[list[Member] | None, WithJsonSchema({
        "type": "array", "items": {"enum": list(ALL_MEMBERS)}, "minItems": 1, "uniqueItems": True,
        "description": "The members to forecast with, weights renormalised over them; each must be in the "
                       "product's model set. Default: the whole set"})] = None
    calendar: Annotated[list[dict[str, Any]] | None, WithJsonSchema({
        "type": "array", "items": CALENDAR_ROW, "minItems": 1, "maxItems": MAX_OVERRIDES,
        "description": "What-if calendar rows for forecast days (the `forecast_horizon` days after the last "
                       "sales day), checked like PUT /products/{product_id}/calendar rows and merged over "
                       "the stored calendar for this forecast only; nothing is stored"})] = None

    @model_validator(mode="before")
    @classmethod
    def _precise(cls, body: Any) -> Any:
        config = current_app.config
        no_unknown_fields(body, {"product_id", "forecast_horizon", *OPTION_FIELDS})
        checked = {"product_id": positive_int(body, "product_id", maximum=MAX_PRODUCT_ID),
                   "forecast_horizon": positive_int(body, "forecast_horizon",
                                                    default=config["DEFAULT_FORECAST_HORIZON"],
                                                    maximum=config["MAX_FORECAST_HORIZON"])}
        # The options' own rules, with their messages (the view reads them into ForecastOptions).
        forecast_options(body, ())
        return {**body, **checked}


class ForecastAccepted(Accepted):
    product_id: int
    forecast_horizon: int


class SavedForecastQuery(ChartQuery):
    """?horizon=N: days of the saved forecast to answer."""


class ForecastWarning(BaseModel):
    """Forecast days whose calendar leaves a value the model set reads unstated, for one field."""

    field: str = Field(description="`open`, or a regressor's name")
    default: bool | float = Field(description="The value those days were read as")
    count: int = Field(ge=0)
    days: list[str]
    detail: str


class UsedOptions(BaseModel):
    """What a forecast with options used."""

    level: list[int]
    frequency: Literal["daily", "weekly", "monthly"]
    members: list[str]
    weights: dict[str, float] = Field(description="The members' weights, renormalised over those chosen")
    calendar_overrides: int = Field(ge=0, description="What-if calendar rows applied")


class ForecastModel(BaseModel):
    """The model set that made a forecast."""

    trained_at: str | None
    weights: dict[str, float] | None
    metrics: dict[str, Any] | None
    trained_now: bool | None = Field(None, description="Whether the forecast's job trained the set first")
    reason: str | None = Field(None, description="Why it trained (missing, stale...), when it did")


class ForecastResult(BaseModel):
    """A forecast: one point per day (or per week or month), and the model set that made it.

    A point holds `date`, `forecast` (the ensemble), `lower`/`upper` (the first interval level),
    `lower_<L>`/`upper_<L>` (the others) and each member's value; weekly and monthly points add
    `end` and `days`.
    """

    product_id: int
    horizon: int
    history_end: str | None
    model: ForecastModel
    warnings: list[ForecastWarning] = Field(default_factory=list,
                                            description="Forecast days that took a calendar default (absent "
                                                        "from forecasts recorded before warnings existed)")
    points: list[dict[str, Any]]
    options: UsedOptions | None = Field(None, description="Only in a forecast with options")


class BulkForecastRequest(BaseModel):
    """Forecast a list of products (`product_ids`) or every product (`all`), each `forecast_horizon` days ahead."""

    model_config = ConfigDict(extra="forbid")

    product_ids: list[Annotated[int, Field(ge=1, le=MAX_PRODUCT_ID)]] | None = Field(
        None, min_length=1, description="Existing products, each once; give this or `all`",
        json_schema_extra={"x-maximum-items-setting": "MAX_BATCH_PRODUCTS", "uniqueItems": True})
    all: Literal[True] | None = Field(None, description="Every product; give this or `product_ids`")
    forecast_horizon: int = Field(None, ge=1, validate_default=False,
                                  description="Days ahead; DEFAULT_FORECAST_HORIZON (90) when left out",
                                  json_schema_extra={"x-maximum-setting": "MAX_FORECAST_HORIZON"})

    @model_validator(mode="before")
    @classmethod
    def _precise(cls, body: Any) -> Any:
        # Whether the ids name products is the view's look at the database (a 422 naming them).
        config = current_app.config
        no_unknown_fields(body, {"product_ids", "all", "forecast_horizon"})
        horizon = positive_int(body, "forecast_horizon", default=config["DEFAULT_FORECAST_HORIZON"],
                               maximum=config["MAX_FORECAST_HORIZON"])
        if ("product_ids" in body) == ("all" in body):
            raise ValidationError("Give exactly one of 'product_ids' or 'all'.")
        if "all" in body:
            if body["all"] is not True:
                raise ValidationError("'all' must be true.", "all")
            return {"all": True, "forecast_horizon": horizon}
        value, limit = body["product_ids"], config["MAX_BATCH_PRODUCTS"]
        if not isinstance(value, list) or not value:
            raise ValidationError("'product_ids' must be a non-empty array of product ids.", "product_ids")
        if len(value) > limit:
            raise ValidationError(f"'product_ids' may hold at most {limit} ids (MAX_BATCH_PRODUCTS), "
                                  f"got {len(value)}.", "product_ids")
        ids = [positive_int({"product_ids[]": v}, "product_ids[]", maximum=MAX_PRODUCT_ID) for v in value]
        if len(set(ids)) != len(ids):
            raise ValidationError("'product_ids' lists a product more than once.", "product_ids")
        return {"product_ids": ids, "forecast_horizon": horizon}


class BulkLinks(Links):
    result: str = Field(description="The forecasts once the batch has ended (GET /jobs/{job_id}/result)")


class BulkForecastAccepted(Accepted):
    selection: Literal["ids", "all"]
    forecast_horizon: int
    links: BulkLinks


class ForecastExport(BaseModel):
    """An ended job's forecasts as JSON (CSV and JSON Lines: one row per product and day)."""

    job_id: str
    kind: Literal["forecast", "batch"]
    status: Literal["succeeded", "failed", "skipped", "cancelled"]
    forecast_horizon: int
    counts: dict[str, int] | None = Field(None, description="A bulk forecast's children by status")
    forecasts: list[ForecastResult]
