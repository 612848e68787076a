"""Domain errors, and the JSON front door's one error shape:
{"error": code, "message": text, "details": {...}}.

Services, the transition table and the action catalogue raise the domain errors below; they
carry no HTTP status. `http_status()` maps a domain error to its status once, for the JSON API
(here) and the console (console/forms.py). `ApiError` stays for the few refusals that belong to
the HTTP layer itself (authentication headers, request size).
"""

from __future__ import annotations

import logging
from typing import Any

from apiflask import APIFlask
from apiflask.exceptions import HTTPError, _ValidationError
from flask import Response, jsonify
from flask_limiter.errors import RateLimitExceeded
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# Default code and Chinese message for each status we answer with.
_STATUS_DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "请求格式有误"),
    401: ("unauthorized", "需要登录"),
    403: ("forbidden", "没有权限执行此操作"),
    404: ("not_found", "资源不存在"),
    405: ("method_not_allowed", "不支持该请求方法"),
    409: ("conflict", "与当前状态冲突"),
    410: ("gone", "资源已失效"),
    413: ("payload_too_large", "请求体过大"),
    415: ("unsupported_media_type", "请使用 application/json 提交"),
    422: ("validation_error", "请求参数有误"),
    423: ("locked", "资源已锁定"),
    429: ("rate_limited", "请求过于频繁，请稍后再试"),
    500: ("internal_error", "服务器内部错误，请稍后重试"),
    503: ("service_unavailable", "服务暂不可用，请稍后重试"),
}


# ---------------------------------------------------------------- domain errors


class DomainError(Exception):
    """A refusal the domain explains: a machine code, a Chinese message and details."""

    code = "error"
    message = "请求失败"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.code = code or type(self).code
        self.message = message or type(self).message
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(f"{self.code}: {self.message}")


class NotFound(DomainError):
    """The object does not exist (or, for a resident, is not theirs to know about)."""

    code, message = "not_found", "资源不存在"


class NotPermitted(DomainError):
    """The caller's role or relation to the object never allows this."""

    code, message = "forbidden", "没有权限执行此操作"


class OutOfScope(NotPermitted):
    """The object lies outside the caller's unit subtree."""

    code, message = "out_of_scope", "不在您的办理范围内"


class Unauthenticated(DomainError):
    """No valid identity: sign in (again)."""

    code, message = "unauthorized", "需要登录"


class Conflict(DomainError):
    """The object's current state refuses the request."""

    code, message = "conflict", "与当前状态冲突"


class IllegalTransition(Conflict):
    """The transition table has no row for this (status, action, actor)."""

    code, message = "illegal_transition", "当前状态不能执行该操作"


class Gone(DomainError):
    """The object existed and has been withdrawn (a revoked code)."""

    code, message = "gone", "资源已失效"


class Locked(DomainError):
    """Temporarily refused (too many failed sign-ins)."""

    code, message = "locked", "资源已锁定"


class Unavailable(DomainError):
    """A service the request needs is down or not configured."""

    code, message = "service_unavailable", "服务暂不可用，请稍后重试"


class TooLarge(DomainError):
    """An upload over its size or pixel budget."""

    code, message = "payload_too_large", "请求体过大"


class Unsupported(DomainError):
    """An upload of a kind the product does not take."""

    code, message = "unsupported_media_type", "不支持的文件类型"


