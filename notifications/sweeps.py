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
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.clock import local_date, local_day_end, utcnow
from app.extensions import db
from app.org.models import Role, StaffAccount, Unit, ancestor_ids, root_unit
from app.workdays import WorkingCalendar, load_calendar
from clues.models import Clue, ClueReporter, ClueStage, ClueWarning, ReratingInvitation, Stage
from clues.states import OPEN_STATUSES
from notifications.inbox import notify_staff
from notifications.letters import (
    Issued,
    LetterSpec,
    compose_letter,
    issue_letters,
    lock_counter,
    signature,
)
from notifications.models import Channel, InboxItem, Letter, LetterKind, OutboxMessage, OutboxStatus
from notifications.outbox import enqueue
from notifications.triggers import resident_message, wechat_reporters
from notifications.wording import render, render_titled


def _sweep_mutex(now: datetime) -> None:
    """Serialize sweeps: whoever holds the reminder counter's row lock goes first."""
    lock_counter(LetterKind.REMINDER, local_date(now).year)


def fan_out(letters: Iterable[Issued], *, roles: tuple[Role, ...], kind: str, title: str) -> int:
    """Inbox items for the staff covering each letter's unit, in two statements; `title` is
    the template of the item's title."""
    letters = [letter for letter in letters if letter.unit_id is not None]
    if not letters:
        return 0
    units = db.session.scalars(
        sa.select(Unit).where(Unit.id.in_({letter.unit_id for letter in letters}))
    )
    ancestors = {unit.id: ancestor_ids(unit.path) for unit in units}
    staff_by_unit: dict[int, list[tuple[int, int | None]]] = defaultdict(list)
    for staff_id, unit_id, officer_id in db.session.execute(
        sa.select(StaffAccount.id, StaffAccount.unit_id, StaffAccount.officer_id).where(
            StaffAccount.role.in_(roles), StaffAccount.is_active
        )
    ):
        staff_by_unit[unit_id].append((staff_id, officer_id))
    accused = _accused_officers({letter.clue_id for letter in letters} - {None})
    rows = [
        {
            "staff_id": staff_id,
            "kind": kind,
            "title": render(title, serial=letter.serial)[:200],
            "body": letter.body[:500],
            "clue_id": letter.clue_id,
            "letter_id": letter.id,
            "dedupe_key": f"letter:{letter.id}",
            "created_at": letter.issued_at,
        }
        for letter in letters
        for unit_id in ancestors[letter.unit_id]
        for staff_id, officer_id in staff_by_unit.get(unit_id, [])
        # The accused officer is never sent a letter naming the clue about them.
        if officer_id is None or accused.get(letter.clue_id) != officer_id
    ]
    if rows:
        db.session.execute(sa.insert(InboxItem), rows)
    return len(rows)


def _accused_officers(clue_ids: set[int]) -> dict[int, int]:
    """The officer each of these clues is about, where it names one."""
    if not clue_ids:
        return {}
    return dict(
        db.session.execute(
            sa.select(Clue.id, Clue.officer_id).where(
                Clue.id.in_(clue_ids), Clue.officer_id.is_not(None)
            )
        ).all()
    )


# ---------------------------------------------------------------- deadlines: select


