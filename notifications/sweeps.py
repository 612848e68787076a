"""The scheduled sweeps: plain, idempotent functions over database state.

Running a sweep twice, or in two processes at once, sends nothing twice: every letter has a
unique cause, every inbox item a dedupe key, and each sweep first takes the letter counter
lock, so a concurrent sweep waits and then sees what the first one did. A sweep touches a
fixed number of statements however many clues are open.

Each sweep reads in three steps: select (the rows that are due), compose (what to send,
worded by the templates in notifications/templates/), issue (letters, inbox items, outbox
messages).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from app.clock import local_date, utcnow
from app.extensions import db
from app.org.models import Role, Unit, root_unit
from app.workdays import load_calendar
from clues.models import Clue, ClueReporter, ClueWarning, ReratingInvitation
from notifications.deadlines import sweep_stages
from notifications.inbox import notify_staff
from notifications.letters import (
    LetterSpec,
    compose_letter,
    fan_out,
    issue_letters,
    lock_counter,
    signature,
)
from notifications.models import Channel, Letter, LetterKind, OutboxMessage, OutboxStatus
from notifications.outbox import enqueue
from notifications.triggers import resident_message, wechat_reporters
from notifications.wording import render_titled


def _sweep_mutex(now: datetime) -> None:
    """Serialize sweeps: whoever holds the reminder counter's row lock goes first."""
    lock_counter(LetterKind.REMINDER, local_date(now).year)


# ---------------------------------------------------------------- deadlines


def deadline_sweep(now: datetime | None = None) -> dict[str, int]:
    """Every registered deadline-bound stage (notifications/deadlines.py): a reminder the
    working day before it is due, a notice on its first overdue working day, then one unit up
    the tree every ESCALATION_INTERVAL_DAYS working days. Notices go out on working days
    only: on a weekend or holiday the sweep sends nothing and Monday's first sweep catches up.
    """
    now = now or utcnow()
    _sweep_mutex(now)
    calendar = load_calendar()
    names = ("reminders", "overdue", "escalations", "supervisions", "inbox_items")
    if not calendar.is_working_day(local_date(now)):
        return dict.fromkeys(names, 0)
    counts = sweep_stages(now, calendar, signature(now))
    counts["supervisions"] = counts[LetterKind.SUPERVISION.value]
    return {name: counts[name] for name in names}


# ---------------------------------------------------------------- high-frequency warnings


# A warning about a target reported by several residents is told to the unit; one about a
# single resident reporting repeatedly stays with the screeners (it points at that resident).
UNIT_WARNING_KINDS = ("officer_reported", "unit_reported")


def select_unlettered_warnings() -> Sequence[ClueWarning]:
    """Warnings the reported unit should hear about that no letter has covered yet."""
    return db.session.scalars(
        sa.select(ClueWarning)
        .where(ClueWarning.letter_id.is_(None), ClueWarning.kind.in_(UNIT_WARNING_KINDS))
        .order_by(ClueWarning.id)
    ).all()


def residents_reporting(unit_id: int, window_days: int, now: datetime) -> int:
    """How many different residents reported the unit (or its officers) in the window."""
    return (
        db.session.scalar(
            sa.select(sa.func.count(sa.distinct(ClueReporter.resident_id)))
            .join(Clue, Clue.id == ClueReporter.clue_id)
            .where(
                Clue.unit_id == unit_id,
                Clue.submitted_at >= now - timedelta(days=window_days),
                ClueReporter.resident_id.is_not(None),
            )
        )
        or 0
    )


def compose_warning_letters(
    warnings: Iterable[ClueWarning], signed: str, now: datetime
) -> list[LetterSpec]:
    """One 提醒函 per unit and week, saying how many residents reported it in the window:
    no clue, no date, no repeat reporter, so the letter cannot point back at anyone."""
    by_unit: dict[int, list[ClueWarning]] = defaultdict(list)
    for warning in warnings:
        by_unit[warning.unit_id].append(warning)
    year, week, _ = local_date(now).isocalendar()
    specs = []
    for unit_id, found in by_unit.items():
        window = max(w.window_days for w in found)
        context = {
            "unit_name": db.session.get(Unit, unit_id).name,
            "window_days": window,
            "count": residents_reporting(unit_id, window, now),
        }
        specs.append(
            compose_letter(
                "letters/warning.txt",
                context,
                signed,
                dedupe_key=f"warning:{unit_id}:{year}-W{week:02d}",
                unit_id=unit_id,
                clue_id=None,
            )
        )
    return specs


