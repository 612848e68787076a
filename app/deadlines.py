"""Deadline-bound stages of every kind, and the one record of each reminder and escalation.

Every stage with a deadline — a clue's screening, verification, review and appeal decision,
its 12345 handling, a referral's receipt and conclusion, a supervision letter's reply, a bad
rating's rectification, an interview's follow-up — is registered here as a `StageKind`. The
deadline sweep (`notifications/deadlines.py`) walks every registered kind the same way:

- a **reminder** once the item is due by the end of the next working day (level -1);
- on its **first overdue working day** a notice to the unit that must act (level 0): a
  督办函 for unit-facing kinds, an inbox message for internal ones;
- then every `ESCALATION_INTERVAL_DAYS` working days one step **up the unit tree** (level k:
  the k-th unit above), a 提级督办函 or an inbox message to the staff sitting there, until the
  root has been told.

Each (kind, item, level) is a row of `deadline_notices` under a unique key, inserted with
ON CONFLICT DO NOTHING before anything is sent: however many sweeps or schedulers run at
once, only the one whose insert lands sends it. Notices go out on working days only.

Registering a kind (from any package: this module sits in the lowest layer)::

    from app.deadlines import Audience, DeadlineKind, StageKind, register_stage

    def open_rectifications(now):
        # One row per item whose clock runs at `now`: started by `now`, not finished by it
        # (the demo replays a past year through the same sweep, so "finished" means
        # "finished by now", not "finished ever"). Columns, by these labels:
        return (
            sa.select(
                BadRating.id.label("item_id"),       # the item's id within its kind
                BadRating.unit_id.label("unit_id"),  # who must act (not null)
                BadRating.due_at.label("due_at"),    # UTC, end of the last working day
                sa.null().label("clue_id"),          # the clue it is about, if any
                sa.literal("差评整改").label("subject"),  # shown in the messages
            )
            .where(BadRating.created_at <= now, ...)
        )

    register_stage(StageKind(
        kind=DeadlineKind.BAD_RATING,
        audience=Audience.LETTER,          # letters to the unit, or Audience.INBOX
        open_items=open_rectifications,
        roles=(Role.VERIFIER,),            # told of reminders and of the first overdue day
    ))

Register at import time of a module the app imports (e.g. the package's jobs module). A new
kind also needs a member of `DeadlineKind` (the column's CHECK constraint lists them).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.db import BigId, db, str_enum
from app.enums import LabelledEnum
from app.org.models import Role

REMINDER_LEVEL = -1  # before the due date; 0 is the first overdue working day


class DeadlineKind(LabelledEnum):
    """Every kind of deadline-bound stage; the label names the stage in messages."""

    SCREENING = "screening", "审核交办"
    VERIFICATION = "verification", "核查"
    REVIEW = "review", "上级审核"
    APPEAL = "appeal", "复核申请决定"
    FORWARDED = "forwarded", "12345 办理"
    REFERRAL_RECEIPT = "referral_receipt", "纪检移交签收"
    REFERRAL_CONCLUSION = "referral_conclusion", "纪检移交办结"
    LETTER_REPLY = "letter_reply", "督办函回复"
    BAD_RATING = "bad_rating", "差评整改"
    INTERVIEW = "interview", "约谈整改跟进"


class Audience(enum.StrEnum):
    INBOX = "inbox"  # internal stages: staff inbox messages
    LETTER = "letter"  # unit-facing stages: 提醒函, 督办函, 提级督办函 (and their inbox copies)


@dataclass(frozen=True)
class StageKind:
    """How the sweep finds and tells about one kind of deadline-bound stage.

    `open_items(now)` returns a SELECT of the items open at `now` with the columns
    item_id, unit_id, due_at, clue_id, subject. `roles` are told of the reminder and the
    first overdue day (staff of those roles whose scope covers the unit); `escalation_roles`
    are the staff sitting at each unit an escalation reaches. `first_level` 1 skips the
    overdue notice to the unit itself (a letter's reply: the letter already went there).
    """

    kind: DeadlineKind
    audience: Audience
    open_items: Callable[[datetime], sa.Select[Any]]
    roles: tuple[Role, ...]
    escalation_roles: tuple[Role, ...] = (Role.SUPERIOR, Role.SCREENER)
    first_level: int = 0

    @property
    def label(self) -> str:
        return self.kind.label


STAGE_KINDS: dict[DeadlineKind, StageKind] = {}


def register_stage(spec: StageKind) -> StageKind:
    """Put a kind of stage under the deadline sweep (once per kind)."""
    known = STAGE_KINDS.get(spec.kind)
    if known is not None and known.open_items is not spec.open_items:
        raise RuntimeError(f"stage kind {spec.kind.value!r} registered twice")
    STAGE_KINDS[spec.kind] = spec
    return spec


class DeadlineNotice(db.Model):
    """One reminder (level -1), overdue notice (0) or escalation (k: the k-th unit up) of
    one item, recorded once: the unique key is what makes every sweep idempotent."""

    __tablename__ = "deadline_notices"
    __table_args__ = (
        sa.UniqueConstraint("kind", "item_id", "level"),
        sa.Index("ix_deadline_notices_issued_at", "issued_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[DeadlineKind] = mapped_column(str_enum(DeadlineKind, "deadline_kind"))
    item_id: Mapped[int] = mapped_column(sa.BigInteger)
    level: Mapped[int]
    clue_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clues.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"))  # told
    due_at: Mapped[datetime]
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    letter_id: Mapped[int | None] = mapped_column(sa.ForeignKey("letters.id"))
    recipients: Mapped[int] = mapped_column(default=0)  # inbox items written
