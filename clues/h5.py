"""The mobile H5 rating page at /q/{token}: what any phone's scanner opens outside WeChat.

Server-rendered forms that work without JavaScript. The browser gets an anonymous device
identity in a signed, HttpOnly cookie; forms carry a CSRF token (Flask-WTF, app/csrf.py,
kept in the page's own session cookie) and a submission id that doubles as the
Idempotency-Key, so a resubmitted form shows the same receipt instead of rating twice.

The page lives in clues/ because the form files the clue a bad rating carries: the same
application call as POST /evaluations (clues.intake.submit_rating).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, make_response, render_template, request
from flask_limiter import RateLimitExceeded
from pydantic import ValidationError
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from app.clock import LOCAL_TZ, utcnow
from app.csrf import CSRFError, csrf_token, own_session_cookie
from app.errors import ApiError, DomainError, Invalid, Unauthenticated, http_status
from app.extensions import db
from app.org.models import Unit
from app.ratelimit import (
    address_key,
    configured,
    limiter,
    network_key,
    retry_after_seconds,
)
from app.schemas import form_errors, validate_request
from clues.intake import file_clue_for_code, submit_rating
from clues.models import Clue, ClueReporter
from clues.photos import MAX_PHOTOS, add_photo
from clues.queries import followed_clue, residents_clues
from clues.schemas import DirectReportIn
from clues.service import public_summary
from clues.states import ClueStatus
from clues.tracking import format_access_code, tracking_of, tracking_url
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
from evaluations.service import rated_this_period, residents_ratings
from qr.models import QRCode
from qr.render import qr_png
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


@bp.app_template_filter("local_time")
def local_time_filter(moment: str | datetime | None) -> str:
    """An instant as Beijing time to the minute: 2026年11月24日 15:30."""
    if not moment:
        return ""
    when = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    local = when.astimezone(LOCAL_TZ)
    return f"{local_date_filter(local)} {local:%H:%M}"


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
        "level_names": LEVELS,
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
    """评价页面（今天已评价过这个二维码时，直接给出反映问题的表单）"""
    code = _resolve_for_page(token)
    if isinstance(code, Response):
        return code
    count_scan(code)
    resident_id = _known_device_id()
    if resident_id is not None and rated_this_period(resident_id=resident_id, qr_code_id=code.id):
        response = _page("h5/report.html", **_form_context(code, csrf_token(), rated_today=True))
    else:
        response = _page("h5/rate.html", **_form_context(code, csrf_token()))
    db.session.commit()
    return response


@bp.errorhandler(RateLimitExceeded)
def too_many_requests(error: RateLimitExceeded) -> Response:
    """A resident page's 429: a page in words, not the API's JSON."""
    return _page(
        "h5/message.html",
        429,
        title="操作太频繁",
        message=f"操作太频繁了，请 {retry_after_seconds()} 秒后再试。",
    )


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge) -> Response:
    return _page(
        "h5/message.html",
        413,
        title="照片太大",
        message="提交的内容超过了 8 MB，多半是照片太大或太多。请返回，少选几张照片后再提交。",
    )


@bp.errorhandler(CSRFError)
def _csrf_refused(error: CSRFError) -> Response:
    return _page(
        "h5/message.html",
        400,
        title="页面已过期",
        message="页面已过期或来自别处，请返回重新打开评价页面后再提交。",
    )


def _form_page(
    template: str, code: QRCode, status: int, errors: dict[str, str], **extra: Any
) -> Response:
    """The form again, as the resident filled it, with the messages beside the fields."""
    form = request.form
    return _page(
        template,
        status,
        **_form_context(
            code,
            csrf_token(),
            form=form,
            errors=errors,
            submission_id=form.get("submission_id") or secrets.token_urlsafe(16),
            **extra,
        ),
    )


def _domain_errors(error: ApiError | DomainError) -> dict[str, str]:
    fields = error.details.get("fields", {})
    return {k: (v[0] if isinstance(v, list) else v) for k, v in fields.items()} or {
        "form": error.message
    }


@bp.post("/q/<token>")
@limiter.limit(configured("RATE_LIMIT_ADDRESS"), key_func=network_key, scope="rate-address")
@limiter.limit(configured("RATE_LIMIT_RESIDENT"), key_func=_device_key, scope="rate-resident")
def rate_submit(token: str) -> Response:
    """提交评价表单"""
    code = _resolve_for_page(token)
    if isinstance(code, Response):
        return code
    form = request.form
    questionnaire = current_questionnaire(code.unit.kind)
    photos = _photos(form)
    try:
        body = validate_request(
            EvaluationIn, _body_from_form(token, form, questionnaire.reasons_for)
        )
    except ValidationError as exc:
        return _form_page("h5/rate.html", code, 422, {**form_errors(exc), **_consent_errors(form)})
    if body.clue is not None and _consent_errors(form):
        return _form_page("h5/rate.html", code, 422, _consent_errors(form))
    resident = _device_resident()
    sign_in_resident(resident)
    try:
        submission = submit_rating(
            resident=resident,
            body=body,
            client_addr=request.remote_addr or "",
            idempotency_key=(form.get("submission_id") or None),
        )
        clue = submission.body["clue"]
        if clue is not None and photos and not submission.replayed:
            _attach_photos(clue["tracking_no"], resident.id, photos)
    except (ApiError, DomainError) as error:
        db.session.rollback()
        if error.code == "already_rated":
            # Nothing typed is lost: what the resident wrote becomes the report form's text.
            return _report_form_again(code, resident, already_rated=True)
        if _status(error) == 422:
            return _form_page("h5/rate.html", code, 422, _domain_errors(error))
        return _page("h5/message.html", _status(error), title="未能提交", message=error.message)
    db.session.commit()
    offer = body.clue is None and body.level in BAD_LEVELS and bool(body.comment)
    response = _page(
        "h5/receipt.html",
        201,
        **_form_context(
            code,
            csrf_token(),
            level=body.level,
            level_label=LEVELS[body.level],
            clue=_receipt_clue(submission.body["clue"]),
            offer_report=offer,
            form=MultiDict({"clue_description": body.comment or ""}),
        ),
    )
    return _with_device_cookie(response, resident)


@bp.post("/q/<token>/report")
@limiter.limit(configured("RATE_LIMIT_CLUE_NETWORK"), key_func=network_key, scope="clue-network")
@limiter.limit(configured("RATE_LIMIT_CLUE_RESIDENT"), key_func=_device_key, scope="clue-resident")
def report_submit(token: str) -> Response:
    """不评价，直接反映问题（今天已评价过，或评价后把意见作为问题反映）"""
    code = _resolve_for_page(token)
    if isinstance(code, Response):
        return code
    form = request.form
    photos = _photos(form)
    try:
        body = validate_request(DirectReportIn, {"qr_token": token, **_clue_from_form(form)})
    except ValidationError as exc:
        errors = {k.removeprefix("clue."): v for k, v in form_errors(exc).items()}
        errors = {("clue." + k if k != "form" else k): v for k, v in errors.items()}
        return _form_page("h5/report.html", code, 422, {**errors, **_consent_errors(form)})
    if _consent_errors(form):
        return _form_page("h5/report.html", code, 422, _consent_errors(form))
    resident = _device_resident()
    sign_in_resident(resident)
    twin = _just_filed(resident.id, code.unit_id, body.description)
    if twin is not None:  # the same form sent twice (double tap, back button): one clue
        response = _page(
            "h5/receipt.html",
            200,
            **_form_context(code, csrf_token(), clue=_receipt_clue(public_summary(twin))),
        )
        return _with_device_cookie(response, resident)
    try:
        clue = file_clue_for_code(resident=resident, qr_token=token, clue=body)
        if photos:
            _attach_photos(clue.tracking_no, resident.id, photos)
    except (ApiError, DomainError) as error:
        db.session.rollback()
        if _status(error) == 422:
            return _form_page("h5/report.html", code, 422, _domain_errors(error))
        return _page("h5/message.html", _status(error), title="未能提交", message=error.message)
    db.session.commit()
    response = _page(
        "h5/receipt.html",
        201,
        **_form_context(code, csrf_token(), clue=_receipt_clue(public_summary(clue))),
    )
    return _with_device_cookie(response, resident)


def _just_filed(resident_id: int, unit_id: int, description: str) -> Clue | None:
    """The same resident's clue with the same text about the same unit in the last minutes."""
    return db.session.scalar(
        sa.select(Clue)
        .join(ClueReporter, ClueReporter.clue_id == Clue.id)
        .where(
            ClueReporter.resident_id == resident_id,
            Clue.unit_id == unit_id,
            Clue.description == description,
            Clue.submitted_at >= utcnow() - timedelta(minutes=10),
        )
        .order_by(Clue.id.desc())
        .limit(1)
    )


