"""The mobile H5 rating page at /q/{token}: what any phone's scanner opens outside WeChat.

Server-rendered forms that work without JavaScript. The browser gets an anonymous device
identity in a signed, HttpOnly cookie; forms carry a CSRF token (Flask-WTF, app/csrf.py,
kept in the page's own session cookie) and a submission id that doubles as the
Idempotency-Key, so a resubmitted form shows the same receipt instead of rating twice.

The page lives in clues/ because the form files the clue a bad rating carries: the same
application call as POST /evaluations (clues.intake.submit_rating).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, make_response, render_template, request
from pydantic import ValidationError
from werkzeug.datastructures import MultiDict

from app.clock import LOCAL_TZ
from app.csrf import CSRFError, csrf_token, own_session_cookie
from app.errors import ApiError, DomainError, Unauthenticated, http_status
from app.extensions import db
from app.ratelimit import address_key, configured, limiter, network_key
from app.schemas import form_errors, validate_request
from clues.intake import submit_rating
from evaluations.identity import (
    ResidentIdentity,
    h5_sign_in,
    identity_from_token,
    identity_of,
    resident_id_from_token,
    resident_token,
    sign_in_resident,
)
from evaluations.questionnaire import BAD_LEVELS, LEVELS, categories_body, current_questionnaire
from evaluations.schemas import EvaluationIn
from qr.models import QRCode
from qr.service import count_scan, resolve_token

bp = Blueprint("h5", __name__, template_folder="templates")


@bp.app_template_filter("local_date")
def local_date_filter(moment: str | datetime | None) -> str:
    """An instant as the Beijing-time date residents read: 2026年11月24日."""
    if not moment:
        return ""
    when = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    day = when.astimezone(LOCAL_TZ)
    return f"{day.year}年{day.month}月{day.day}日"


DEVICE_COOKIE = "pingyi_device"
CSRF_COOKIE = "pingyi_csrf"
COOKIE_PATH = "/q"
own_session_cookie(bp, name=CSRF_COOKIE, path=COOKIE_PATH)


def _device_key() -> str:
    token = request.cookies.get(DEVICE_COOKIE)
    rid = resident_id_from_token(token) if token else None
    return f"id:{rid}" if rid is not None else address_key()


def _page(template: str, status: int = 200, **context: Any) -> Response:
    """An H5 page; its security headers (no Referer: the URL holds the QR token; no script;
    never cached) come from app/security.py."""
    return make_response(render_template(template, **context), status)


def _cookie_args() -> dict[str, Any]:
    """The page's cookies are only for the page: script cannot read them, other sites' forms
    do not carry them, and the resident's device token goes nowhere but /q/."""
    return {
        "httponly": True,
        "samesite": "Lax",
        "secure": current_app.config["PUBLIC_BASE_URL"].startswith("https://"),
        "path": COOKIE_PATH,
    }


def _form_context(code: QRCode, csrf: str, **extra: Any) -> dict[str, Any]:
    questionnaire = current_questionnaire(code.unit.kind)
    return {
        "code": code,
        "unit": code.unit,
        "officer": code.officer,
        "officers": [code.officer] if code.officer else [],
        "levels": list(LEVELS.items()),
        "bad_levels": BAD_LEVELS,
        "questionnaire": questionnaire,
        "reason_groups": _reason_groups(questionnaire.reasons),
        "categories": categories_body(),
        "csrf": csrf,
        "submission_id": secrets.token_urlsafe(16),
        "form": MultiDict(),
        "errors": {},
        **extra,
    }