class Invalid(DomainError):
    """Input the schema accepted but the domain refuses, by field: {field: message}."""

    code, message = "validation_error", "请求参数有误"

    def __init__(
        self,
        fields: dict[str, str],
        message: str | None = None,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.fields = dict(fields)
        text = message or "请求参数有误：" + "；".join(f"{k}（{v}）" for k, v in fields.items())
        super().__init__(
            text,
            code=code,
            details={**(details or {}), "fields": {k: [v] for k, v in self.fields.items()}},
        )


# The JSON API's (and the console's) one mapping from domain error to HTTP status; the most
# specific class wins (IllegalTransition is a Conflict, OutOfScope a NotPermitted).
DOMAIN_STATUS: dict[type[DomainError], int] = {
    NotFound: 404,
    NotPermitted: 403,
    Unauthenticated: 401,
    Conflict: 409,
    Gone: 410,
    Locked: 423,
    Unavailable: 503,
    TooLarge: 413,
    Unsupported: 415,
    Invalid: 422,
}


def http_status(error: DomainError) -> int:
    """The HTTP status a front door answers a domain error with."""
    return class_status(type(error))


def class_status(cls: type[DomainError]) -> int:
    """The HTTP status of every error of class `cls` (the error catalogue's view)."""
    for base in cls.__mro__:
        if base in DOMAIN_STATUS:
            return DOMAIN_STATUS[base]
    return 400


def status_defaults() -> dict[int, tuple[str, str]]:
    """The default (code, Chinese message) of each status the app answers with."""
    return dict(_STATUS_DEFAULTS)


def status_of(error: Exception) -> int:
    """The status of a domain error, or of an error that carries its own (`ApiError`, a
    console form's), for a front door that catches several kinds."""
    return http_status(error) if isinstance(error, DomainError) else int(error.status)  # type: ignore[attr-defined]


def _defaults(status: int) -> tuple[str, str]:
    return _STATUS_DEFAULTS.get(status, ("error", "请求失败"))


class ApiError(Exception):
    """An error the API reports to the client in the error shape."""

    def __init__(
        self,
        status: int,
        code: str | None = None,
        message: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        default_code, default_message = _defaults(status)
        self.status = status
        self.code = code or default_code
        self.message = message or default_message
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(f"{status} {self.code}: {self.message}")


def error_response(
    status: int,
    code: str | None = None,
    message: str | None = None,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Build the one error response."""
    default_code, default_message = _defaults(status)
    response = jsonify(
        {
            "error": code or default_code,
            "message": message or default_message,
            "details": details or {},
        }
    )
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _validation_response(error: _ValidationError) -> Response:
    # APIFlask gives {location: {field.path: [messages]}}
    fields: dict[str, list[str]] = {}
    locations = list((error.detail or {}).items())
    for _, errors in locations:
        fields.update(errors)
    location = locations[0][0] if locations else None
    names = "、".join(fields) or "请求体"
    return error_response(
        422,
        "validation_error",
        f"请求参数有误：{names}",
        {"location": location, "fields": fields},
    )


def register_error_handlers(app: APIFlask) -> None:
    """Route every error through the one shape; the 500 handler rolls back and hides internals."""
    from app.extensions import db

    @app.error_processor
    def _http_error(error: HTTPError) -> Response:
        if isinstance(error, _ValidationError):
            return _validation_response(error)
        details = error.detail if isinstance(error.detail, dict) else {}
        message = error.message if error.message and not error.message.isascii() else None
        return error_response(error.status_code, None, message, details, dict(error.headers))

    @app.errorhandler(HTTPException)
    def _werkzeug_error(error: HTTPException) -> Response:
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        if isinstance(error, RateLimitExceeded):
            from app.ratelimit import retry_after_seconds

            seconds = retry_after_seconds()
            return error_response(
                429,
                "rate_limited",
                f"请求过于频繁，请 {seconds} 秒后再试",
                {"limit": str(error.limit.limit), "retry_after": seconds},
                {"Retry-After": str(seconds)},
            )
        return error_response(error.code or 500, headers=headers)

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Response:
        if error.status >= 500:
            db.session.rollback()
        return error_response(error.status, error.code, error.message, error.details, error.headers)

    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError) -> Response:
        return error_response(
            http_status(error), error.code, error.message, error.details, error.headers
        )

    @app.errorhandler(IntegrityError)
    def _integrity_error(error: IntegrityError) -> Response:
        # Services check uniqueness first; this answers the race where two requests pass
        # the check together and the database's constraint decides.
        db.session.rollback()
        log.info("integrity error answered as 409: %s", error.orig)
        return error_response(409, "duplicate", "数据与已有记录冲突（重复提交或并发修改）")

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        db.session.rollback()
        log.exception("unhandled error")
        return error_response(500)
