"""Letters (两函一通报): numbering, issuing exactly once per cause, and their wording.

Every letter has a cause (`dedupe_key`, unique): the same sweep run twice, or by two
processes at once, issues it once. Numbers run per kind and year (评督〔2026〕12号); the
counter row is locked before the duplicates are looked for, so concurrent issuers queue up
and the second one sees what the first issued.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.audit import record_audit
from app.clock import local_date, utcnow
from app.db import upsert_insert
from app.errors import Conflict, NotFound, OutOfScope
from app.extensions import db
from app.org.models import Role, StaffAccount, Unit, ancestor_ids, root_unit, subtree_ids
from clues.models import Clue
from notifications.inbox import notify_staff
from notifications.models import InboxItem, Letter, LetterKind, SerialCounter
from notifications.wording import chinese_date, render, render_titled


@dataclass
class LetterSpec:
    """A letter to issue if its cause has none yet."""

    dedupe_key: str
    unit_id: int | None
    title: str
    body: str
    clue_id: int | None = None
    response_due_at: datetime | None = None
    content: dict[str, Any] = field(default_factory=dict)
    period_start: date | None = None
    period_end: date | None = None


def serial_text(kind: LetterKind, year: int, number: int) -> str:
    return f"{kind.serial_prefix}〔{year}〕{number}号"


def lock_counter(kind: LetterKind, year: int) -> int:
    """Lock this kind's counter for the year (creating it) and return its last number."""
    statement = (
        upsert_insert(SerialCounter)
        .values(kind=kind.value, year=year, last=0)
        .on_conflict_do_update(index_elements=["kind", "year"], set_={"last": SerialCounter.last})
        .returning(SerialCounter.last)
    )
    return db.session.execute(statement).scalar_one()


@dataclass(frozen=True)
class Issued:
    """What was issued, as plain values (no ORM objects: sweeps issue thousands)."""

    id: int
    dedupe_key: str
    serial: str
    unit_id: int | None
    clue_id: int | None
    body: str
    issued_at: datetime


def _issued_causes(keys: list[str]) -> set[str]:
    """Which of these causes already have a letter (in chunks: a sweep may bring thousands)."""
    issued: set[str] = set()
    for chunk in range(0, len(keys), 5000):
        issued |= set(
            db.session.scalars(
                sa.select(Letter.dedupe_key).where(
                    Letter.dedupe_key.in_(keys[chunk : chunk + 5000])
                )
            )
        )
    return issued


def issue_letters(
    kind: LetterKind, specs: list[LetterSpec], *, now: datetime | None = None
) -> list[Issued]:
    """Issue the letters whose cause has none yet."""
    now = now or utcnow()
    year = local_date(now).year
    last = lock_counter(kind, year)
    if not specs:
        return []
    issued = _issued_causes([spec.dedupe_key for spec in specs])
    fresh = [spec for spec in specs if spec.dedupe_key not in issued]
    if not fresh:
        return []
    rows = [
        {
            "kind": kind,
            "year": year,
            "number": last + index,
            "serial": serial_text(kind, year, last + index),
            "dedupe_key": spec.dedupe_key,
            "unit_id": spec.unit_id,
            "clue_id": spec.clue_id,
            "title": spec.title,
            "body": spec.body,
            "content": spec.content,
            "period_start": spec.period_start,
            "period_end": spec.period_end,
            "issued_at": now,
            "response_due_at": spec.response_due_at,
            "response": "",
        }
        for index, spec in enumerate(fresh, start=1)
    ]
    db.session.execute(
        sa.update(SerialCounter)
        .where(SerialCounter.kind == kind.value, SerialCounter.year == year)
        .values(last=last + len(rows))
    )
    table = Letter.__table__
    returned = db.session.execute(
        sa.insert(table).returning(
            table.c.id,
            table.c.dedupe_key,
            table.c.serial,
            table.c.unit_id,
            table.c.clue_id,
            table.c.body,
            table.c.issued_at,
            sort_by_parameter_order=True,
        ),
        rows,
    )
    return [Issued(*row) for row in returned]


def compose_letter(template: str, context: dict[str, Any], signed: str, **spec: Any) -> LetterSpec:
    """A letter worded by `template` (its title line, a blank line, the body) from
    `context`, closed by the signature block `signed`; `spec` is the rest of the LetterSpec."""
    title, body = render_titled(template, **context)
    return LetterSpec(title=title, body=body + signed, **spec)


