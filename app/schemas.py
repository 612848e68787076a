"""Schema base classes: request bodies refuse unknown fields and text no database can keep;
responses read ORM attributes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from typing import Annotated, Any, TypeVar

import sqlalchemy as sa
from apiflask import HTTPError
from apiflask.schema_adapters import registry
from apiflask.schema_adapters.pydantic import PydanticAdapter
from flask import Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator
from pydantic_core import ErrorDetails

from app.db import db

# The ids a request may name (paths use the same bound, see IdConverter): our integer keys
# are 32-bit on PostgreSQL, so a larger number names nothing, and must never reach a query the
# database refuses ("integer out of range" would be a 500).
MAX_ID = 2**31 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
StrictId = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
# The dates a query may ask about: the calendar's years. Far outside them date arithmetic
# overflows (9999-12-31 and a day, 0001-01-01 in UTC) and there is nothing to find anyway.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)
Day = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY)]


# Characters no text may carry: NUL (PostgreSQL text cannot hold it), the other C0 controls
# but tab and line breaks (nobody types them, and Excel files cannot hold them) and lone UTF-16
# surrogates (JSON "\ud800" escapes: not text, neither database can store them). Everything
# else, emoji and direction marks included, is kept as sent.
UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
UNSTORABLE_MESSAGE = "含有无法保存的字符（空字符、控制字符或残缺的 Unicode 字符）"


# Set while a request's own data is validated. The same schemas also shape responses, whose
# text comes from the database: it was judged when it came in (or by whoever stored it some
# other way) and is never judged again, so an old row cannot turn every read into a 500.
_validating_request: ContextVar[bool] = ContextVar("validating_request", default=False)
SchemaT = TypeVar("SchemaT", bound=BaseModel)


@contextmanager
def request_input() -> Iterator[None]:
    """Validation inside this block is of what a request sent."""
    token = _validating_request.set(True)
    try:
        yield
    finally:
        _validating_request.reset(token)


# pydantic's error types in the words a resident or a staff member reads, for every front door
# (the JSON API's 422 `details.fields`, the console's and the H5 page's forms); `{name}` is
# filled from the error's context. A type not listed reads "填写有误".
ERROR_MESSAGES: dict[str, str] = {
    "missing": "请填写此项",
    "string_too_long": "不能超过 {max_length} 个字",
    "string_pattern_mismatch": "格式不正确",
    "string_type": "请填写文字",
    "int_parsing": "请填写整数",
    "int_type": "请填写整数",
    "int_from_float": "请填写整数",
    "bool_parsing": "请填写是或否",
    "bool_type": "请填写是或否",
    "greater_than_equal": "不能小于 {ge}",
    "greater_than": "必须大于 {gt}",
    "less_than_equal": "不能大于 {le}",
    "less_than": "必须小于 {lt}",
    "enum": "请选择一项",
    "literal_error": "请选择一项",
    "date_parsing": "请填写日期，如 2026-01-31",
    "date_from_datetime_parsing": "请填写日期，如 2026-01-31",
    "date_type": "请填写日期，如 2026-01-31",
    "datetime_parsing": "请填写时间",
    "datetime_from_date_parsing": "请填写时间",
    "datetime_type": "请填写时间",
    "too_short": "至少 {min_length} 项",
    "too_long": "至多 {max_length} 项",
    "list_type": "应为列表",
    "dict_type": "格式不正确",
    "model_type": "格式不正确",
    "model_attributes_type": "格式不正确",
    "extra_forbidden": "不认识的字段",
    "json_invalid": "不是有效的 JSON",
}


def error_message(error: ErrorDetails) -> str:
    """One pydantic error as a Chinese message."""
    kind = error["type"]
    context = error.get("ctx") or {}
    if kind in ("value_error", "assertion_error"):
        # Our validators raise with the Chinese message already.
        return str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "string_too_short":
        # At least one character is "required"; a longer minimum is a length to reach.
        minimum = context.get("min_length", 1)
        return "请填写此项" if minimum <= 1 else f"不能少于 {minimum} 个字"
    try:
        return ERROR_MESSAGES.get(kind, "填写有误").format(**context)
    except (KeyError, IndexError):
        return "填写有误"


def field_errors(error: ValidationError, whole: str = "_schema") -> dict[str, list[str]]:
    """Chinese messages by dotted field path; errors of no one field go under `whole`."""
    fields: dict[str, list[str]] = {}
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"]) or whole
        fields.setdefault(name, []).append(error_message(item))
    return fields


def form_errors(error: ValidationError) -> dict[str, str]:
    """A page form's errors: one message a field, "form" for the form as a whole."""
    return {name: messages[0] for name, messages in field_errors(error, "form").items()}


def validate_request(schema: type[SchemaT], data: Any) -> SchemaT:
    """`schema` validated from a request's data (a form the console or the H5 page read)."""
    with request_input():
        return schema.model_validate(data)


class RequestInputAdapter(PydanticAdapter):
    """APIFlask's pydantic adapter, validating `@bp.input` data as request input and
    reporting its field errors in Chinese."""

    def validate_input(self, request: Request, location: str, **kwargs: Any) -> BaseModel:
        with request_input():
            try:
                return super().validate_input(request, location, **kwargs)
            except HTTPError as error:
                # The stock adapter keeps pydantic's English text; it chains the original.
                if isinstance(error.__cause__, ValidationError):
                    error.detail = {location: field_errors(error.__cause__)}
                raise


# In place of the stock adapter. Here, at import, because `@bp.input` picks its adapter when
# a route is declared, and every module declaring routes imports this one first.
registry.register("pydantic", RequestInputAdapter)


def _has_unstorable(value: Any) -> bool:
    if isinstance(value, str):
        return UNSTORABLE.search(value) is not None
    if isinstance(value, dict):
        return any(_has_unstorable(k) or _has_unstorable(v) for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return any(_has_unstorable(item) for item in value)
    return False


class Schema(BaseModel):
    """Base for every request and response schema (one source for validation and OpenAPI)."""

    model_config = ConfigDict(extra="forbid", from_attributes=True, str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_unstorable_text(cls, value: Any) -> Any:
        if _validating_request.get() and _has_unstorable(value):
            raise ValueError(UNSTORABLE_MESSAGE)
        return value


MAX_PAGE = 100_000


class PageQuery(Schema):
    page: int = Field(1, ge=1, le=MAX_PAGE)
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
