"""The definitions every statistic shares, as SQL pieces: the overview, the unit ranking (and
so the weekly and monthly notices), the officer summaries and the exports all use these, so a
figure means the same wherever it is shown.

- A period is Beijing-time dates start..end inclusive: [00:00 of start, 24:00 of end).
- A counted rating is one created in the period and not excluded (flagged ratings stay in the
  database with their reasons but never enter a figure); satisfied = level 4 or 5, bad = 1 or 2.
- The on-time sample of a period: verification stages finished in it, plus stages still open
  and already past due at its end (or now, for a period that has not ended yet); on time = a
  stage that finished by its due time (an approved extension moves that time). A stage overdue
  for months counts as late in every period until it finishes. It belongs to the unit that
  had to act (the stage's unit).
- A re-rating counts in the period it was given; satisfied = level 4 or 5 *and* the resident
  says the problem was resolved. It belongs to the unit that handled the clue (the assigned
  unit, else the unit concerned).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from app.clock import local_day_end, local_day_start, utcnow
from app.extensions import db
from clues.models import ClueStage, Stage
from clues.rollups import HANDLING_UNIT, UnitHandlingDay  # noqa: F401 (read from here too)
from evaluations.models import Evaluation
from evaluations.questionnaire import SATISFIED_LEVEL
from evaluations.rollups import counters
from stats.rollups import Units, period_by, period_totals

BAD_LEVEL = 2


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The UTC instants of 00:00 Beijing on `start` and the last instant of `end`."""
    return local_day_start(start), local_day_end(end)


def rate(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide (no data is not 0 %)."""
    return part / whole if whole else None


def count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    """SUM(CASE WHEN condition THEN 1 ELSE 0 END): a conditional count for one GROUP BY."""
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


# ---------------------------------------------------------------- ratings


def counted_ratings(since: datetime, until: datetime) -> sa.ColumnElement[bool]:
    """Ratings of the period that count: not excluded."""
    return sa.and_(Evaluation.created_at.between(since, until), sa.not_(Evaluation.is_excluded))


SATISFIED = Evaluation.level >= SATISFIED_LEVEL
BAD = Evaluation.level <= BAD_LEVEL


# ---------------------------------------------------------------- on time


def late_unfinished(until: datetime) -> sa.ColumnElement[bool]:
    """Verification stages of the on-time sample that did not finish in the period: still
    open, or finished after it, and past due at its end (or now, for a period still running).
    The rest of the sample, the stages finished in the period, is read from the daily rollup
    (UnitHandlingDay: stages_finished, stages_on_time)."""
    cutoff = min(until, utcnow())
    return sa.and_(
        ClueStage.stage == Stage.VERIFICATION,
        ClueStage.due_at <= cutoff,
        sa.or_(ClueStage.finished_at.is_(None), ClueStage.finished_at > until),
    )


def handling_figures(
    *, start: date, end: date, units: Units = None, by_unit: bool = False
) -> dict[Any, dict[str, int]]:
    """The handling figures of a period for a set of units (None: every unit), in total
    (key None) or per unit: the on-time sample (stages, stages_on_time), re-ratings
    (reratings, rerating_satisfied, resolved) and appeals (appeals, appeals_reopened,
    appeals_upheld). A bounded read of the rollup plus the few stages still late."""
    _since, until = period_bounds(start, end)
    table = UnitHandlingDay.__table__
    if by_unit:
        found = period_by(table, "unit_id", start=start, end=end, units=units)
    else:
        found = {None: period_totals(table, start=start, end=end, units=units)}
    late = sa.select(sa.func.count()).where(late_unfinished(until))
    if units is not None:
        late = late.where(ClueStage.unit_id.in_(units))
    if by_unit:
        late = late.add_columns(ClueStage.unit_id).group_by(ClueStage.unit_id)
        late_counts = {unit_id: n for n, unit_id in db.session.execute(late)}
    else:
        late_counts = {None: db.session.scalar(late)}
    zero = dict.fromkeys(counters(table), 0)
    for key, n in late_counts.items():
        if n and (key is not None or not by_unit):
            found.setdefault(key, dict(zero))
    for key, row in found.items():
        row["stages"] = row.pop("stages_finished") + int(late_counts.get(key) or 0)
    return found