def warning_letter_sweep(now: datetime | None = None) -> dict[str, int]:
    """A 提醒函 to each unit with new high-frequency warnings, at most one a week."""
    now = now or utcnow()
    _sweep_mutex(now)
    warnings = select_unlettered_warnings()
    letters = issue_letters(
        LetterKind.REMINDER, compose_warning_letters(warnings, signature(now), now), now=now
    )
    issued = {letter.unit_id: letter.id for letter in letters}
    existing = _this_weeks_warning_letters({w.unit_id for w in warnings} - set(issued), now)
    for warning in warnings:
        warning.letter_id = issued.get(warning.unit_id) or existing.get(warning.unit_id)
    fan_out(
        letters,
        roles=(Role.VERIFIER, Role.SUPERIOR),
        kind="letter_reminder",
        title="inbox/letter_warning.txt",
    )
    return {"warning_letters": len(letters)}


def _this_weeks_warning_letters(unit_ids: set[int], now: datetime) -> dict[int, int]:
    """The letter a unit already had this week: later warnings of the week are covered by it."""
    if not unit_ids:
        return {}
    year, week, _ = local_date(now).isocalendar()
    keys = {f"warning:{unit_id}:{year}-W{week:02d}": unit_id for unit_id in unit_ids}
    return {
        keys[key]: letter_id
        for key, letter_id in db.session.execute(
            sa.select(Letter.dedupe_key, Letter.id).where(Letter.dedupe_key.in_(keys))
        )
    }


# ---------------------------------------------------------------- re-rating


def select_invitations_to_remind(now: datetime) -> Sequence[ReratingInvitation]:
    """Pending invitations past the reminder point, never reminded, not yet expired."""
    remind_after = timedelta(days=current_app.config["RERATING_REMINDER_AFTER_DAYS"])
    return db.session.scalars(
        sa.select(ReratingInvitation).where(
            ReratingInvitation.status == "pending",
            ReratingInvitation.reminded_at.is_(None),
            ReratingInvitation.invited_at <= now - remind_after,
            ReratingInvitation.expires_at > now,
        )
    ).all()


def remind_to_rerate(due: Sequence[ReratingInvitation], now: datetime) -> None:
    """Mark each invitation reminded; queue a WeChat message to those WeChat can reach."""
    clues = {
        c.id: c
        for c in db.session.scalars(sa.select(Clue).where(Clue.id.in_({i.clue_id for i in due})))
    }
    reachable = set(wechat_reporters([i.resident_id for i in due]))
    for invitation in due:
        invitation.reminded_at = now
        if invitation.resident_id in reachable:
            clue = clues[invitation.clue_id]
            enqueue(
                channel=Channel.WECHAT,
                kind="rerating_invite",
                clue_id=clue.id,
                resident_id=invitation.resident_id,
                event_id=f"rerating-reminder:{invitation.id}",
                payload={
                    **resident_message("rerating_invite", clue),
                    "expires_at": invitation.expires_at.isoformat(),
                },
            )


def rerating_sweep(now: datetime | None = None) -> dict[str, int]:
    """Remind reporters once, midway, to re-rate; after the window record "not rated"."""
    now = now or utcnow()
    expired = db.session.execute(
        sa.update(ReratingInvitation)
        .where(ReratingInvitation.status == "pending", ReratingInvitation.expires_at <= now)
        .values(status="not_rated")
    ).rowcount
    due = select_invitations_to_remind(now)
    remind_to_rerate(due, now)
    return {"not_rated": expired, "reminded": len(due)}


# ---------------------------------------------------------------- undeliverable messages


def dead_letter_digest(now: datetime | None = None) -> dict[str, int]:
    """Once a day, tell the administrators what could not be delivered."""
    now = now or utcnow()
    dead = db.session.execute(
        sa.select(OutboxMessage.channel, sa.func.count())
        .where(
            OutboxMessage.status == OutboxStatus.DEAD,
            OutboxMessage.created_at >= now - timedelta(days=1),
        )
        .group_by(OutboxMessage.channel)
    ).all()
    total = sum(count for _, count in dead)
    root = root_unit()
    if total and root is not None:
        title, body = render_titled(
            "inbox/dead_letters.txt",
            total=total,
            dead=[(channel.value, count) for channel, count in dead],
        )
        notify_staff(
            roles=(Role.ADMIN,),
            unit=root,
            kind="dead_letters",
            title=title,
            body=body,
            dedupe_key=f"dead-letters:{local_date(now).isoformat()}",
        )
    return {"dead": total}
