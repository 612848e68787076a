"""Schema base classes: request bodies refuse unknown fields; responses read ORM attributes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from app.db import db


class Schema(BaseModel):
    """Base for every request and response schema (one source for validation and OpenAPI)."""

    model_config = ConfigDict(extra="forbid", from_attributes=True, str_strip_whitespace=True)


class PageQuery(Schema):
    page: int = Field(1, ge=1, le=100_000)
    per_page: int = Field(20, ge=1, le=200)


class Page(Schema):
    total: int
    page: int
    per_page: int


def paginate(stmt: sa.Select, query: PageQuery, item_schema: type[Schema]) -> dict[str, Any]:
    """Run `stmt` one page at a time and return the page body."""
    page = db.paginate(stmt, page=query.page, per_page=query.per_page, error_out=False)
    return {
        "items": [item_schema.model_validate(item) for item in page.items],
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
    }
