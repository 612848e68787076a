"""The deadline sweep over every registered stage kind (see app/deadlines.py for the ladder):
a reminder before the due date, a notice on the first overdue working day, then one unit up
the tree every ESCALATION_INTERVAL_DAYS working days until the root has been told.

Exactly once: each (kind, item, level) is claimed by inserting its `deadline_notices` row
with ON CONFLICT DO NOTHING; only the sweep whose insert lands sends anything. Letters keep
their own unique cause as well, and the sweep mutex queues concurrent sweeps.

The clue's own stages, a referral's receipt and conclusion and a 督办函's reply are
registered here; other packages register theirs where they live.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.clock import local_date, local_day_end, local_day_start
from app.db import upsert_insert
from app.deadlines import (
    REMINDER_LEVEL,
    STAGE_KINDS,
    Audience,
    DeadlineKind,
    DeadlineNotice,
    StageKind,
    register_stage,
)
from app.extensions import db
from app.org.models import Role, Unit, ancestor_ids
from app.workdays import WorkingCalendar, load_calendar
from clues.models import Clue, ClueStage, Referral, Stage
from clues.states import OPEN_STATUSES
from notifications.inbox import notify_staff
from notifications.letters import Issued, LetterSpec, compose_letter, fan_out, issue_letters
from notifications.models import Letter, LetterKind
from notifications.wording import render_titled

# ---------------------------------------------------------------- the built-in kinds


def _open_at(started: Any, finished: Any, now: datetime) -> sa.ColumnElement[bool]:
    """Started by `now` and not finished by it (a replayed past sweeps the same way)."""
    return sa.and_(started <= now, sa.or_(finished.is_(None), finished > now))


def clue_stage_items(stage: Stage) -> Callable[[datetime], sa.Select[Any]]:
    """The open runs of one clue stage, with the unit that must act on them."""

    def select(now: datetime) -> sa.Select[Any]:
        return (
            sa.select(
                ClueStage.id.label("item_id"),
                ClueStage.unit_id.label("unit_id"),
                ClueStage.due_at.label("due_at"),
                ClueStage.clue_id.label("clue_id"),
                Clue.tracking_no.label("subject"),
            )
            .join(Clue, Clue.id == ClueStage.clue_id)
            .where(
                ClueStage.stage == stage,
                ClueStage.unit_id.is_not(None),
                _open_at(ClueStage.started_at, ClueStage.finished_at, now),
            )
        )

    return select


def referral_items(step: str) -> Callable[[datetime], sa.Select[Any]]:
    """Referrals awaiting the liaison's receipt ("receive") or conclusion ("conclude")."""

    def select(now: datetime) -> sa.Select[Any]:
        due = Referral.receive_due_at if step == "receive" else Referral.conclude_due_at
        started = Referral.referred_at if step == "receive" else Referral.received_at
        finished = Referral.received_at if step == "receive" else Referral.concluded_at
        return (
            sa.select(
                Referral.id.label("item_id"),
                Clue.unit_id.label("unit_id"),
                due.label("due_at"),
                Referral.clue_id.label("clue_id"),
                Clue.tracking_no.label("subject"),
            )
            .join(Clue, Clue.id == Referral.clue_id)
            .where(due.is_not(None), started.is_not(None), _open_at(started, finished, now))
        )

    return select


def letter_reply_items(now: datetime) -> sa.Select[Any]:
    """督办函 awaiting the unit's written answer, with the stage whose lateness caused them
    (an unanswered letter brings that stage's first escalation forward, never a second one)."""
    cause = sa.orm.aliased(DeadlineNotice)
    return (
        sa.select(
            Letter.id.label("item_id"),
            Letter.unit_id.label("unit_id"),
            Letter.response_due_at.label("due_at"),
            Letter.clue_id.label("clue_id"),
            Letter.serial.label("subject"),
            cause.kind.label("chain_kind"),
            cause.item_id.label("chain_item"),
        )
        .join(cause, sa.and_(cause.letter_id == Letter.id, cause.level == 0), isouter=True)
        .where(
            Letter.kind == LetterKind.SUPERVISION,
            Letter.unit_id.is_not(None),
            Letter.response_due_at.is_not(None),
            _open_at(Letter.issued_at, Letter.responded_at, now),
            sa.or_(Letter.escalated_at.is_(None), Letter.escalated_at > now),
        )
    )


