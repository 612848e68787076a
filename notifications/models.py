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
from app.org.models import Unit


class Channel(enum.StrEnum):
    WECHAT = "wechat"  # subscribe message to a resident
    HOTLINE = "12345"  # the city's 12345 platform


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
    kind: Mapped[str] = mapped_column(sa.String(32))  # e.g. clue_accepted, forward
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


class LetterKind(enum.StrEnum):
    REMINDER = "reminder"  # 提醒函
    SUPERVISION = "supervision"  # 督办函
    ESCALATION = "escalation"  # 督办函（提级）: to the superior organ
    NOTICE = "notice"  # 通报

    @property
    def label(self) -> str:
        return LETTER_LABELS[self][0]

    @property
    def serial_prefix(self) -> str:
        return LETTER_LABELS[self][1]


LETTER_LABELS = {
    LetterKind.REMINDER: ("提醒函", "评提"),
    LetterKind.SUPERVISION: ("督办函", "评督"),
    LetterKind.ESCALATION: ("提级督办函", "评督提"),
    LetterKind.NOTICE: ("通报", "评通"),
}


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

    kind: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
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
