"""The staff in-app inbox: messages fanned out to every active staff member of the given
roles whose scope covers the unit concerned."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from apiflask import APIBlueprint
from pydantic import Field

from app.auth import current_staff, staff_required
from app.clock import utcnow
from app.errors import NotFound
from app.extensions import db
from app.org.models import Role, StaffAccount, Unit, ancestor_ids
from app.schemas import Page, PageQuery, Schema, paginate
from clues.models import Clue
from notifications.models import InboxItem


def notify_staff(
    *,
    roles: tuple[Role, ...],
    unit: Unit,
    kind: str,
    title: str,
    body: str = "",
    dedupe_key: str,
    clue_id: int | None = None,
    letter_id: int | None = None,
    referral_id: int | None = None,
    exact: bool = False,
) -> int:
    """Put a message in the inbox of each matching staff member (once per dedupe key): staff
    whose scope covers `unit`, or with `exact` only those sitting at `unit` itself."""
    units = [unit.id] if exact else ancestor_ids(unit.path)
    recipients = sa.select(StaffAccount.id).where(
        StaffAccount.role.in_(roles),
        StaffAccount.is_active,
        StaffAccount.unit_id.in_(units),
    )
    if clue_id is not None:  # the accused officer is never told of the clue about them
        accused = sa.select(Clue.officer_id).where(Clue.id == clue_id).scalar_subquery()
        recipients = recipients.where(
            StaffAccount.officer_id.is_(None)
            | (StaffAccount.officer_id != sa.func.coalesce(accused, 0))
        )
    staff_ids = list(db.session.scalars(recipients))
    existing = set(
        db.session.scalars(
            sa.select(InboxItem.staff_id).where(
                InboxItem.dedupe_key == dedupe_key, InboxItem.staff_id.in_(staff_ids)
            )
        )
    )
    items = [
        InboxItem(
            staff_id=staff_id,
            kind=kind,
            title=title[:200],
            body=body,
            dedupe_key=dedupe_key,
            clue_id=clue_id,
            letter_id=letter_id,
            referral_id=referral_id,
        )
        for staff_id in staff_ids
        if staff_id not in existing
    ]
    db.session.add_all(items)
    return len(items)


def inbox_of(staff: StaffAccount) -> sa.ColumnElement[bool]:
    """The staff member's own messages, less any about a clue that accuses their officer
    record (the link may be set after the message was written)."""
    own = InboxItem.staff_id == staff.id
    if staff.officer_id is None:
        return own
    accusing = sa.select(Clue.id).where(Clue.officer_id == staff.officer_id)
    return sa.and_(own, sa.or_(InboxItem.clue_id.is_(None), InboxItem.clue_id.not_in(accusing)))


def mark_item_read(*, item_id: int, staff: StaffAccount) -> InboxItem:
    """Mark one of `staff`'s own messages read (once); someone else's does not exist for them."""
    item = db.session.get(InboxItem, item_id)
    if item is None or item.staff_id != staff.id:
        raise NotFound("消息不存在")
    item.read_at = item.read_at or utcnow()
    return item


bp = APIBlueprint("inbox", __name__, url_prefix="/api/v1", tag="站内消息")


class InboxQuery(PageQuery):
    unread: bool | None = Field(None, description="true 只看未读")


class InboxOut(Schema):
    id: int
    kind: str
    title: str
    body: str
    clue_id: int | None
    letter_id: int | None
    referral_id: int | None
    created_at: datetime
    read_at: datetime | None


class InboxPage(Page):
    items: list[InboxOut]
    unread: int


@bp.get("/inbox")
@staff_required()
@bp.input(InboxQuery, location="query", arg_name="query")
@bp.output(InboxPage)
def list_inbox(query: InboxQuery):
    """我的站内消息（新线索、交办、待审核、延期申请、函件、移交等）"""
    staff = current_staff()
    stmt = sa.select(InboxItem).where(inbox_of(staff))
    if query.unread is not None:
        stmt = stmt.where(
            InboxItem.read_at.is_(None) if query.unread else InboxItem.read_at.is_not(None)
        )
    page = paginate(stmt.order_by(InboxItem.id.desc()), query, InboxOut)
    page["unread"] = db.session.scalar(
        sa.select(sa.func.count()).where(inbox_of(staff), InboxItem.read_at.is_(None))
    )
    return page


@bp.post("/inbox/<int:item_id>/read")
@staff_required()
@bp.output(InboxOut)
def mark_read(item_id: int):
    """标记为已读"""
    item = mark_item_read(item_id=item_id, staff=current_staff())
    db.session.commit()
    return item
