"""POST /forecast: the request, and the 202 that answers it."""

from __future__ import annotations

from typing import Any

from flask import current_app
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.schemas.common import Accepted
from api.validation import no_unknown_fields, positive_int
from forecasting.data.products import MAX_PRODUCT_ID


class ForecastRequest(BaseModel):
    """Forecast one product `forecast_horizon` days ahead."""

    model_config = ConfigDict(extra="forbid")

    product_id: int = Field(ge=1, le=MAX_PRODUCT_ID)
    forecast_horizon: int = Field(None, ge=1, validate_default=False,
                                  description="Days ahead; DEFAULT_FORECAST_HORIZON (90) when left out",
                                  json_schema_extra={"x-maximum-setting": "MAX_FORECAST_HORIZON"})

    @model_validator(mode="before")
    @classmethod
    def _precise(cls, body: Any) -> Any:
        config = current_app.config
        no_unknown_fields(body, {"product_id", "forecast_horizon"})
        return {"product_id": positive_int(body, "product_id", maximum=MAX_PRODUCT_ID),
                "forecast_horizon": positive_int(body, "forecast_horizon",
                                                 default=config["DEFAULT_FORECAST_HORIZON"],
                                                 maximum=config["MAX_FORECAST_HORIZON"])}


class ForecastAccepted(Accepted):
    product_id: int
    forecast_horizon: int
