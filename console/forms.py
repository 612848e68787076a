"""HTML forms to the API's request schemas: the console validates with the same pydantic
models as the JSON API (one source of truth), after turning form strings into numbers and
booleans, and reports errors in Chinese by field."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from werkzeug.datastructures import MultiDict

from app.errors import ApiError, DomainError
from app.schemas import form_errors, validate_request

INT_FIELDS = frozenset({"unit_id", "days", "assignee_id", "persons_handled", "master_id"})
BOOL_FIELDS = frozenset({"involves_misconduct"})

FIELD_LABELS = {
    "note": "备注",
    "reason": "理由",
    "message": "告诉反映人的话",
    "master": "主线索编号",
    "master_id": "主线索",
    "unit_id": "核查单位",
    "days": "期限（工作日）",
    "assignee_id": "承办人",
    "outcome": "核查结论",
    "findings": "核查情况",
    "measures": "处理措施",
    "persons_handled": "组织处理人数",
    "involves_misconduct": "是否涉及违纪违规",
    "reply_to_reporter": "答复反映人",
    "response": "书面回复",
    "label": "窗口名称",
    "officer_id": "人员",
    "self_verification_reason": "自查理由",
}


class FormError(Exception):
    """A form that did not validate: messages by field name ("form" for the whole form)."""

    def __init__(self, errors: dict[str, str], status: int = 422) -> None:
        super().__init__(errors)
        self.errors = errors
        self.status = status


def parse(
    schema: type[BaseModel], form: MultiDict[str, str], extra: dict[str, Any] | None = None
) -> Any:
    """Validate the schema's fields out of a submitted form; FormError when invalid."""
    body: dict[str, Any] = {}
    for name in schema.model_fields:
        raw = form.get(name)
        if name in BOOL_FIELDS:
            body[name] = raw in ("1", "on", "true")
            continue
        if raw is None or raw.strip() == "":
            continue  # empty: the default, or "missing" when the field is required
        value = raw.strip()
        body[name] = int(value) if name in INT_FIELDS and _is_int(value) else value
    body.update(extra or {})
    try:
        return validate_request(schema, body)
    except ValidationError as exc:
        raise FormError(form_errors(exc)) from exc


def _is_int(value: str) -> bool:
    return value.lstrip("-").isdecimal()  # isdigit() admits "²", which int() refuses


def api_error_fields(error: ApiError | DomainError) -> dict[str, str]:
    """The service's field errors (422 details) by field, else one message for the form."""
    fields = error.details.get("fields") if isinstance(error.details, dict) else None
    if isinstance(fields, dict) and fields:
        return {
            name: (messages[0] if isinstance(messages, list) and messages else str(messages))
            for name, messages in fields.items()
        }
    return {"form": error.message}


def describe(errors: dict[str, str], labels: dict[str, str] | None = None) -> list[str]:
    """Errors as lines a person reads: 「期限（工作日）：不能大于 90」; `labels` names the
    fields as the page does where it differs from the usual."""
    names = {**FIELD_LABELS, **(labels or {})}
    return [
        message if name == "form" else f"{names.get(name, name)}：{message}"
        for name, message in errors.items()
    ]
