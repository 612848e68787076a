"""Daily clue rollups: per unit and category, and per officer, the cohort counts of the clues
received on each Beijing day, as those clues stand now (see stats.overview for the meaning);
and per unit, what it did on each day as the handler of clues (UnitHandlingDay): verification
stages finished (on time or not), re-ratings given and appeals lodged about the clues it
handles (the assigned unit, else the unit concerned, as they stand now).

Kept exact like the rating rollups (evaluations.rollups): a clue's counts depend on its status,
outcome and referral, so whenever a flush changes a clue (or its referral), the clue's counts
as they were are taken away and its counts as they are now are added, as atomic upserts in the
same transaction. Clues change only through the ORM (the services lock the clue first); so
do stages, rated re-ratings and appeals (the sweeps' Core updates touch only pending
invitations, which count nowhere).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, inspect
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import db, str_enum
from clues.models import Appeal, Clue, ClueStage, Outcome, Referral, ReratingInvitation, Stage
from clues.states import ClueStatus
from evaluations.questionnaire import ClueCategory
from evaluations.rollups import (
    MONTHLY,
    Deltas,
    Key,
    RollupKeeper,
    add_deltas,
    beijing_day,
    merge_into,
    new_state,
    old_state,
)

SUBSTANTIATED = (Outcome.SUBSTANTIATED, Outcome.PARTLY_SUBSTANTIATED)
UNDER_VERIFICATION = (
    ClueStatus.ASSIGNED,
    ClueStatus.VERIFYING,
    ClueStatus.REVIEWING,
    ClueStatus.APPEALED,
)
PENDING_SCREENING = (ClueStatus.SUBMITTED, ClueStatus.ACCEPTED)


class _UnitClueCounts:
    """The key and counts of UnitClueDay and of its monthly layer UnitClueMonth."""

    day: Mapped[date] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), primary_key=True)
    category: Mapped[ClueCategory] = mapped_column(
        str_enum(ClueCategory, "clue_category"), primary_key=True
    )
    received: Mapped[int]
    rejected: Mapped[int]
    merged: Mapped[int]
    forwarded: Mapped[int]
    pending_screening: Mapped[int]
    assigned: Mapped[int]
    unfounded: Mapped[int]
    substantiated: Mapped[int]  # substantiated or partly
    partly_substantiated: Mapped[int]
    under_verification: Mapped[int]
    self_verified: Mapped[int]
    persons_handled: Mapped[int]
    referred: Mapped[int]
    referral_persons_handled: Mapped[int]


class UnitClueDay(_UnitClueCounts, db.Model):
    """The clues about one unit in one category received on one Beijing day, as they stand."""

    __tablename__ = "unit_clue_days"


class UnitClueMonth(_UnitClueCounts, db.Model):
    """UnitClueDay summed over each calendar month (`day`: the month's first day), kept in the
    same upserts: a whole month costs one row per unit and category, so a year's figures read
    12 of them instead of up to 365 (stats.rollups.period_sums)."""

    __tablename__ = "unit_clue_months"


MONTHLY[UnitClueDay.__table__] = UnitClueMonth.__table__


class OfficerClueDay(db.Model):
    """The clues naming one officer of one unit received on one Beijing day, as they stand."""

    __tablename__ = "officer_clue_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(sa.ForeignKey("officers.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), primary_key=True)
    received: Mapped[int]
    substantiated: Mapped[int]
    unfounded: Mapped[int]
    under_verification: Mapped[int]  # every status of UNDER_VERIFICATION, assigned or not


class UnitHandlingDay(db.Model):
    """What one unit did on one Beijing day as a handler: verification stages it finished (by
    the day finished), re-ratings (by the day given) and appeals (by the day lodged) about the
    clues it handles. With the stages still open and past due (read raw: few), this is the
    on-time sample, the re-rating satisfaction and 案结事了, and the appeals of any period."""

    __tablename__ = "unit_handling_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), primary_key=True)
    stages_finished: Mapped[int]
    stages_on_time: Mapped[int]
    reratings: Mapped[int]
    rerating_satisfied: Mapped[int]  # level 4–5 and resolved
    resolved: Mapped[int]
    appeals: Mapped[int]
    appeals_reopened: Mapped[int]
    appeals_upheld: Mapped[int]


ATTRIBUTES = (
    "submitted_at",
    "unit_id",
    "assigned_unit_id",
    "officer_id",
    "category",
    "status",
    "outcome",
    "rejected_at",
    "merged_at",
    "forwarded_at",
    "assigned_at",
    "self_verification_reason",
    "persons_handled",
)


def clue_counts(
    values: dict[str, Any], referral: tuple[int, int] = (0, 0)
) -> dict[sa.Table, tuple[Key, list[int]]]:
    """What one clue (with its referral: (referrals, persons handled)) adds to each rollup."""
    day = beijing_day(values["submitted_at"])
    status, outcome = values["status"], values["outcome"]
    closed = status == ClueStatus.CLOSED
    assigned = values["assigned_at"] is not None
    substantiated = closed and outcome in SUBSTANTIATED
    unfounded = closed and outcome == Outcome.UNFOUNDED
    category = ClueCategory(values["category"]).value
    found = {
        UnitClueDay.__table__: (
            (day, values["unit_id"], category),
            [
                1,
                int(values["rejected_at"] is not None),
                int(values["merged_at"] is not None),
                int(values["forwarded_at"] is not None),
                int(status in PENDING_SCREENING),
                int(assigned),
                int(unfounded),
                int(substantiated),
                int(closed and outcome == Outcome.PARTLY_SUBSTANTIATED),
                int(assigned and status in UNDER_VERIFICATION),
                int((values["self_verification_reason"] or "") != ""),
                (values["persons_handled"] or 0) if closed else 0,
                referral[0],
                referral[1],
            ],
        )
    }
    if values["officer_id"] is not None:
        found[OfficerClueDay.__table__] = (
            (day, values["officer_id"], values["unit_id"]),
            [1, int(substantiated), int(unfounded), int(status in UNDER_VERIFICATION)],
        )
    return found


HANDLING = UnitHandlingDay.__table__
RATED = "rated"


def handling_counts(
    handling_unit: int | None, items: list[tuple[date, list[int]]]
) -> list[tuple[Key, list[int]]]:
    """What a clue's re-ratings and appeals (items: (day, counts)) add to UnitHandlingDay, for
    the unit handling it."""
    if handling_unit is None:
        return []
    return [((day, handling_unit), counts) for day, counts in items]


def rerating_counts(level: int | None, resolved: bool | None) -> list[int]:
    satisfied = ReratingInvitation(level=level, resolved=resolved).is_satisfied  # one definition
    return [0, 0, 1, int(satisfied), int(resolved is True), 0, 0, 0]


def appeal_counts(decision: Any) -> list[int]:
    value = getattr(decision, "value", decision)
    return [0, 0, 0, 0, 0, 1, int(value == "reopened"), int(value == "upheld")]


def _handled(session: Session, clue_ids: list[int]) -> dict[int, list[tuple[date, list[int]]]]:
    """Per clue, its rated re-ratings and its appeals as (day, counts), as the database holds
    them at this moment."""
    found: dict[int, list[tuple[date, list[int]]]] = defaultdict(list)
    if not clue_ids:
        return found
    connection = session.connection()
    invitation = ReratingInvitation.__table__.c
    for clue_id, rated_at, level, resolved in connection.execute(
        sa.select(invitation.clue_id, invitation.rated_at, invitation.level, invitation.resolved)
        .where(invitation.clue_id.in_(clue_ids), invitation.status == RATED)
        .where(invitation.rated_at.is_not(None))
    ):
        found[clue_id].append((beijing_day(rated_at), rerating_counts(level, resolved)))
    appeal = Appeal.__table__.c
    for clue_id, created_at, decision in connection.execute(
        sa.select(appeal.clue_id, appeal.created_at, appeal.decision).where(
            appeal.clue_id.in_(clue_ids)
        )
    ):
        found[clue_id].append((beijing_day(created_at), appeal_counts(decision)))
    return found


# The unit handling a clue: the assigned unit, else the unit concerned (in SQL, and in Python).
HANDLING_UNIT = sa.func.coalesce(Clue.assigned_unit_id, Clue.unit_id)


def _handling_unit(values: dict[str, Any]) -> int | None:
    return values["assigned_unit_id"] or values["unit_id"]


def _referrals(session: Session, clue_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(referrals, persons handled) per clue, as the database holds them at this moment."""
    if not clue_ids:
        return {}
    rows = session.connection().execute(
        sa.select(
            Referral.clue_id,
            sa.func.count(Referral.id),
            sa.func.coalesce(sa.func.sum(Referral.persons_handled), 0),
        )
        .where(Referral.clue_id.in_(clue_ids))
        .group_by(Referral.clue_id)
    )
    return {clue_id: (int(n), int(persons)) for clue_id, n, persons in rows}


def _changed(obj: Any, names: tuple[str, ...]) -> bool:
    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in names)