CLUE_STAGES = {
    DeadlineKind.SCREENING: Stage.SCREENING,
    DeadlineKind.VERIFICATION: Stage.VERIFICATION,
    DeadlineKind.REVIEW: Stage.REVIEW,
    DeadlineKind.APPEAL: Stage.APPEAL,
    DeadlineKind.FORWARDED: Stage.FORWARDED,
}
_INTERNAL_ROLES = {
    DeadlineKind.SCREENING: (Role.SCREENER,),
    DeadlineKind.REVIEW: (Role.SUPERIOR,),
    DeadlineKind.APPEAL: (Role.SUPERIOR,),
    DeadlineKind.FORWARDED: (Role.SCREENER,),
}
for _kind, _roles in _INTERNAL_ROLES.items():
    register_stage(
        StageKind(_kind, Audience.INBOX, clue_stage_items(CLUE_STAGES[_kind]), roles=_roles)
    )
register_stage(
    StageKind(
        DeadlineKind.VERIFICATION,
        Audience.LETTER,
        clue_stage_items(Stage.VERIFICATION),
        roles=(Role.VERIFIER,),
        escalation_roles=(Role.SUPERIOR, Role.VERIFIER),
    )
)
# A discipline case is told to the liaison and, above, only to liaisons and administrators:
# never up the reported unit's own line.
for _kind, _step in (
    (DeadlineKind.REFERRAL_RECEIPT, "receive"),
    (DeadlineKind.REFERRAL_CONCLUSION, "conclude"),
):
    register_stage(
        StageKind(
            _kind,
            Audience.INBOX,
            referral_items(_step),
            roles=(Role.LIAISON,),
            escalation_roles=(Role.LIAISON, Role.ADMIN),
        )
    )
register_stage(
    StageKind(
        DeadlineKind.LETTER_REPLY,
        Audience.LETTER,
        letter_reply_items,
        roles=(Role.VERIFIER,),
        escalation_roles=(Role.SUPERIOR,),
        first_level=1,
    )
)


# ---------------------------------------------------------------- select: what is due


@dataclass(frozen=True)
class Due:
    """One notice to send: `level` of `item` of `spec`, to `target`."""

    spec: StageKind
    row: Any
    level: int
    target: Unit
    origin: Unit
    overdue_days: int

    @property
    def kind(self) -> DeadlineKind:
        return self.spec.kind

    @property
    def chain(self) -> tuple[DeadlineKind, int]:
        """The stage this notice escalates: a letter's reply escalates the stage behind it."""
        chain_kind = getattr(self.row, "chain_kind", None)
        if self.level >= 1 and chain_kind is not None:
            return DeadlineKind(chain_kind), int(self.row.chain_item)
        return self.kind, int(self.row.item_id)


def _cause(kind: DeadlineKind, item_id: int) -> str:
    """The letter cause of an item: clue stages keep their old `stage:<id>` causes."""
    return f"stage:{item_id}" if kind in CLUE_STAGES else f"{kind.value}:{item_id}"


def _notices_sent(kind: DeadlineKind, item_ids: list[int]) -> dict[tuple[int, int], datetime]:
    """When each (item, level) of these items was sent."""
    sent: dict[tuple[int, int], datetime] = {}
    for chunk in range(0, len(item_ids), 5000):
        for item_id, level, issued_at in db.session.execute(
            sa.select(DeadlineNotice.item_id, DeadlineNotice.level, DeadlineNotice.issued_at).where(
                DeadlineNotice.kind == kind,
                DeadlineNotice.item_id.in_(item_ids[chunk : chunk + 5000]),
            )
        ):
            sent[(item_id, level)] = issued_at
    return sent


def overdue_working_days(due_at: datetime, now: datetime, calendar: WorkingCalendar) -> int:
    """How many working days an item due at `due_at` is overdue at `now` (1 on the first)."""
    return max(1, calendar.working_days_between(local_date(due_at), local_date(now)))


