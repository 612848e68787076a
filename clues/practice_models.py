"""The seed cities' practices around the clue loop: 差评整改 of bad ratings without a clue,
staff return visits (回访), 约谈 records and their follow-up, and the public summary a screener
approves for the public page."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import utcnow
from app.db import BigId, db, str_enum
from app.enums import LabelledEnum
from app.org.models import Unit


class CallbackResult(LabelledEnum):
    """What the person said when called back (回访结果)."""

    SATISFIED = "satisfied", "满意"
    BASICALLY_SATISFIED = "basically_satisfied", "基本满意"
    UNSATISFIED = "unsatisfied", "不满意"
    UNREACHABLE = "unreachable", "联系不上"


class ClueCallback(db.Model):
    """One return visit to a clue's reporter by a staff member (回访)."""

    __tablename__ = "clue_callbacks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    clue_id: Mapped[int] = mapped_column(sa.ForeignKey("clues.id"), index=True)
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_accounts.id"))
    result: Mapped[CallbackResult] = mapped_column(str_enum(CallbackResult, "callback_result"))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    called_at: Mapped[datetime] = mapped_column(default=utcnow)


class RectificationStatus(LabelledEnum):
    OPEN = "open", "待整改"
    RECTIFIED = "rectified", "已整改"


class BadRatingRectification(db.Model):
    """差评整改: a bad rating that carries no clue goes to its unit, which verifies it, fixes
    what needs fixing and calls the resident back by a deadline (好差评 rule)."""

    __tablename__ = "bad_rating_rectifications"
    __table_args__ = (sa.Index("ix_bad_rating_rectifications_unit_status", "unit_id", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(sa.ForeignKey("evaluations.id"), unique=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"))
    officer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("officers.id"))
    status: Mapped[RectificationStatus] = mapped_column(
        str_enum(RectificationStatus, "rectification_status"), default=RectificationStatus.OPEN
    )
    # When the rating was given: the deadline counts from there.
    opened_at: Mapped[datetime] = mapped_column(index=True)
    due_at: Mapped[datetime]
    measures: Mapped[str] = mapped_column(sa.Text, default="")
    callback_result: Mapped[CallbackResult | None] = mapped_column(
        str_enum(CallbackResult, "callback_result")
    )
    rectified_by: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_accounts.id"))
    rectified_at: Mapped[datetime | None]
    on_time: Mapped[bool | None]

    unit: Mapped[Unit] = relationship()


class Interview(db.Model):
    """One 约谈 of a unit's head: who, when, what was promised, and its follow-up."""

    __tablename__ = "interviews"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), index=True)
    held_on: Mapped[date]
    interviewer: Mapped[str] = mapped_column(sa.String(100))  # 约谈人
    interviewee: Mapped[str] = mapped_column(sa.String(100))  # 被约谈人
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    commitments: Mapped[str] = mapped_column(sa.Text)
    follow_up_due_at: Mapped[datetime]
    followed_up_at: Mapped[datetime | None]
    follow_up_note: Mapped[str] = mapped_column(sa.Text, default="")
    followed_up_by: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_accounts.id"))
    recorded_by: Mapped[int] = mapped_column(sa.ForeignKey("staff_accounts.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    unit: Mapped[Unit] = relationship()


class PublicSummary(db.Model):
    """The text of a closed clue's outcome that a screener approved for the public page; the
    page shows no text of a clue without one."""

    __tablename__ = "clue_public_summaries"

    clue_id: Mapped[int] = mapped_column(sa.ForeignKey("clues.id"), primary_key=True)
    text: Mapped[str] = mapped_column(sa.Text)
    approved_by: Mapped[int] = mapped_column(sa.ForeignKey("staff_accounts.id"))
    approved_at: Mapped[datetime] = mapped_column(default=utcnow)