def _reason_groups(reasons: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Reasons grouped by the levels that share them, for the CSS that shows the right group."""
    groups: list[dict[str, Any]] = []
    for level in sorted(LEVELS, reverse=True):
        options = reasons.get(str(level), [])
        for group in groups:
            if group["options"] == options:
                group["levels"].append(level)
                break
        else:
            if options:
                groups.append({"levels": [level], "options": options})
    return groups


def _status(error: ApiError | DomainError) -> int:
    return error.status if isinstance(error, ApiError) else http_status(error)


def _resolve_for_page(token: str) -> QRCode | Response:
    try:
        return resolve_token(token)
    except (ApiError, DomainError) as error:
        if _status(error) == 410:
            current = error.details.get("current")
            return _page(
                "h5/message.html",
                410,
                title="二维码已停用",
                message="这个二维码已经停用了。",
                current_url=current and current["url"],
            )
        if _status(error) == 404:
            return _page(
                "h5/message.html",
                404,
                title="二维码无效",
                message="没有找到这个二维码，请核对后重新扫描窗口张贴的二维码。",
            )
        raise


@bp.get("/q/<token>")
def rate_page(token: str) -> Response:
    """评价页面"""
    code = _resolve_for_page(token)
    if isinstance(code, Response):
        return code
    count_scan(code)
    response = _page("h5/rate.html", **_form_context(code, csrf_token()))
    db.session.commit()
    return response


@bp.errorhandler(CSRFError)
def _csrf_refused(error: CSRFError) -> Response:
    return _page(
        "h5/message.html",
        400,
        title="页面已过期",
        message="页面已过期或来自别处，请返回重新打开评价页面后再提交。",
    )


@bp.post("/q/<token>")
@limiter.limit(configured("RATE_LIMIT_ADDRESS"), key_func=network_key, scope="rate-address")
@limiter.limit(configured("RATE_LIMIT_RESIDENT"), key_func=_device_key, scope="rate-resident")
def rate_submit(token: str) -> Response:
    """提交评价表单"""
    code = _resolve_for_page(token)
    if isinstance(code, Response):
        return code
    csrf = csrf_token()
    form = request.form
    try:
        questionnaire = current_questionnaire(code.unit.kind)
        body = validate_request(
            EvaluationIn, _body_from_form(token, form, questionnaire.reasons_for)
        )
    except ValidationError as exc:
        errors = form_errors(exc)
        return _page(
            "h5/rate.html",
            422,
            **_form_context(
                code, csrf, form=form, errors=errors, submission_id=form.get("submission_id")
            ),
        )
    resident = _device_resident()
    sign_in_resident(resident)
    try:
        submission = submit_rating(
            resident=resident,
            body=body,
            client_addr=request.remote_addr or "",
            idempotency_key=(form.get("submission_id") or None),
        )
    except (ApiError, DomainError) as error:
        db.session.rollback()
        if _status(error) == 422:
            return _page(
                "h5/rate.html",
                422,
                **_form_context(
                    code,
                    csrf,
                    form=form,
                    submission_id=form.get("submission_id"),
                    errors={k: v[0] for k, v in error.details.get("fields", {}).items()}
                    or {"form": error.message},
                ),
            )
        return _page("h5/message.html", _status(error), title="未能提交", message=error.message)
    db.session.commit()
    response = _page(
        "h5/receipt.html",
        201,
        unit=code.unit,
        officer=code.officer,
        level=body.level,
        level_label=LEVELS[body.level],
        clue=submission.body["clue"],
    )
    response.set_cookie(
        DEVICE_COOKIE,
        resident_token(resident)["token"],
        max_age=current_app.config["RESIDENT_TOKEN_TTL_SECONDS"],
        **_cookie_args(),
    )
    return response


def _device_resident() -> ResidentIdentity:
    token = request.cookies.get(DEVICE_COOKIE)
    if token:
        try:
            return identity_from_token(token)
        except (ApiError, Unauthenticated):
            pass  # expired or forged: a new device identity, as for a first visit
    return identity_of(h5_sign_in())


def _body_from_form(
    token: str, form: Any, reasons_for: Callable[[int], list[str]]
) -> dict[str, Any]:
    """The API body a form stands for. Reasons of groups hidden for the chosen level are
    dropped: the resident could not see them as selected."""
    body: dict[str, Any] = {"qr_token": token}
    if form.get("level", "").isdecimal():  # isdigit() admits "²", which int() refuses
        body["level"] = int(form["level"])
    dimensions = {
        key[4:]: int(value)
        for key, value in form.items()
        if key.startswith("dim_") and value.isdecimal()
    }
    if dimensions:
        body["dimensions"] = dimensions
    allowed = set(reasons_for(body["level"])) if "level" in body else set()
    reasons = [r for r in form.getlist("reason") if r in allowed]
    if reasons:
        body["reasons"] = reasons
    if form.get("comment", "").strip():
        body["comment"] = form["comment"]
    if form.get("officer_id", "").isdecimal():
        body["officer_id"] = int(form["officer_id"])
    if form.get("with_clue") == "1":
        clue: dict[str, Any] = {
            "category": form.get("clue_category", ""),
            "description": form.get("clue_description", ""),
            "identity": form.get("clue_identity", ""),
        }
        if clue["identity"] == "confidential" and form.get("clue_phone", "").strip():
            clue["phone"] = form["clue_phone"].strip()
        body["clue"] = clue
    return body
