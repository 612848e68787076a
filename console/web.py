"""The console's web layer: the blueprint, the cookie session, CSRF, access and page answers.

The session is Flask's signed cookie. It holds the staff id, the account's `token_version`
and the sign-in time, so a password change, a role change, deactivation or signing out
anywhere (all bump `token_version`) ends console sessions as they end API tokens, and a
session lives no longer than an API token. Every POST carries the session's CSRF token in a
hidden field, checked by Flask-WTF (app/csrf.py) before any view runs.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_limiter.errors import RateLimitExceeded
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from app.auth import in_service, set_actor, staff_actor
from app.clock import LOCAL_TZ, local_date, utcnow
from app.csrf import CSRFError, csrf_token
from app.errors import ApiError, DomainError, http_status
from app.extensions import db
from app.org.models import Role, StaffAccount
from app.schemas import MAX_PAGE
from app.workdays import calendar_warning, load_calendar
from notifications.inbox import inbox_of
from notifications.models import InboxItem
from stats.routes import STATS_ROLES

log = logging.getLogger(__name__)

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates")
# Pages, not API: out of the OpenAPI document (APIFlask reads this flag on every blueprint
# that has before_request functions, plain Flask ones included).
bp.enable_openapi = False  # type: ignore[attr-defined]

ALL_ROLES = frozenset(Role)
HANDLING_ROLES = frozenset({Role.SCREENER, Role.VERIFIER, Role.SUPERIOR, Role.LIAISON, Role.ADMIN})


# ---------------------------------------------------------------- answers


def page(template: str, status: int = 200, **context: Any) -> Response:
    """A console page (its security headers, never cached, come from app/security.py)."""
    return make_response(render_template(f"console/{template}", **context), status)


def page_number() -> int:
    """The list page asked for in ?page=, within the API's bounds; 1 for anything else."""
    raw = request.args.get("page", "1")
    return max(1, min(int(raw), MAX_PAGE)) if raw.isdecimal() else 1


def message_page(status: int, title: str, message: str) -> Response:
    return page("message.html", status, title=title, message=message)


def see_other(location: str) -> Response:
    return redirect(location, 303)


def safe_next(target: str | None, default: str) -> str:
    """A local console path to go back to; anything else (other hosts, schemes) → default."""
    if not target:
        return default
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not parts.path.startswith("/console/")
        or "\\" in target
        or target.startswith("//")
    ):
        return default
    return target


# ---------------------------------------------------------------- session and CSRF


@bp.errorhandler(CSRFError)
def _csrf_refused(error: CSRFError) -> Response:
    return message_page(400, "页面已过期", "页面已过期或来自别处，请返回刷新页面后重新提交。")


def session_seconds() -> int:
    config = current_app.config
    return int(config.get("CONSOLE_SESSION_SECONDS", config["STAFF_TOKEN_TTL_SECONDS"]))


def start_session(account: StaffAccount) -> None:
    """Signed in: a fresh session holding who and which token version; its CSRF token is
    made anew when the next page renders."""
    session.clear()
    session["staff_id"] = account.id
    session["token_version"] = account.token_version
    session["signed_in_at"] = int(utcnow().timestamp())


def end_session() -> None:
    session.clear()


def signed_in_staff() -> StaffAccount | None:
    """The account of this session while it is still valid; None (and forgotten) otherwise."""
    staff_id = session.get("staff_id")
    if staff_id is None:
        return None
    account = db.session.get(StaffAccount, staff_id)
    age = utcnow().timestamp() - float(session.get("signed_in_at", 0))
    if (
        account is None
        or not in_service(account)
        or account.token_version != session.get("token_version")
        or not 0 <= age <= session_seconds()
    ):
        end_session()
        return None
    return account


def current_staff() -> StaffAccount:
    return g.staff


# ---------------------------------------------------------------- access


def console_view(*roles: Role) -> Callable:
    """A page for signed-in staff of `roles` (every role when empty).

    Not signed in: to the sign-in page (and back afterwards). Wrong role: a 403 page. The
    allowed roles are kept on the view for the access tests.
    """
    allowed = frozenset(roles) if roles else ALL_ROLES

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            account = signed_in_staff()
            if account is None:
                back = request.full_path.rstrip("?") if request.method == "GET" else None
                return see_other(url_for("console.login", next=back))
            g.staff = account
            set_actor(staff_actor(account))
            if account.role not in allowed:
                return message_page(
                    403, "无权访问", f"您的角色（{account.role.label}）不能使用这个页面。"
                )
            return view(*args, **kwargs)

        wrapper.console_roles = allowed  # type: ignore[attr-defined]
        return wrapper

    return decorator


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError) -> Response:
    return _api_error(ApiError(http_status(error), error.code, error.message, error.details))


@bp.errorhandler(ApiError)
def _api_error(error: ApiError) -> Response:
    db.session.rollback()
    titles = {
        403: "无权访问",
        404: "没有找到",
        409: "无法办理",
        410: "已失效",
        422: "填写有误",
        423: "账号已锁定",
        503: "暂不可用",
    }
    return message_page(error.status, titles.get(error.status, "出错了"), error.message)


