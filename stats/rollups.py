"""Reading the daily rollups, rebuilding them from the raw rows, and proving them equal.

The overview, rankings, officer summaries (and through them the notices and exports) sum
the daily rows of a period instead of counting ratings and clues: a period costs at most
days × units rows (days × units × categories for clues), whatever the volume. The clue rollup
per unit and category, the largest, also has a monthly layer: a period's whole months are read
from it, so a year costs 12 rows per unit and category plus the odd days around them.

The rollups are kept exact as ratings and clues change (evaluations.rollups, clues.rollups).
`raw_rollups()` computes the same rows from the raw tables with GROUP BY; `verify_rollups()`
compares the two, and `rebuild_rollups()` replaces the stored rows by the raw ones in one
transaction (idempotent: run it after a bulk load that bypassed the ORM, or any time).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from enum import Enum
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.jobs import job
from clues.models import Appeal, Clue, ClueStage, Outcome, Referral, ReratingInvitation, Stage
from clues.rollups import (
    HANDLING_UNIT,
    PENDING_SCREENING,
    RATED,
    SUBSTANTIATED,
    UNDER_VERIFICATION,
    OfficerClueDay,
    UnitClueDay,
    UnitClueMonth,
    UnitHandlingDay,
)
from clues.states import ClueStatus
from evaluations.models import Evaluation
from evaluations.questionnaire import SATISFIED_LEVEL
from evaluations.rollups import (
    BAD_LEVEL,
    MONTHLY,
    OfficerRatingDay,
    UnitRatingDay,
    beijing_date,
    counters,
    key_columns,
    month_start,
)

ROLLUPS = (
    UnitRatingDay.__table__,
    OfficerRatingDay.__table__,
    UnitClueDay.__table__,
    UnitClueMonth.__table__,
    OfficerClueDay.__table__,
    UnitHandlingDay.__table__,
)

Units = sa.Select | Iterable[int] | None  # a subtree's ids; None: every unit


# ---------------------------------------------------------------- reading


def month_pieces(start: date, end: date) -> list[tuple[bool, date, date]]:
    """start..end cut into (monthly?, first, last): the whole calendar months inside it as one
    piece of the monthly layer (first and last: the first days of its first and last month),
    the days before and after them as daily pieces."""
    first_whole = start if start.day == 1 else (start.replace(day=28) + timedelta(days=4))
    first_whole = first_whole.replace(day=1)
    after = end + timedelta(days=1)
    end_whole = end if after.day == 1 else end.replace(day=1) - timedelta(days=1)
    if first_whole > end_whole:
        return [(False, start, end)]
    pieces = [(True, first_whole, end_whole.replace(day=1))]
    if start < first_whole:
        pieces.insert(0, (False, start, first_whole - timedelta(days=1)))
    if end_whole < end:
        pieces.append((False, end_whole + timedelta(days=1), end))
    return pieces


def period_sums(
    table: sa.Table,
    *,
    start: date,
    end: date,
    units: Units = None,
    by: Iterable[str] = (),
) -> list[sa.Row]:
    """The sums of a rollup's counts over start..end (Beijing dates) for `units`, grouped by
    the columns named in `by` (none: one row of totals). A table with a monthly layer reads
    the whole months of the period from it and only the odd days from the daily rows."""
    by, names = list(by), counters(table)
    monthly = MONTHLY.get(table)
    pieces = [(False, start, end)]
    if monthly is not None and "day" not in by:
        pieces = month_pieces(start, end)

    def piece(source: sa.Table, first: date, last: date) -> sa.Select:
        query = sa.select(*(source.c[name] for name in (*by, *names))).where(
            source.c.day.between(first, last)
        )
        return query if units is None else query.where(source.c.unit_id.in_(units))

    parts = [piece(monthly if whole else table, a, b) for whole, a, b in pieces]
    rows = parts[0].subquery() if len(parts) == 1 else sa.union_all(*parts).subquery()
    groups = [rows.c[name] for name in by]
    query = sa.select(
        *groups, *(sa.func.coalesce(sa.func.sum(rows.c[name]), 0).label(name) for name in names)
    )
    if groups:
        query = query.group_by(*groups)
    return list(db.session.execute(query))


def period_totals(table: sa.Table, *, start: date, end: date, units: Units = None) -> dict:
    """One rollup's counts summed over a period and a set of units, as a dict of ints."""
    (row,) = period_sums(table, start=start, end=end, units=units)
    return {name: int(value) for name, value in row._mapping.items()}


