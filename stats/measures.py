"""The definitions every statistic shares, as SQL pieces: the overview, the unit ranking (and
so the weekly and monthly notices), the officer summaries and the exports all use these, so a
figure means the same wherever it is shown.

- A period is Beijing-time dates start..end inclusive: [00:00 of start, 24:00 of end).
- A counted rating is one created in the period and not excluded (flagged ratings stay in the
  database with their reasons but never enter a figure); satisfied = level 4 or 5, bad = 1 or 2.
- The on-time sample of a period: verification stages finished in it, plus stages still open
  and already past due at its end (or now, for a period that has not ended yet); on time = a
  stage that finished by its due time (an approved extension moves that time). A stage overdue
  for months counts as late in every period until it finishes.
- A re-rating counts in the period it was given; satisfied = level 4 or 5 *and* the resident
  says the problem was resolved. It belongs to the unit that handled the clue (the assigned
  unit, else the unit concerned).
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from app.clock import local_day_end, local_day_start, utcnow
from clues.models import Clue, ClueStage, ReratingInvitation, Stage
from evaluations.models import Evaluation
from evaluations.questionnaire import SATISFIED_LEVEL

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


def on_time_sample(since: datetime, until: datetime) -> sa.ColumnElement[bool]:
    """Verification stages in the on-time sample of the period (see the module docstring)."""
    cutoff = min(until, utcnow())
    return sa.and_(
        ClueStage.stage == Stage.VERIFICATION,
        sa.or_(
            ClueStage.finished_at.between(since, until),
            sa.and_(ClueStage.finished_at.is_(None), ClueStage.due_at <= cutoff),
            sa.and_(ClueStage.finished_at > until, ClueStage.due_at <= cutoff),
        ),
    )


def on_time_count(since: datetime, until: datetime) -> sa.ColumnElement[int]:
    """How many stages of the sample finished in the period, on time."""
    return count_if(
        sa.and_(ClueStage.finished_at.between(since, until), ClueStage.on_time.is_(True))
    )


# ---------------------------------------------------------------- re-rating

HANDLING_UNIT = sa.func.coalesce(Clue.assigned_unit_id, Clue.unit_id)


def rated_in(since: datetime, until: datetime) -> sa.ColumnElement[bool]:
    """Re-ratings given in the period."""
    return sa.and_(
        ReratingInvitation.status == "rated", ReratingInvitation.rated_at.between(since, until)
    )


RERATING_SATISFIED = ReratingInvitation.is_satisfied