def _not_issued(prefix: str, ident: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    """No letter yet for this cause (the unique dedupe key's index answers it)."""
    return ~sa.exists().where(Letter.dedupe_key == sa.literal(prefix) + sa.cast(ident, sa.String))


def select_open_stages(condition: sa.ColumnElement[bool], prefix: str) -> Sequence[Any]:
    """Unfinished verifications of open clues meeting `condition`, without a letter `prefix`."""
    return db.session.execute(
        sa.select(
            ClueStage.id,
            ClueStage.clue_id,
            ClueStage.unit_id,
            ClueStage.due_at,
            Clue.tracking_no,
            Clue.category,
            Unit.name.label("unit_name"),
        )
        .join(Clue, Clue.id == ClueStage.clue_id)
        .join(Unit, Unit.id == ClueStage.unit_id)
        .where(
            ClueStage.stage == Stage.VERIFICATION,
            ClueStage.finished_at.is_(None),
            Clue.status.in_(OPEN_STATUSES),
            condition,
            _not_issued(prefix, ClueStage.id),
        )
        .order_by(ClueStage.due_at, ClueStage.id)
    ).all()


def select_unanswered_supervisions(now: datetime) -> Sequence[Any]:
    """督办函 unanswered past their response date and not yet escalated, with both units."""
    parent = sa.orm.aliased(Unit)
    return db.session.execute(
        sa.select(
            Letter.id,
            Letter.serial,
            Letter.clue_id,
            Letter.issued_at,
            Letter.response_due_at,
            Unit.name.label("unit_name"),
            Unit.parent_id,
            parent.name.label("parent_name"),
        )
        .join(Unit, Unit.id == Letter.unit_id)
        .join(parent, parent.id == Unit.parent_id, isouter=True)
        .where(
            Letter.kind == LetterKind.SUPERVISION,
            Letter.responded_at.is_(None),
            Letter.escalated_at.is_(None),
            Letter.response_due_at <= now,
        )
    ).all()


# ---------------------------------------------------------------- deadlines: compose


def compose_reminders(rows: Iterable[Any], signed: str) -> list[LetterSpec]:
    """提醒函: the verification is due by the end of the next working day."""
    return [
        compose_letter(
            "letters/reminder.txt",
            row._asdict(),
            signed,
            dedupe_key=f"reminder:stage:{row.id}",
            unit_id=row.unit_id,
            clue_id=row.clue_id,
        )
        for row in rows
    ]


def compose_supervisions(
    rows: Iterable[Any], signed: str, *, response_due: datetime
) -> list[LetterSpec]:
    """督办函: the verification is overdue; the unit answers in writing by `response_due`."""
    return [
        compose_letter(
            "letters/supervision.txt",
            {**row._asdict(), "response_due_at": response_due},
            signed,
            dedupe_key=f"supervision:stage:{row.id}",
            unit_id=row.unit_id,
            clue_id=row.clue_id,
            response_due_at=response_due,
        )
        for row in rows
    ]


def compose_escalations(rows: Iterable[Any], signed: str) -> list[LetterSpec]:
    """提级督办函 to the supervising organ (a root unit has none to escalate to)."""
    return [
        compose_letter(
            "letters/escalation.txt",
            row._asdict(),
            signed,
            dedupe_key=f"escalation:letter:{row.id}",
            unit_id=row.parent_id,
            clue_id=row.clue_id,
        )
        for row in rows
        if row.parent_id is not None
    ]


# ---------------------------------------------------------------- deadlines: issue


def deadline_sweep(now: datetime | None = None) -> dict[str, int]:
    """提醒函 one working day before a verification is due, 督办函 once it is overdue, and
    提级督办 to the supervising organ when a 督办函 is unanswered past its response date."""
    now = now or utcnow()
    _sweep_mutex(now)
    calendar = load_calendar()
    signed = signature(now)
    reminders = issue_letters(
        LetterKind.REMINDER, compose_reminders(_due_soon(now, calendar), signed), now=now
    )
    overdue = select_open_stages(ClueStage.due_at <= now, "supervision:stage:")
    response_due = calendar.deadline(now, current_app.config["SUPERVISION_RESPONSE_DAYS"])
    supervisions = issue_letters(
        LetterKind.SUPERVISION,
        compose_supervisions(overdue, signed, response_due=response_due),
        now=now,
    )
    ignored = select_unanswered_supervisions(now)
    escalated = issue_letters(LetterKind.ESCALATION, compose_escalations(ignored, signed), now=now)
    if ignored:
        db.session.execute(
            sa.update(Letter).where(Letter.id.in_([r.id for r in ignored])).values(escalated_at=now)
        )
    return {
        "reminders": len(reminders),
        "supervisions": len(supervisions),
        "escalations": len(escalated),
        "inbox_items": _announce_deadline_letters(reminders, supervisions, escalated),
    }


def _due_soon(now: datetime, calendar: WorkingCalendar) -> Sequence[Any]:
    """Due by the end of the next working day and not yet overdue."""
    horizon = local_day_end(calendar.add_working_days(local_date(now), 1))
    return select_open_stages(
        sa.and_(ClueStage.due_at > now, ClueStage.due_at <= horizon), "reminder:stage:"
    )


def _announce_deadline_letters(
    reminders: list[Issued], supervisions: list[Issued], escalated: list[Issued]
) -> int:
    verifier, superior = Role.VERIFIER, Role.SUPERIOR
    return (
        fan_out(
            reminders, roles=(verifier,), kind="letter_reminder", title="inbox/letter_reminder.txt"
        )
        + fan_out(
            supervisions,
            roles=(verifier, superior),
            kind="letter_supervision",
            title="inbox/letter_supervision.txt",
        )
        + fan_out(
            escalated,
            roles=(superior,),
            kind="letter_escalation",
            title="inbox/letter_escalation.txt",
        )
    )


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