def _report_form_again(code: QRCode, resident: ResidentIdentity, **extra: Any) -> Response:
    form = request.form.copy()
    if not form.get("clue_description", "").strip():
        form["clue_description"] = form.get("comment", "")
    response = _page(
        "h5/report.html",
        409,
        **_form_context(code, csrf_token(), form=form, rated_today=True),
    )
    return _with_device_cookie(response, resident)


def _with_device_cookie(response: Response, resident: ResidentIdentity) -> Response:
    response.set_cookie(
        DEVICE_COOKIE,
        resident_token(resident)["token"],
        max_age=current_app.config["RESIDENT_TOKEN_TTL_SECONDS"],
        **_cookie_args(),
    )
    return response


def _known_device_id() -> int | None:
    token = request.cookies.get(DEVICE_COOKIE)
    return resident_id_from_token(token) if token else None


@bp.get("/q/me")
def my_page() -> Response:
    """我的评价和线索（本机浏览器的匿名身份）"""
    resident_id = _known_device_id()
    clues = residents_clues(resident_id) if resident_id is not None else []
    ratings = residents_ratings(resident_id) if resident_id is not None else []
    units = (
        {
            u.id: u.name
            for u in db.session.scalars(
                sa.select(Unit).where(Unit.id.in_({r.unit_id for r in ratings}))
            )
        }
        if ratings
        else {}
    )
    return _page(
        "h5/mine.html",
        clues=[
            {
                "tracking_no": c.tracking_no,
                "submitted_at": c.submitted_at,
                "unit_name": c.unit.name,
                "category_label": c.category.label,
                "status_label": followed_clue(c).status.label,
                "url": tracking_url(c),
            }
            for c in clues
        ],
        ratings=[
            {
                "created_at": r.created_at,
                "unit_name": units.get(r.unit_id, ""),
                "level": r.level,
                "comment": r.comment,
            }
            for r in ratings
        ],
        level_names=LEVELS,
    )