# The rows whose change changes their clue's counts, and the attributes that matter.
CHILDREN: dict[type, tuple[str, ...]] = {
    Referral: ("clue_id", "persons_handled"),
    ReratingInvitation: ("clue_id", "status", "rated_at", "level", "resolved"),
    Appeal: ("clue_id", "created_at", "decision"),
}
CHILDREN_TYPES = tuple(CHILDREN)


HANDLING_ATTRIBUTES = ("unit_id", "assigned_unit_id")


def _affected(session: Session) -> tuple[list[Clue], list[Clue], set[int]]:
    """(clues whose counts may change and that exist already, clues to count after flush,
    the id() of those whose handling counts may change: only these read their re-ratings and
    appeals, so a plain status change costs no extra query)."""
    existing: dict[int, Clue] = {}
    fresh: list[Clue] = []
    rehandle: set[int] = set()
    for obj in session.deleted:
        if isinstance(obj, Clue):
            existing[id(obj)] = obj
            rehandle.add(id(obj))
    children = [o for o in [*session.new, *session.deleted] if isinstance(o, CHILDREN_TYPES)]
    children += [
        o for o in session.dirty if isinstance(o, CHILDREN_TYPES) and _changed(o, CHILDREN[type(o)])
    ]
    for obj in children:
        linked = obj.__dict__.get("clue")  # set through the relationship, id not yet copied
        clues = [linked] if isinstance(linked, Clue) else []
        clue_ids = {obj.clue_id, *inspect(obj).attrs.clue_id.history.deleted} - {None}
        with session.no_autoflush:
            clues += [c for c in (session.get(Clue, i) for i in clue_ids) if c is not None]
        for clue in clues:
            existing[id(clue)] = clue
            if not isinstance(obj, Referral):
                rehandle.add(id(clue))
    for obj in session.dirty:
        if isinstance(obj, Clue) and _changed(obj, ATTRIBUTES):
            existing[id(obj)] = obj
            if _changed(obj, HANDLING_ATTRIBUTES):
                rehandle.add(id(obj))
    for obj in session.new:
        if isinstance(obj, Clue):
            fresh.append(obj)
            rehandle.add(id(obj))
    return list(existing.values()), fresh, rehandle


