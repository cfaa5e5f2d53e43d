"""Schemas every resource shares: the problem document, links, pages and their query."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.validation import int_param

PAGE_LIMIT_MAX = 1000


class Problem(BaseModel):
    """An error, as RFC 9457 application/problem+json."""

    type: str = Field(description="A link to this problem's entry in the docs (/api/v1/docs/problems#slug), "
                                  "or about:blank")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="What is wrong, naming the field or part")
    field: str | None = Field(None, description="The field at fault, when there is one")
    required_scope: str | None = Field(None, description="The scope a 403 needed")
    job_status: str | None = Field(None, description="The job's status (409 of a cancel or of a result read early)")
    fresh: bool | None = Field(None, description="404 of a saved forecast: whether the product's model set is "
                                                 "fresh (then the horizon is longer than the saved forecast)")
    available: list[str] | None = Field(None, description="406: the media types the resource is available as")


class Links(BaseModel):
    """Where to go from here."""

    self: str | None = None
    next: str | None = Field(None, description="The next page, while more remain")
    result: str | None = Field(None, description="A forecast job's or bulk forecast's forecasts "
                                                 "(GET /jobs/{job_id}/result)")


class Query(BaseModel):
    """Query parameters: unknown ones are ignored, numbers are ASCII digits."""

    model_config = ConfigDict(extra="ignore")


class Paging(Query):
    """?limit=&offset=: a page of a list."""

    limit: int = Field(100, ge=1, le=PAGE_LIMIT_MAX, description="Items per page")
    offset: int = Field(0, ge=0, description="Items to skip")

    @model_validator(mode="before")
    @classmethod
    def _precise(cls, args: Any) -> Any:
        return {**args, **paging_args(args)}


def paging_args(args: Any) -> dict[str, int]:
    """Return limit and offset read from query parameters, or raise a 422 naming the one at fault."""
    return {"limit": int_param(args, "limit", default=100, minimum=1, maximum=PAGE_LIMIT_MAX),
            "offset": int_param(args, "offset", default=0, minimum=0)}


class Page(BaseModel):
    """A page of a list: how many in all, this page's place, and the link to the next one."""

    total: int = Field(ge=0, description="Items in the whole list")
    count: int = Field(ge=0, description="Items on this page")
    limit: int
    offset: int
    links: Links


class Accepted(BaseModel):
    """A job was queued: poll `links.self` (also in `Location`) after `Retry-After` seconds."""

    job_id: str
    status: str
    links: Links