# ---------------------------------------------------------------- the clue's parts of a form


def _photos(form: Any) -> list[bytes]:
    """The photos a form carries (empty file inputs skipped)."""
    return [f.read() for f in request.files.getlist("clue_photo") if f and f.filename][
        : MAX_PHOTOS + 1
    ]


def _attach_photos(tracking_no: str, resident_id: int, photos: list[bytes]) -> None:
    """The same processing as the API's upload (clues/photos.py), in the filing transaction;
    a refused photo is the photo field's error (the whole form comes back as filled)."""
    for data in photos:
        try:
            add_photo(tracking_no=tracking_no, resident_id=resident_id, data=data)
        except (ApiError, DomainError) as error:
            message = f"{error.message}。请重新选择照片后再提交。"
            raise Invalid({"clue.photo": message}, message) from error


def _consent_errors(form: Any) -> dict[str, str]:
    """The phone is kept only with the resident's separate consent (H5 asks for it)."""
    if (
        form.get("clue_identity") == "confidential"
        and form.get("clue_phone", "").strip()
        and form.get("clue_sms_consent") != "1"
    ):
        return {"clue.sms_consent": "请勾选同意后再留手机号；不想留手机号，可以选择匿名反映"}
    return {}


def _receipt_clue(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the receipt shows of a filed clue: its state, link, QR code and 查询码."""
    if summary is None:
        return None
    clue = db.session.scalar(sa.select(Clue).where(Clue.tracking_no == summary["tracking_no"]))
    tracking = tracking_of(clue) if clue is not None else None
    url = summary.get("tracking_url") or (tracking_url(clue) if clue is not None else None)
    status = ClueStatus(summary["status"])
    return {
        **summary,
        "status_label": status.label,
        "tracking_url": url,
        "qr_data_uri": "data:image/png;base64,"
        + base64.b64encode(qr_png(url, box_size=6, border=2)).decode()
        if url
        else None,
        "access_code": format_access_code(tracking.access_code) if tracking else None,
    }


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
        body["clue"] = _clue_from_form(form)
    return body


def _clue_from_form(form: Any) -> dict[str, Any]:
    """The API's `clue` object from the form's clue_* fields."""
    clue: dict[str, Any] = {
        "category": form.get("clue_category", ""),
        "description": form.get("clue_description", ""),
        "identity": form.get("clue_identity", "") or "anonymous",
    }
    if form.get("officer_id", "").isdecimal():
        clue["officer_id"] = int(form["officer_id"])
    if clue["identity"] == "confidential" and form.get("clue_phone", "").strip():
        clue["phone"] = form["clue_phone"].strip()
        clue["sms_consent"] = form.get("clue_sms_consent") == "1"
    return clue
