"""The audit log: one append-only table the database itself refuses to change or delete.

`record_audit()` is the one helper every change uses; it writes in the caller's transaction,
so an audited change and its audit row commit or roll back together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from apiflask import APIBlueprint
from flask import has_request_context, request
from pydantic import Field
from sqlalchemy.orm import Mapped, mapped_column

from app.auth import current_actor, current_staff, staff_required
from app.clock import utcnow
from app.db import BigId, db
from app.org.models import Role, StaffAccount, subtree_ids
from app.schemas import Page, PageQuery, Schema, paginate


class AuditLog(db.Model):
    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_log_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_type: Mapped[str] = mapped_column(sa.String(16))  # see app.auth.Actor
    actor_id: Mapped[int | None]
    actor_name: Mapped[str] = mapped_column(sa.String(64), default="")
    role: Mapped[str] = mapped_column(sa.String(16), default="")
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    object_type: Mapped[str] = mapped_column(sa.String(32))
    object_id: Mapped[str] = mapped_column(sa.String(64))
    # The unit the object belongs to, so an admin reads only their subtree's trail;
    # NULL for city-wide settings (readable by root-unit admins).
    unit_id: Mapped[int | None] = mapped_column(index=True)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    client_addr: Mapped[str] = mapped_column(sa.String(64), default="")


def record_audit(
    action: str,
    *,
    object_type: str,
    object_id: object,
    unit_id: int | None,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    """Append an audit row for the current actor in the current transaction."""
    actor = current_actor()
    row = AuditLog(
        actor_type=actor.type,
        actor_id=actor.id,
        actor_name=actor.name,
        role=actor.role,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        unit_id=unit_id,
        details=details or {},
        client_addr=(request.remote_addr or "") if has_request_context() else "",
    )
    db.session.add(row)
    return row


def audit_visible_to(staff: StaffAccount) -> sa.ColumnElement[bool]:
    """Audit rows about units in the staff member's subtree; rows about no unit (system-wide)
    only for those at the root."""
    in_scope = AuditLog.unit_id.in_(subtree_ids(staff.unit))
    if staff.unit.parent_id is None:
        in_scope = sa.or_(in_scope, AuditLog.unit_id.is_(None))
    return in_scope


bp = APIBlueprint("audit", __name__, url_prefix="/api/v1", tag="审计日志")


class AuditQuery(PageQuery):
    object_type: str | None = Field(None, max_length=32)
    object_id: str | None = Field(None, max_length=64)
    action: str | None = Field(None, max_length=64)


class AuditOut(Schema):
    id: int
    created_at: datetime
    actor_type: str
    actor_id: int | None
    actor_name: str
    role: str
    action: str
    object_type: str
    object_id: str
    unit_id: int | None
    details: dict[str, Any]
    client_addr: str


class AuditPage(Page):
    items: list[AuditOut]


@bp.get("/audit")
@staff_required(Role.ADMIN)
@bp.input(AuditQuery, location="query", arg_name="query")
@bp.output(AuditPage)
def list_audit(query: AuditQuery):
    """审计日志（仅管理员，按时间倒序）"""
    stmt = sa.select(AuditLog).where(audit_visible_to(current_staff())).order_by(AuditLog.id.desc())
    for column in ("object_type", "object_id", "action"):
        value = getattr(query, column)
        if value is not None:
            stmt = stmt.where(getattr(AuditLog, column) == value)
    return paginate(stmt, query, AuditOut)
