"""GET /health and the chart's query."""

from __future__ import annotations

from typing import Any, Literal

from flask import current_app
from pydantic import BaseModel, Field, model_validator

from api.schemas.common import Query
from api.validation import int_param


class Health(BaseModel):
    """ok or degraded, and each part's check (timings and errors only for an admin key)."""

    status: Literal["ok", "degraded"]
    checks: dict[str, dict[str, Any]]


class ChartQuery(Query):
    horizon: int = Field(None, ge=1, validate_default=False,
                         description="Days to draw; DEFAULT_FORECAST_HORIZON when left out",
                         json_schema_extra={"x-maximum-setting": "MAX_FORECAST_HORIZON"})

    @model_validator(mode="before")
    @classmethod
    def _precise(cls, args: Any) -> Any:
        config = current_app.config
        return {"horizon": int_param(args, "horizon", default=config["DEFAULT_FORECAST_HORIZON"], minimum=1,
                                     maximum=config["MAX_FORECAST_HORIZON"])}
