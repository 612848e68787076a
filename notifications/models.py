"""What the notification layer keeps: the outbox, the staff inbox, letters and notices with
their serial numbers, and residents' one-time WeChat subscription quota."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import utcnow
from app.db import BigId, db, str_enum
from app.enums import LabelledEnum
from app.org.models import Unit


class Channel(enum.StrEnum):
    WECHAT = "wechat"  # subscribe message to a resident
    HOTLINE = "12345"  # the city's 12345 platform
    SMS = "sms"  # a text message to a consenting confidential reporter (Tencent Cloud SMS)


class OutboxKind(LabelledEnum):
    """What an outbox message is about; the WeChat ones name its subscribe template."""

    CLUE_ACCEPTED = "clue_accepted", "问题受理通知"
    CLUE_RESULT = "clue_result", "办理结果通知"
    APPEAL_DECISION = "appeal_decision", "复核结果通知"
    RERATING_INVITE = "rerating_invite", "回访评价邀请"
    FORWARD = "forward", "转 12345 办理"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    SKIPPED = "skipped"  # nothing to send with (e.g. the resident gave no subscription quota)
    DEAD = "dead"  # gave up: permanent error or too many attempts


class OutboxMessage(db.Model):
    """A message to the outside world, written in the transaction of the change that causes
    it and delivered after commit by the dispatcher (leased, retried, dead-lettered)."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Stable across retries: the receiver can drop duplicates (12345 uses it as event id).
    event_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "outbox_channel"))
    kind: Mapped[OutboxKind] = mapped_column(str_enum(OutboxKind, "outbox_kind"))
    resident_id: Mapped[int | None] = mapped_column(sa.ForeignKey("residents.id"), index=True)
    clue_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clues.id"), index=True)
    payload: Mapped[dict[str, Any]]
    status: Mapped[OutboxStatus] = mapped_column(
        str_enum(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    leased_by: Mapped[str | None] = mapped_column(sa.String(128))
    last_error: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class InboxItem(db.Model):
    """A message in one staff member's in-app inbox."""

    __tablename__ = "inbox_items"
    __table_args__ = (
        sa.Index("ix_inbox_staff_read", "staff_id", "read_at"),
        sa.UniqueConstraint("staff_id", "dedupe_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_accounts.id"))
    kind: Mapped[str] = mapped_column(sa.String(32))
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    clue_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clues.id"))
    letter_id: Mapped[int | None] = mapped_column(sa.ForeignKey("letters.id"))
    referral_id: Mapped[int | None] = mapped_column(sa.ForeignKey("referrals.id"))
    dedupe_key: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]


class LetterKind(LabelledEnum):
    """Letters and notices; `serial_prefix` starts their number (评督〔2026〕12号)."""

    REMINDER = "reminder", "提醒函", "评提"
    SUPERVISION = "supervision", "督办函", "评督"
    ESCALATION = "escalation", "提级督办函", "评督提"  # to the superior organ
    NOTICE = "notice", "通报", "评通"

    def __init__(self, value: str, label: str, serial_prefix: str) -> None:
        self.serial_prefix = serial_prefix


class Letter(db.Model):
    """A reminder or supervision letter to a unit, or a notice to all: numbered, stored, and
    rendered as a PDF with real (selectable) Chinese text."""

    __tablename__ = "letters"
    __table_args__ = (sa.UniqueConstraint("kind", "year", "number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[LetterKind] = mapped_column(str_enum(LetterKind, "letter_kind"))
    year: Mapped[int]
    number: Mapped[int]
    serial: Mapped[str] = mapped_column(sa.String(32))  # 评督〔2026〕12号
    # Makes every sweep idempotent: one letter per cause, whoever runs the sweep how often.
    dedupe_key: Mapped[str] = mapped_column(sa.String(100), unique=True)
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"), index=True)
    clue_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clues.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)  # tables of a notice, etc.
    period_start: Mapped[date | None]
    period_end: Mapped[date | None]
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Supervision letters need an answer by this time; unanswered ones escalate.
    response_due_at: Mapped[datetime | None]
    response: Mapped[str] = mapped_column(sa.Text, default="")
    responded_at: Mapped[datetime | None]
    responded_by: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_accounts.id"))
    escalated_at: Mapped[datetime | None]

    unit: Mapped[Unit | None] = relationship()


class SerialCounter(db.Model):
    """Letter numbers run per kind and year."""

    __tablename__ = "letter_counters"

    kind: Mapped[LetterKind] = mapped_column(str_enum(LetterKind, "letter_kind"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


class SubscriptionQuota(db.Model):
    """One-time subscription quota a resident granted per template (each tap allows ONE)."""

    __tablename__ = "subscription_quota"

    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("residents.id"), primary_key=True)
    template: Mapped[str] = mapped_column(sa.String(32), primary_key=True)  # our kind name
    remaining: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WeChatContact(db.Model):
    """The openid of a resident who asked to be notified, encrypted, kept only to send the
    subscribe messages they allowed (identities elsewhere are keyed hashes only)."""

    __tablename__ = "wechat_contacts"

    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("residents.id"), primary_key=True)
    openid_encrypted: Mapped[str] = mapped_column(sa.Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