def issuer_name() -> str:
    """Who signs the letters: configured, else the root unit of the registry."""
    configured = current_app.config.get("LETTER_ISSUER")
    if configured:
        return configured
    root = root_unit()
    return root.name if root is not None else "评议办公室"


def signature(when: datetime) -> str:
    """The block every letter closes with: a blank line, who signs it, the date of issue.

    Composed once per sweep (naming the issuer may cost a query) and appended to each body;
    `split_signature` reads it back for the PDF, which sets it apart.
    """
    return f"\n\n{issuer_name()}\n{chinese_date(when)}"


_DATE_LINE = re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日$")


def split_signature(body: str) -> tuple[list[str], tuple[str, str] | None]:
    """A letter body's lines without its closing block, and that block's (issuer, date)."""
    lines = body.rstrip("\n").split("\n")
    if len(lines) >= 3 and lines[-3] == "" and _DATE_LINE.match(lines[-1].strip()):
        return lines[:-3], (lines[-2].strip(), lines[-1].strip())
    return lines, None


# ---------------------------------------------------------------- inbox copies


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


# ---------------------------------------------------------------- answering

# Letters that ask the addressed unit for a written answer.
ANSWERABLE = (LetterKind.SUPERVISION, LetterKind.ESCALATION)
ALREADY_ANSWERED = "该督办函已回复，不能重复回复"


def get_letter(letter_id: int) -> Letter:
    """The letter with this id; NotFound otherwise."""
    letter = db.session.get(Letter, letter_id)
    if letter is None:
        raise NotFound("函件不存在", details={"letter_id": letter_id})
    return letter


def letters_visible_to(staff: StaffAccount) -> sa.ColumnElement[bool]:
    """Letters to units in the staff member's subtree and every notice; never a letter about
    a clue that accuses the staff member's own officer record (recusal)."""
    in_scope = sa.or_(Letter.unit_id.in_(subtree_ids(staff.unit)), Letter.unit_id.is_(None))
    if staff.officer_id is None:
        return in_scope
    accusing = sa.select(Clue.id).where(Clue.officer_id == staff.officer_id)
    return sa.and_(in_scope, sa.or_(Letter.clue_id.is_(None), Letter.clue_id.not_in(accusing)))


def visible_letter(letter_id: int, staff: StaffAccount) -> Letter:
    """The letter, if the staff member may read it; OutOfScope otherwise."""
    letter = get_letter(letter_id)
    seen = db.session.scalar(
        sa.select(sa.literal(True)).where(Letter.id == letter.id, letters_visible_to(staff))
    )
    if not seen:
        raise OutOfScope("该函件不在您的管辖范围内", details={"letter_id": letter_id})
    return letter


def respond_to_letter(letter: Letter, *, staff: StaffAccount, response: str) -> Letter:
    """File the addressed unit's written answer to a 督办函 (once), audit it, and tell the
    screeners above the unit, who sent it."""
    if letter.kind not in ANSWERABLE:
        raise Conflict(
            f"{letter.kind.label}无需回复",
            code="not_answerable",
            details={"kind": letter.kind.value},
        )
    if letter.responded_at is not None:
        raise Conflict(
            ALREADY_ANSWERED,
            code="already_answered",
            details={"responded_at": letter.responded_at.isoformat()},
        )
    now = utcnow()
    # Conditional on "not yet answered" so two answers racing each other cannot both land.
    answered = db.session.execute(
        sa.update(Letter)
        .where(Letter.id == letter.id, Letter.responded_at.is_(None))
        .values(response=response, responded_at=now, responded_by=staff.id)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if not answered:
        raise Conflict(ALREADY_ANSWERED, code="already_answered")
    record_audit(
        "letter.respond",
        object_type="letter",
        object_id=letter.id,
        unit_id=letter.unit_id,
        details={"serial": letter.serial, "kind": letter.kind.value, "length": len(response)},
    )
    if letter.unit is not None:
        notify_staff(
            roles=(Role.SCREENER,),
            unit=letter.unit,
            kind="letter_response",
            title=render(
                "inbox/letter_response.txt",
                kind_label=letter.kind.label,
                serial=letter.serial,
                unit_name=letter.unit.name,
            ),
            body=response[:500],
            dedupe_key=f"letter-response:{letter.id}",
            letter_id=letter.id,
            clue_id=letter.clue_id,
        )
    return letter
