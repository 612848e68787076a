"""Everyone's own pages: the inbox (with links to what each message is about) and changing
one's own password. Both go through the same functions as the API (notifications.inbox,
app.org.service)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, flash, request, url_for
from pydantic import ValidationError
from werkzeug.datastructures import MultiDict

from app.errors import DomainError, http_status
from app.extensions import db
from app.org import service as org_service
from app.org.schemas import PasswordChange
from app.ratelimit import client_network
from app.schemas import form_errors, validate_request
from console.forms import FormError, api_error_fields, describe
from console.web import (
    bp,
    console_view,
    current_staff,
    page,
    page_number,
    see_other,
    start_session,
)
from notifications.inbox import inbox_of, mark_item_read
from notifications.models import InboxItem

PER_PAGE = 50
PASSWORD_LABELS = {"current_password": "原密码", "new_password": "新密码", "confirm": "确认新密码"}


def item_target(item: InboxItem) -> str | None:
    """Where a message leads: its referral, letter or clue (the most specific first)."""
    if item.referral_id is not None:
        return url_for("console.referral", referral_id=item.referral_id)
    if item.letter_id is not None:
        return url_for("console.letter", letter_id=item.letter_id)
    if item.clue_id is not None:
        return url_for("console.clue", clue_id=item.clue_id)
    return None


@bp.get("/inbox")
@console_view()
def inbox() -> Response:
    """站内消息: newest first; unread ones marked; each opens its object and is then read."""
    staff = current_staff()
    only_unread = request.args.get("unread") == "1"
    stmt = sa.select(InboxItem).where(inbox_of(staff))
    if only_unread:
        stmt = stmt.where(InboxItem.read_at.is_(None))
    listing = db.paginate(
        stmt.order_by(InboxItem.id.desc()), page=page_number(), per_page=PER_PAGE, error_out=False
    )
    return page("inbox.html", listing=listing, only_unread=only_unread, target=item_target)


@bp.post("/inbox/<int:item_id>/open")
@console_view()
def inbox_open(item_id: int) -> Response:
    """Mark the message read and go to what it is about."""
    item = mark_item_read(item_id=item_id, staff=current_staff())
    db.session.commit()
    return see_other(item_target(item) or url_for("console.inbox"))


@bp.post("/inbox/read-all")
@console_view()
def inbox_read_all() -> Response:
    """Mark every unread message read (one by one through the same function as the API)."""
    staff = current_staff()
    unread = db.session.scalars(
        sa.select(InboxItem.id).where(inbox_of(staff), InboxItem.read_at.is_(None))
    ).all()
    for item_id in unread:
        mark_item_read(item_id=item_id, staff=staff)
    db.session.commit()
    flash(f"已将 {len(unread)} 条消息标为已读。", "ok")
    return see_other(url_for("console.inbox"))


@bp.get("/password")
@console_view()
def password() -> Response:
    return page("password.html", errors={}, error_lines=[])


@bp.post("/password")
@console_view()
def password_submit() -> Response:
    """The API's rules: the current password checked (wrong guesses counted), the policy
    on the new one, every other session and token ended; this session goes on."""
    staff = current_staff()
    form = request.form
    try:
        if form.get("new_password", "") != form.get("confirm", ""):
            raise FormError({"confirm": "两次输入的新密码不一致"})
        body = _password_change(form)
        try:
            org_service.verify_current_password(
                staff, body.current_password, network=client_network()
            )
        except DomainError:
            db.session.commit()  # the wrong guess is counted whatever the answer
            raise
        org_service.set_password(staff, new_password=body.new_password, by_admin=False)
    except FormError as error:
        db.session.rollback()
        return _password_page(error.status, error.errors)
    except DomainError as error:
        db.session.rollback()
        return _password_page(http_status(error), api_error_fields(error))
    db.session.commit()
    start_session(staff)
    flash("密码已修改，其他设备上的登录已退出。", "ok")
    return see_other(url_for("console.password"))


def _password_change(form: MultiDict[str, str]) -> PasswordChange:
    """The API's schema over the raw fields (a password keeps its spaces)."""
    try:
        return validate_request(
            PasswordChange,
            {name: form.get(name, "") for name in ("current_password", "new_password")},
        )
    except ValidationError as exc:
        raise FormError(form_errors(exc)) from exc


def _password_page(status: int, errors: dict[str, str]) -> Response:
    return page(
        "password.html", status, errors=errors, error_lines=describe(errors, PASSWORD_LABELS)
    )
