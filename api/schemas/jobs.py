"""Jobs: one job, a page of them, the filters of the list."""

from __future__ import annotations

from typing import Any, Literal

from flask import current_app
from pydantic import BaseModel, Field, model_validator

from api.schemas.common import Links, Page, Query, paging_args
from api.validation import choice_param, int_param
from forecasting.data.products import MAX_PRODUCT_ID
from jobs.records import KINDS, STATUSES

Status = Literal["queued", "running", "succeeded", "failed", "skipped", "cancelled"]
Kind = Literal["forecast", "train", "batch"]


class Progress(BaseModel):
    percent: float | None = Field(None, ge=0, le=100)
    stage: str | None = None


class Failure(BaseModel):
    product_id: int | None
    error: str | None
    error_code: str | None
    job_id: str


class Job(BaseModel):
    """A job as recorded: state, progress, result or error."""

    id: str
    kind: Kind
    status: Status
    product_id: int | None
    progress: Progress
    params: dict[str, Any] | None
    attempts: int
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    result: Any = Field(description="Once succeeded: a forecast job's ForecastResult (with `warnings`, and "
                                    "`options` when asked with options), or a training's outcome")
    error: str | None
    error_code: str | None = Field(description="Stable: insufficient_history, product_not_found, training_busy, "
                                               "time_limit, worker_lost, broker_unavailable, batch_failed, "
                                               "invalid_forecast_options, internal_error")
    parent_id: str | None
    links: Links
    counts: dict[str, int] | None = Field(None, description="A batch's children by status")
    failures: list[Failure] | None = Field(None, description="A batch's failed children")


class JobPage(Page):
    jobs: list[Job]


class JobWait(Query):
    """?wait=N: answer once the job ended, or after N seconds."""

    wait: int = Field(0, ge=0, description="Seconds to wait for the job to end",
                      json_schema_extra={"x-maximum-setting": "MAX_JOB_WAIT_SECONDS"})

    @model_validator(mode="before")
    @classmethod
    def _precise(cls, args: Any) -> Any:
        return {"wait": int_param(args, "wait", default=0, minimum=0,
                                  maximum=current_app.config["MAX_JOB_WAIT_SECONDS"])}


class JobFilters(Query):
    """Filters and page of GET /jobs."""

    status: Status | None = None
    kind: Kind | None = None
    product_id: int | None = Field(None, ge=1, le=MAX_PRODUCT_ID)
    parent_id: str | None = Field(None, description="The batch whose children to list")
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _precise(cls, args: Any) -> Any:
        checked = {"status": choice_param(args, "status", STATUSES),
                   "kind": choice_param(args, "kind", sorted(KINDS))}
        if args.get("product_id") is not None:
            checked["product_id"] = int_param(args, "product_id", default=0, minimum=1, maximum=MAX_PRODUCT_ID)
        return {**args, **checked, **paging_args(args)}