SLOT = "rollups:Clue"


def _count(
    session: Session,
    deltas: dict[sa.Table, Deltas],
    clues: list[Clue],
    state: Any,
    sign: int,
    rehandle: set[int],
) -> None:
    """Add (sign +1) or take away (-1) what each clue counts for, its state read by `state`
    and its referrals, re-ratings and appeals as the database holds them now (the handling
    counts only for the clues in `rehandle`: the same set before and after the flush)."""
    referrals = _referrals(session, [c.id for c in clues])
    handled = _handled(session, [c.id for c in clues if id(c) in rehandle])
    for clue in clues:
        values = state(clue, ATTRIBUTES)
        found = clue_counts(values, referrals.get(clue.id, (0, 0)))
        for table, (key, counts) in found.items():
            merge_into(deltas[table], key, counts, sign)
        for key, counts in handling_counts(_handling_unit(values), handled.get(clue.id, [])):
            merge_into(deltas[HANDLING], key, counts, sign)


@event.listens_for(Session, "before_flush")
def _take_old_counts(session: Session, _context: Any, _instances: Any) -> None:
    existing, fresh, rehandle = _affected(session)
    taken: dict[sa.Table, Deltas] = defaultdict(dict)
    existing = [c for c in existing if inspect(c).has_identity]
    _count(session, taken, existing, old_state, -1, rehandle)
    # Counted again after the flush: all but the deleted (still "persistent" in after_flush).
    remaining = [c for c in existing if c not in session.deleted]
    # Set, not appended: a failed flush leaves nothing behind for the next one.
    session.info[SLOT] = (taken, [*remaining, *fresh], rehandle)


@event.listens_for(Session, "after_flush")
def _add_new_counts(session: Session, _context: Any) -> None:
    taken, watched, rehandle = session.info.pop(SLOT, ({}, [], set()))
    deltas: dict[sa.Table, Deltas] = defaultdict(dict, taken)
    _count(session, deltas, watched, new_state, +1, rehandle)
    if any(deltas.values()):
        connection = session.connection()
        for table, rows in deltas.items():
            add_deltas(connection, table, rows)


def _noop(_target: Any, value: Any, _old: Any, _initiator: Any) -> None:
    pass


# Active history: the old value is loaded before a set, so it can be taken away exactly.
for _name in ATTRIBUTES:
    event.listen(getattr(Clue, _name), "set", _noop, active_history=True)
event.listen(Referral.persons_handled, "set", _noop, active_history=True)


def stage_counts(_session: Session, values: dict[str, Any]) -> dict:
    """A finished verification stage counts on the day it finished, for the unit that acted."""
    if values["stage"] != Stage.VERIFICATION or values["finished_at"] is None:
        return {}
    if values["unit_id"] is None:
        return {}
    counts = [1, int(values["on_time"] is True), 0, 0, 0, 0, 0, 0]
    return {HANDLING: ((beijing_day(values["finished_at"]), values["unit_id"]), counts)}


stage_keeper = RollupKeeper(ClueStage, ("stage", "unit_id", "finished_at", "on_time"), stage_counts)