def select_due(
    spec: StageKind,
    now: datetime,
    calendar: WorkingCalendar,
    units: dict[int, Unit],
    interval: int,
) -> list[Due]:
    """The one next notice each open item of `spec` is owed at `now`, if any: the reminder
    while it is due by the end of the next working day, else the lowest level not yet sent
    of those its lateness has reached. One step a working day at most: an item already late
    by several intervals when first seen climbs a step a day, however many sweeps run."""
    horizon = local_day_end(calendar.add_working_days(local_date(now), 1))
    items = spec.open_items(now).subquery()
    rows = db.session.execute(sa.select(items).where(items.c.due_at <= horizon)).all()
    sent = _notices_sent(spec.kind, [row.item_id for row in rows])
    latest: dict[int, datetime] = {}
    for (item_id, _), issued_at in sent.items():
        latest[item_id] = max(issued_at, latest.get(item_id, issued_at))
    today = local_date(now)
    owed = []
    for row in rows:
        origin = units.get(row.unit_id)
        if origin is None:
            continue
        chain = [units[unit_id] for unit_id in ancestor_ids(origin.path) if unit_id in units]
        if row.due_at > now:
            if (row.item_id, REMINDER_LEVEL) not in sent:
                owed.append(Due(spec, row, REMINDER_LEVEL, origin, origin, 0))
            continue
        days = overdue_working_days(row.due_at, now, calendar)
        reached = min(spec.first_level + (days - 1) // interval, len(chain) - 1)
        level = next(
            (n for n in range(spec.first_level, reached + 1) if (row.item_id, n) not in sent), None
        )
        stepped_today = row.item_id in latest and local_date(latest[row.item_id]) == today
        if level is not None and not (level > spec.first_level and stepped_today):
            owed.append(Due(spec, row, level, chain[-1 - level], origin, days))
    return owed


def claim(owed: Sequence[Due], now: datetime) -> list[Due]:
    """Record each notice once; only those this sweep recorded are its to send."""
    if not owed:
        return []
    rows = [
        {
            "kind": due.kind,
            "item_id": due.row.item_id,
            "level": due.level,
            "clue_id": due.row.clue_id,
            "unit_id": due.target.id,
            "due_at": due.row.due_at,
            "issued_at": now,
            "recipients": 0,
        }
        for due in owed
    ]
    statement = (
        upsert_insert(DeadlineNotice)
        .on_conflict_do_nothing(index_elements=["kind", "item_id", "level"])
        .returning(DeadlineNotice.kind, DeadlineNotice.item_id, DeadlineNotice.level)
    )
    claimed = {
        (str(kind), item_id, level) for kind, item_id, level in db.session.execute(statement, rows)
    }
    return [due for due in owed if (due.kind.value, due.row.item_id, due.level) in claimed]


# ---------------------------------------------------------------- compose


def _context(due: Due, tracking_nos: dict[int, str] | None = None) -> dict[str, Any]:
    return {
        "kind": due.kind.value,
        "tracking_no": (tracking_nos or {}).get(due.row.clue_id, ""),
        "stage": due.spec.label,
        "subject": due.row.subject,
        "unit_name": due.target.name,
        "origin_name": due.origin.name,
        "due_at": due.row.due_at,
        "overdue_days": due.overdue_days,
    }


def letter_kind(level: int) -> LetterKind:
    if level == REMINDER_LEVEL:
        return LetterKind.REMINDER
    return LetterKind.SUPERVISION if level == 0 else LetterKind.ESCALATION


def compose_deadline_letter(
    due: Due, signed: str, response_due: datetime, tracking_nos: dict[int, str]
) -> LetterSpec:
    """提醒函, 督办函 or 提级督办函 for one notice, under a cause shared by every path that
    leads to the same letter (a letter's reply and its stage escalate once, together)."""
    template = {REMINDER_LEVEL: "reminder", 0: "overdue"}.get(due.level, "escalation")
    context = {**_context(due, tracking_nos), "response_due_at": response_due}
    return compose_letter(
        f"letters/deadline_{template}.txt",
        context,
        signed,
        dedupe_key=compose_key(due),
        unit_id=due.target.id,
        clue_id=due.row.clue_id,
        response_due_at=response_due if due.level == 0 else None,
    )


# ---------------------------------------------------------------- issue


LETTER_INBOX = {
    LetterKind.REMINDER: ("letter_reminder", "inbox/letter_reminder.txt"),
    LetterKind.SUPERVISION: ("letter_supervision", "inbox/letter_supervision.txt"),
    LetterKind.ESCALATION: ("letter_escalation", "inbox/letter_escalation.txt"),
}


def issue_by_letter(claimed: Sequence[Due], now: datetime, signed: str) -> Counter[str]:
    """Letters for unit-facing notices, the inbox copies, and each notice's letter id."""
    calendar_due = _response_due(now)
    tracking_nos = _tracking_nos({due.row.clue_id for due in claimed} - {None})
    specs = {
        id(due): compose_deadline_letter(due, signed, calendar_due, tracking_nos) for due in claimed
    }
    counts: Counter[str] = Counter()
    for kind in LetterKind:
        batch = [due for due in claimed if letter_kind(due.level) is kind]
        if not batch:
            continue
        issued = issue_letters(kind, [specs[id(due)] for due in batch], now=now)
        counts[kind.value] += len(issued)
        inbox_kind, title = LETTER_INBOX[kind]
        for roles, group in _by_roles(batch, issued):
            counts["inbox_items"] += fan_out(group, roles=roles, kind=inbox_kind, title=title)
    _link_letters(claimed, specs, now)
    return counts


def _tracking_nos(clue_ids: set[int]) -> dict[int, str]:
    """The tracking numbers letters about these clues name."""
    if not clue_ids:
        return {}
    return dict(
        db.session.execute(sa.select(Clue.id, Clue.tracking_no).where(Clue.id.in_(clue_ids))).all()
    )


def _by_roles(
    batch: Sequence[Due], issued: list[Issued]
) -> Iterable[tuple[tuple[Role, ...], list[Issued]]]:
    """Issued letters grouped by who reads them: the acting roles, or those above."""
    by_key = {letter.dedupe_key: letter for letter in issued}
    groups: dict[tuple[Role, ...], list[Issued]] = {}
    for due in batch:
        letter = by_key.pop(compose_key(due), None)
        if letter is not None:
            roles = due.spec.roles if due.level <= 0 else due.spec.escalation_roles
            groups.setdefault(roles, []).append(letter)
    return groups.items()


def compose_key(due: Due) -> str:
    """The letter's cause: the item's reminder or 督办函, or its stage's escalation level."""
    chain_kind, chain_item = due.chain
    if due.level == REMINDER_LEVEL:
        return f"reminder:{_cause(due.kind, due.row.item_id)}"
    if due.level == 0:
        return f"supervision:{_cause(due.kind, due.row.item_id)}"
    return f"escalation:{_cause(chain_kind, chain_item)}:{due.level}"


def _link_letters(claimed: Sequence[Due], specs: dict[int, LetterSpec], now: datetime) -> None:
    """Point each notice at its letter; a letter's reply escalation also counts as its
    stage's, and marks the letter escalated."""
    if not claimed:
        return
    keys = {spec.dedupe_key for spec in specs.values()}
    letter_ids = dict(
        db.session.execute(
            sa.select(Letter.dedupe_key, Letter.id).where(Letter.dedupe_key.in_(keys))
        ).all()
    )
    params = []
    for due in claimed:
        letter_id = letter_ids.get(specs[id(due)].dedupe_key)
        params.append({"k": due.kind, "i": due.row.item_id, "l": due.level, "letter": letter_id})
        if due.chain != (due.kind, due.row.item_id) and letter_id is not None:
            chain_kind, chain_item = due.chain
            db.session.execute(
                upsert_insert(DeadlineNotice)
                .values(
                    kind=chain_kind,
                    item_id=chain_item,
                    level=due.level,
                    clue_id=due.row.clue_id,
                    unit_id=due.target.id,
                    due_at=due.row.due_at,
                    issued_at=now,
                    letter_id=letter_id,
                    recipients=0,
                )
                .on_conflict_do_nothing(index_elements=["kind", "item_id", "level"])
            )
            db.session.execute(
                sa.update(Letter)
                .where(Letter.id == due.row.item_id, Letter.escalated_at.is_(None))
                .values(escalated_at=now)
            )
    if params:
        table = DeadlineNotice.__table__
        db.session.execute(
            sa.update(table)
            .where(
                table.c.kind == sa.bindparam("k"),
                table.c.item_id == sa.bindparam("i"),
                table.c.level == sa.bindparam("l"),
            )
            .values(letter_id=sa.bindparam("letter")),
            params,
        )


def issue_by_inbox(claimed: Sequence[Due]) -> Counter[str]:
    """Inbox messages for internal notices: the acting staff, then those sitting above."""
    counts: Counter[str] = Counter()
    for due in claimed:
        template = {REMINDER_LEVEL: "reminder", 0: "overdue"}.get(due.level, "escalation")
        title, body = render_titled(f"inbox/deadline_{template}.txt", **_context(due))
        sent = notify_staff(
            roles=due.spec.roles if due.level <= 0 else due.spec.escalation_roles,
            unit=due.target,
            kind=f"deadline_{template}",
            title=title,
            body=body,
            dedupe_key=f"deadline:{due.kind.value}:{due.row.item_id}:{due.level}",
            clue_id=due.row.clue_id,
            exact=due.level > 0,
        )
        counts[f"inbox_{template}"] += 1
        counts["inbox_items"] += sent
        db.session.execute(
            sa.update(DeadlineNotice)
            .where(
                DeadlineNotice.kind == due.kind,
                DeadlineNotice.item_id == due.row.item_id,
                DeadlineNotice.level == due.level,
            )
            .values(recipients=sent)
        )
    return counts


def _response_due(now: datetime) -> datetime:
    return load_calendar().deadline(now, current_app.config["SUPERVISION_RESPONSE_DAYS"])


def sweep_stages(now: datetime, calendar: WorkingCalendar, signed: str) -> Counter[str]:
    """Every registered kind: select what is owed, claim it, send it."""
    units = {unit.id: unit for unit in db.session.scalars(sa.select(Unit))}
    interval = max(1, int(current_app.config["ESCALATION_INTERVAL_DAYS"]))
    counts: Counter[str] = Counter()
    for spec in STAGE_KINDS.values():
        claimed = claim(select_due(spec, now, calendar, units, interval), now)
        for due in claimed:
            name = {REMINDER_LEVEL: "reminders", 0: "overdue"}.get(due.level, "escalations")
            counts[name] += 1
        if spec.audience is Audience.LETTER:
            counts += issue_by_letter(claimed, now, signed)
        else:
            counts += issue_by_inbox(claimed)
    return counts


# ---------------------------------------------------------------- how well deadlines are kept


@dataclass(frozen=True)
class DeadlineFigures:
    """Open clues with someone who must act and a date; overdue stages told on time."""

    open_clues: int
    owned_clues: int
    overdue_stages: int
    told_stages: int

    @property
    def owned(self) -> float:
        return self.owned_clues / self.open_clues if self.open_clues else 1.0

    @property
    def told(self) -> float:
        return self.told_stages / self.overdue_stages if self.overdue_stages else 1.0


def _stage_runs() -> list[tuple[DeadlineKind, int, datetime, datetime | None]]:
    """Every run of the built-in stages: (kind, item, due, finished)."""
    kind_of = {stage: kind for kind, stage in CLUE_STAGES.items()}
    runs = [
        (kind_of[stage], item_id, due, finished)
        for stage, item_id, due, finished in db.session.execute(
            sa.select(ClueStage.stage, ClueStage.id, ClueStage.due_at, ClueStage.finished_at)
        )
    ]
    for item_id, receive_due, received, conclude_due, concluded in db.session.execute(
        sa.select(
            Referral.id,
            Referral.receive_due_at,
            Referral.received_at,
            Referral.conclude_due_at,
            Referral.concluded_at,
        )
    ):
        if receive_due is not None:
            runs.append((DeadlineKind.REFERRAL_RECEIPT, item_id, receive_due, received))
        if conclude_due is not None:
            runs.append((DeadlineKind.REFERRAL_CONCLUSION, item_id, conclude_due, concluded))
    runs += [
        (DeadlineKind.LETTER_REPLY, item_id, due, answered)
        for item_id, due, answered in db.session.execute(
            sa.select(Letter.id, Letter.response_due_at, Letter.responded_at).where(
                Letter.kind == LetterKind.SUPERVISION, Letter.response_due_at.is_not(None)
            )
        )
    ]
    return runs


def deadline_figures(now: datetime) -> DeadlineFigures:
    """Of the open clues, how many have a unit that must act and a due date; of the stages
    still open when their first overdue working day began, how many were told that day."""
    open_clues = db.session.scalar(
        sa.select(sa.func.count()).select_from(Clue).where(Clue.status.in_(OPEN_STATUSES))
    )
    owned = db.session.scalar(
        sa.select(sa.func.count(sa.distinct(Clue.id)))
        .join(ClueStage, ClueStage.clue_id == Clue.id)
        .where(
            Clue.status.in_(OPEN_STATUSES),
            Clue.due_at.is_not(None),
            ClueStage.finished_at.is_(None),
            ClueStage.unit_id.is_not(None),
        )
    )
    first_told = {
        (kind, item_id, level): local_date(issued)
        for kind, item_id, level, issued in db.session.execute(
            sa.select(
                DeadlineNotice.kind,
                DeadlineNotice.item_id,
                DeadlineNotice.level,
                DeadlineNotice.issued_at,
            ).where(DeadlineNotice.level >= 0)
        )
    }
    calendar = load_calendar()
    overdue = told = 0
    for kind, item_id, due, finished in _stage_runs():
        first = calendar.add_working_days(local_date(due), 1)
        end = finished or now
        if local_day_start(first) >= end or first > local_date(now):
            continue  # finished before its first overdue working day began
        overdue += 1
        level = STAGE_KINDS[kind].first_level
        told += first_told.get((kind, item_id, level)) == first
    return DeadlineFigures(open_clues or 0, owned or 0, overdue, told)
