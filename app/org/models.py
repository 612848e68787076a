"""The organisation registry: units (a tree), officers, staff accounts."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import utcnow
from app.db import db, str_enum
from app.enums import LabelledEnum


class UnitKind(LabelledEnum):
    POLICE = "police", "公安"
    COURT = "court", "法院"
    PROCURATORATE = "procuratorate", "检察院"
    JUSTICE = "justice", "司法行政"
    COMMITTEE = "committee", "政法委"


class Role(LabelledEnum):
    SCREENER = "screener", "审核交办"
    VERIFIER = "verifier", "核查"
    SUPERIOR = "superior", "上级审核"
    LIAISON = "liaison", "纪检联络员"
    ANALYST = "analyst", "统计分析"
    ADMIN = "admin", "系统管理员"


# Materialized paths compare byte-wise; PostgreSQL's default collation would not.
PathType = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Unit(TimestampMixin, db.Model):
    """A political-legal unit; staff scope is a unit and its descendants."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    kind: Mapped[UnitKind] = mapped_column(str_enum(UnitKind, "unit_kind"))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"), index=True)
    # "/1/7/23/": ids from the root down to this unit; a subtree is a prefix match.
    path: Mapped[str] = mapped_column(PathType, index=True, default="")
    depth: Mapped[int] = mapped_column(default=0)
    region: Mapped[str] = mapped_column(sa.String(64), default="")
    address: Mapped[str] = mapped_column(sa.String(200), default="")
    is_active: Mapped[bool] = mapped_column(default=True)

    parent: Mapped[Unit | None] = relationship(remote_side=[id])

    def contains(self, other: Unit) -> bool:
        """True when `other` is this unit or one of its descendants."""
        return other.path.startswith(self.path)


class Officer(TimestampMixin, db.Model):
    """An officer who can be rated; holds no personal data beyond name, number, position."""

    __tablename__ = "officers"
    __table_args__ = (sa.UniqueConstraint("unit_id", "staff_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(50))
    staff_no: Mapped[str] = mapped_column(sa.String(32))
    position: Mapped[str] = mapped_column(sa.String(50), default="")
    is_active: Mapped[bool] = mapped_column(default=True)

    unit: Mapped[Unit] = relationship(lazy="joined")


class StaffAccount(TimestampMixin, db.Model):
    """A staff member's sign-in account: one role, one unit (their scope is its subtree)."""

    __tablename__ = "staff_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    display_name: Mapped[str] = mapped_column(sa.String(50))
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"))
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), index=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    failed_login_count: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    # Bumped on password change or sign-out: every token carrying an older value is dead.
    token_version: Mapped[int] = mapped_column(default=1)
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Keyed hash of the staff member's WeChat openid once bound: they cannot rate their unit.
    openid_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    # The officer record of this staff member, if they can be rated or reported themselves:
    # a clue about them is never theirs to verify.
    officer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("officers.id"), unique=True)

    unit: Mapped[Unit] = relationship(lazy="joined")

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


def subtree_filter(path: str) -> sa.ColumnElement[bool]:
    """Units whose path starts with `path`, as a range so both engines use the index.

    Paths are digits and "/"; the next character after "/" is "0", so every path in the
    subtree sorts in [path, path with its final "/" replaced by "0").
    """
    return sa.and_(Unit.path >= path, Unit.path < path[:-1] + "0")


def subtree_ids(unit: Unit) -> sa.Select:
    """SELECT of the ids of `unit` and all its descendants."""
    return sa.select(Unit.id).where(subtree_filter(unit.path))


def ancestor_ids(path: str) -> list[int]:
    """The unit ids along a path, root first ("/1/7/23/" → [1, 7, 23]): the unit itself and
    every unit whose scope covers it."""
    return [int(part) for part in path.strip("/").split("/") if part]


def root_unit() -> Unit | None:
    """The root of the registry (the city committee): the oldest unit without a parent."""
    return db.session.scalar(sa.select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id))
