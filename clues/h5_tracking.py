"""The resident's tracking pages: /t/{secret} (progress, outcome, re-rating and appeal forms)
and /t, where a tracking number and its 查询码 are typed. No login: the link is the key.

Server-rendered, script-free forms like the rating page (clues/h5.py); their CSRF token lives
in a session cookie of their own, scoped to /t.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_limiter import RateLimitExceeded
from pydantic import ValidationError

from app.csrf import CSRFError, csrf_token, own_session_cookie
from app.errors import DomainError, http_status
from app.extensions import db
from app.ratelimit import address_key, configured, limiter, network_key
from app.schemas import form_errors, validate_request
from clues.h5 import too_many_requests
from clues.resident import appeal_by_link, rerate_by_link, tracking_view
from clues.schemas import AppealIn, ReratingIn
from clues.tracking import clue_by_secret, tracking_by_code
from evaluations.questionnaire import LEVELS

bp = Blueprint("h5_tracking", __name__, template_folder="templates")
own_session_cookie(bp, name="pingyi_track", path="/t")


def _page(template: str, status: int = 200, **context: Any) -> Response:
    return make_response(render_template(template, **context), status)


def _message(status: int, title: str, message: str) -> Response:
    return _page(
        "h5/message.html", status, title=title, message=message, kind="办理进度查询", lookup=True
    )


def _refused(error: DomainError) -> Response:
    status = http_status(error)
    title = {404: "没有找到", 410: "链接已失效"}.get(status, "未能办理")
    return _message(status, title, error.message)


@bp.errorhandler(CSRFError)
def _csrf_refused(error: CSRFError) -> Response:
    return _message(400, "页面已过期", "页面已过期，请重新打开查询链接后再提交。")


bp.register_error_handler(RateLimitExceeded, too_many_requests)


@bp.errorhandler(DomainError)
def _domain_refused(error: DomainError) -> Response:
    db.session.rollback()
    return _refused(error)


@bp.get("/t")
def lookup_page() -> Response:
    """输入查询编号和查询码"""
    return _page("h5/track_lookup.html", csrf=csrf_token(), form={}, errors={})


@bp.post("/t")
@limiter.limit(configured("RATE_LIMIT_TRACKING_CODE"), key_func=network_key, scope="track-net")
@limiter.limit(configured("RATE_LIMIT_TRACKING_CODE"), key_func=address_key, scope="track-addr")
def lookup() -> Response:
    """凭查询编号和查询码打开查询页"""
    form = request.form
    errors = {}
    if not form.get("tracking_no", "").strip():
        errors["tracking_no"] = "请填写查询编号"
    if not form.get("access_code", "").strip():
        errors["access_code"] = "请填写查询码"
    if not errors:
        try:
            tracking = tracking_by_code(form["tracking_no"], form["access_code"])
        except DomainError as error:
            if http_status(error) != 404:
                raise
            errors["form"] = error.message
        else:
            return redirect(url_for(".track_page", secret=tracking.secret), 303)
    return _page("h5/track_lookup.html", 422, csrf=csrf_token(), form=form, errors=errors)


def _track(secret: str, status: int = 200, **extra: Any) -> Response:
    clue = clue_by_secret(secret)
    context = {
        "view": tracking_view(clue),
        "secret": secret,
        "csrf": csrf_token(),
        "levels": list(LEVELS.items()),
        "level_names": LEVELS,
        "appeal_days": current_app.config["CLUE_APPEAL_WINDOW_DAYS"],
        "retention_days": current_app.config["TRACKING_LINK_RETENTION_DAYS"],
        "form": {},
        "errors": {},
        **extra,
    }
    return _page("h5/track.html", status, **context)


@bp.get("/t/<secret>")
@limiter.limit(configured("RATE_LIMIT_TRACKING_LINK"), key_func=network_key, scope="track-link")
def track_page(secret: str) -> Response:
    """办理进度"""
    return _track(secret)


def _rerating_body(form: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"comment": form.get("comment", "")}
    if form.get("level", "").isdecimal():
        body["level"] = int(form["level"])
    if form.get("resolved") in ("1", "0"):
        body["resolved"] = form["resolved"] == "1"
    return body


@bp.post("/t/<secret>/rerating")
@limiter.limit(configured("RATE_LIMIT_TRACKING_LINK"), key_func=network_key, scope="track-link")
def rerate(secret: str) -> Response:
    """回评"""
    clue = clue_by_secret(secret)
    try:
        body = validate_request(ReratingIn, _rerating_body(request.form))
    except ValidationError as exc:
        return _track(secret, 422, form=request.form, errors=_prefixed("rerating", exc))
    try:
        rerate_by_link(clue, level=body.level, resolved=body.resolved, comment=body.comment)
    except DomainError as error:
        db.session.rollback()
        return _track(
            secret, http_status(error), form=request.form, errors={"rerating": error.message}
        )
    db.session.commit()
    return redirect(url_for(".track_page", secret=secret, done="rerating") + "#rerating", 303)


@bp.post("/t/<secret>/appeal")
@limiter.limit(configured("RATE_LIMIT_TRACKING_LINK"), key_func=network_key, scope="track-link")
def appeal(secret: str) -> Response:
    """申请复核"""
    clue = clue_by_secret(secret)
    try:
        body = validate_request(AppealIn, {"reason": request.form.get("reason", "").strip()})
    except ValidationError as exc:
        return _track(secret, 422, form=request.form, errors=_prefixed("appeal", exc))
    try:
        appeal_by_link(clue, reason=body.reason)
    except DomainError as error:
        db.session.rollback()
        return _track(
            secret, http_status(error), form=request.form, errors={"appeal": error.message}
        )
    db.session.commit()
    return redirect(url_for(".track_page", secret=secret, done="appeal") + "#appeal", 303)


def _prefixed(section: str, exc: ValidationError) -> dict[str, str]:
    """Field errors keyed `section.field`, so each form shows its own."""
    return {f"{section}.{name}": message for name, message in form_errors(exc).items()}