@bp.errorhandler(IntegrityError)
def _integrity_error(error: IntegrityError) -> Response:
    # Two requests passed the same check together and the database's constraint decided.
    db.session.rollback()
    log.info("console: integrity error answered as 409: %s", error.orig)
    return message_page(409, "无法办理", "数据与已有记录冲突（重复提交或并发修改），请刷新后重试。")


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    messages = {
        400: "请求格式有误。",
        404: "页面不存在。",
        405: "不支持该请求方法。",
        413: "提交的内容过大。",
    }
    return message_page(status, "出错了", messages.get(status, "请求无法完成，请稍后重试。"))


@bp.errorhandler(Exception)
def _unexpected(error: Exception) -> Response:
    db.session.rollback()
    log.exception("console: unhandled error")
    return message_page(500, "服务器出错", "服务器内部错误，请稍后重试。")


@bp.errorhandler(RateLimitExceeded)
def _rate_limited(error: RateLimitExceeded) -> Response:
    from app.ratelimit import retry_after_seconds

    seconds = retry_after_seconds()
    response = message_page(429, "操作过于频繁", f"请 {seconds} 秒后再试。")
    response.headers["Retry-After"] = str(seconds)
    return response


# ---------------------------------------------------------------- navigation


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str
    roles: frozenset[Role]


NAV = (
    NavItem("console.queue", "审核队列", frozenset({Role.SCREENER, Role.ADMIN})),
    NavItem("console.verification", "核查任务", frozenset({Role.VERIFIER})),
    NavItem("console.review", "审核与延期", frozenset({Role.SUPERIOR})),
    NavItem("console.clues", "全部线索", HANDLING_ROLES),
    NavItem("console.referrals", "纪检移交", frozenset({Role.LIAISON, Role.ADMIN})),
    NavItem("console.letters", "函件通报", ALL_ROLES),
    NavItem("console.dashboard", "统计分析", frozenset(STATS_ROLES)),
    NavItem("console.admin_units", "系统管理", frozenset({Role.ADMIN})),
)


def landing_endpoint(role: Role) -> str:
    """Where a role starts: its own work queue."""
    return {
        Role.SCREENER: "console.queue",
        Role.VERIFIER: "console.verification",
        Role.SUPERIOR: "console.review",
        Role.LIAISON: "console.referrals",
        Role.ANALYST: "console.dashboard",
        Role.ADMIN: "console.qr_codes",
    }[role]


@bp.get("/<path:unknown>")
def unknown_page(unknown: str) -> Response:
    """Any other /console/ address: the HTML 404 page (never the API's JSON)."""
    g.staff = signed_in_staff()
    return message_page(404, "没有找到", "页面不存在，请从菜单进入。")


@bp.context_processor
def _context() -> dict[str, Any]:
    staff = g.get("staff")
    return {
        "staff": staff,
        "csrf": csrf_token(),
        "nav": [item for item in NAV if staff is not None and staff.role in item.roles],
        "unread": unread_count(staff) if staff is not None else 0,
        # A missing year's holidays make deadlines wrong: every signed-in page says so.
        "calendar_warning": calendar_warning() if staff is not None else "",
        "due": due_state,
    }


def unread_count(staff: StaffAccount) -> int:
    """Unread messages in the staff member's inbox (shown on every page's menu)."""
    return db.session.scalar(
        sa.select(sa.func.count()).where(inbox_of(staff), InboxItem.read_at.is_(None))
    )


# ---------------------------------------------------------------- time


@dataclass(frozen=True)
class Due:
    css: str  # overdue | soon | ok | ""
    text: str


def due_state(due_at: datetime | None) -> Due:
    """How much time is left: overdue (red), ≤ 2 working days (amber), more (green)."""
    if due_at is None:
        return Due("", "—")
    now = utcnow()
    calendar = load_calendar()
    if due_at < now:
        # Working days, like every deadline here: a weekend adds nothing to the lateness.
        days = calendar.working_days_between(local_date(due_at), local_date(now))
        return Due("overdue", f"已超期 {days} 个工作日" if days else "今日已超期")
    left = calendar.working_days_between(local_date(now), local_date(due_at))
    if left <= 0:
        return Due("soon", "今日到期")
    return Due("soon" if left <= 2 else "ok", f"剩 {left} 个工作日")


def beijing_time(moment: datetime | None) -> str:
    """2026-11-24 14:30 in Beijing time."""
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if moment else "—"


def beijing_date(moment: datetime | None) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d") if moment else "—"


def filed_at(clue: Any) -> str:
    """When the resident filed `clue`, as the signed-in staff member may know it: to the
    minute, or the day only (clues.queries.knows_the_minute)."""
    from clues.queries import knows_the_minute

    if knows_the_minute(clue, current_staff()):
        return beijing_time(clue.submitted_at)
    return beijing_date(clue.submitted_at)


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"