def period_by(
    table: sa.Table, column: str, *, start: date, end: date, units: Units = None
) -> dict[Any, dict[str, int]]:
    """One rollup's counts summed over a period, per value of `column` (unit_id, officer_id,
    category, day)."""
    return {
        row[0]: {name: int(v) for name, v in list(row._mapping.items())[1:]}
        for row in period_sums(table, start=start, end=end, units=units, by=[column])
    }


# ---------------------------------------------------------------- from the raw rows


def _count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def raw_rollups() -> dict[sa.Table, sa.Select]:
    """Per rollup table, the SELECT that computes its rows from the raw tables (same columns,
    same order): the definition the incremental upkeep must agree with."""
    day = beijing_date(Evaluation.created_at)
    counted = ~Evaluation.is_excluded
    satisfied = sa.and_(counted, Evaluation.level >= SATISFIED_LEVEL)
    bad = sa.and_(counted, Evaluation.level <= BAD_LEVEL)
    unit_ratings = sa.select(
        day.label("day"),
        Evaluation.unit_id,
        _count_if(counted),
        _count_if(satisfied),
        _count_if(bad),
        _count_if(Evaluation.is_excluded),
    ).group_by(day, Evaluation.unit_id)
    officer_ratings = (
        sa.select(
            day.label("day"),
            Evaluation.officer_id,
            Evaluation.unit_id,
            _count_if(counted),
            _count_if(satisfied),
            _count_if(bad),
        )
        .where(Evaluation.officer_id.is_not(None))
        .group_by(day, Evaluation.officer_id, Evaluation.unit_id)
    )
    clue_day = beijing_date(Clue.submitted_at)
    closed = Clue.status == ClueStatus.CLOSED
    assigned = Clue.assigned_at.is_not(None)
    substantiated = sa.and_(closed, Clue.outcome.in_(SUBSTANTIATED))
    unfounded = sa.and_(closed, Clue.outcome == Outcome.UNFOUNDED)
    unit_clues = (
        sa.select(
            clue_day.label("day"),
            Clue.unit_id,
            Clue.category,
            sa.func.count(Clue.id),
            _count_if(Clue.rejected_at.is_not(None)),
            _count_if(Clue.merged_at.is_not(None)),
            _count_if(Clue.forwarded_at.is_not(None)),
            _count_if(Clue.status.in_(PENDING_SCREENING)),
            _count_if(assigned),
            _count_if(unfounded),
            _count_if(substantiated),
            _count_if(sa.and_(closed, Clue.outcome == Outcome.PARTLY_SUBSTANTIATED)),
            _count_if(sa.and_(assigned, Clue.status.in_(UNDER_VERIFICATION))),
            _count_if(Clue.self_verification_reason != ""),
            sa.func.coalesce(sa.func.sum(sa.case((closed, Clue.persons_handled), else_=0)), 0),
            sa.func.count(Referral.id),
            sa.func.coalesce(sa.func.sum(Referral.persons_handled), 0),
        )
        .select_from(Clue)
        .outerjoin(Referral, Referral.clue_id == Clue.id)
        .group_by(clue_day, Clue.unit_id, Clue.category)
    )
    officer_clues = (
        sa.select(
            clue_day.label("day"),
            Clue.officer_id,
            Clue.unit_id,
            sa.func.count(Clue.id),
            _count_if(substantiated),
            _count_if(unfounded),
            _count_if(Clue.status.in_(UNDER_VERIFICATION)),
        )
        .where(Clue.officer_id.is_not(None))
        .group_by(clue_day, Clue.officer_id, Clue.unit_id)
    )
    return {
        UnitRatingDay.__table__: unit_ratings,
        OfficerRatingDay.__table__: officer_ratings,
        UnitClueDay.__table__: unit_clues,
        UnitClueMonth.__table__: _by_month(unit_clues, UnitClueMonth.__table__),
        OfficerClueDay.__table__: officer_clues,
        UnitHandlingDay.__table__: _raw_handling(),
    }


def _by_month(daily: sa.Select, table: sa.Table) -> sa.Select:
    """A daily rollup's raw rows (day first, then the rest of the key, then the counts, as
    `table` orders them) summed per calendar month: the rows of its monthly layer `table`."""
    columns = list(daily.subquery().c)
    width = len(key_columns(table))
    month = month_start(columns[0])
    keys = columns[1:width]
    return sa.select(
        month.label("day"), *keys, *(sa.func.sum(c) for c in columns[width:])
    ).group_by(month, *keys)


def _raw_handling() -> sa.Select:
    """UnitHandlingDay from the raw rows: finished verification stages by the unit that
    acted, re-ratings and appeals by the unit handling their clue."""
    names = counters(UnitHandlingDay.__table__)

    def row(day: Any, unit: Any, **counts: Any) -> list[sa.ColumnElement[Any]]:
        """The key and every counter (0 unless given), labelled, so the union lines up."""
        values = []
        for name in names:
            given = counts.get(name, 0)
            value = sa.literal(given) if isinstance(given, int) else sa.case((given, 1), else_=0)
            values.append(value.label(name))
        return [day.label("day"), unit.label("unit_id"), *values]

    parts = sa.union_all(
        sa.select(
            *row(
                beijing_date(ClueStage.finished_at),
                ClueStage.unit_id,
                stages_finished=1,
                stages_on_time=ClueStage.on_time.is_(True),
            )
        ).where(
            ClueStage.stage == Stage.VERIFICATION,
            ClueStage.finished_at.is_not(None),
            ClueStage.unit_id.is_not(None),
        ),
        sa.select(
            *row(
                beijing_date(ReratingInvitation.rated_at),
                HANDLING_UNIT,
                reratings=1,
                rerating_satisfied=ReratingInvitation.is_satisfied,
                resolved=ReratingInvitation.resolved.is_(True),
            )
        )
        .join(Clue, Clue.id == ReratingInvitation.clue_id)
        .where(ReratingInvitation.status == RATED, ReratingInvitation.rated_at.is_not(None)),
        sa.select(
            *row(
                beijing_date(Appeal.created_at),
                HANDLING_UNIT,
                appeals=1,
                appeals_reopened=Appeal.decision == "reopened",
                appeals_upheld=Appeal.decision == "upheld",
            )
        ).join(Clue, Clue.id == Appeal.clue_id),
    ).subquery()
    return sa.select(
        parts.c.day, parts.c.unit_id, *(sa.func.sum(parts.c[name]) for name in names)
    ).group_by(parts.c.day, parts.c.unit_id)


def _rows(rows: Iterable[sa.Row], table: sa.Table) -> dict[tuple, tuple[int, ...]]:
    """key → counts, all-zero rows left out (a row brought back to zero is no row)."""
    width = len(key_columns(table))
    found = {}
    for row in rows:
        day, *rest = row[:width]  # SQLite's date() gives text; categories come back as enums
        key = (
            date.fromisoformat(day) if isinstance(day, str) else day,
            *(v.value if isinstance(v, Enum) else v for v in rest),
        )
        counts = tuple(int(v) for v in row[width:])
        if any(counts):
            found[key] = counts
    return found


def verify_rollups() -> dict[str, list[tuple]]:
    """Every difference between the stored rollups and the raw data, per table:
    [(key, stored counts, raw counts)]. Empty lists: the rollups are exact."""
    differences = {}
    for table, raw in raw_rollups().items():
        columns = [table.c[name] for name in (*key_columns(table), *counters(table))]
        stored = _rows(db.session.execute(sa.select(*columns)), table)
        computed = _rows(db.session.execute(raw), table)
        differences[table.name] = [
            (key, stored.get(key), computed.get(key))
            for key in sorted(set(stored) | set(computed), key=repr)
            if stored.get(key) != computed.get(key)
        ]
    return differences


@job("rebuild_rollups", "按原始评价和线索重建每日汇总（幂等）")
def rebuild_rollups() -> dict[str, int]:
    """Replace every rollup row by the raw computation, in one transaction; then verify."""
    written = {}
    for table, raw in raw_rollups().items():
        db.session.execute(table.delete())
        names = [*key_columns(table), *counters(table)]
        db.session.execute(table.insert().from_select(names, raw))
        written[table.name] = db.session.scalar(sa.select(sa.func.count()).select_from(table))
    db.session.flush()
    wrong = {name: len(rows) for name, rows in verify_rollups().items() if rows}
    if wrong:  # pragma: no cover - the same SELECT was just written
        raise RuntimeError(f"rollups differ after rebuild: {wrong}")
    return written
