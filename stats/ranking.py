"""Unit rankings for a period: satisfaction and on-time rate, with a minimum sample so that
one case cannot top or sink a unit, the red list and the 约谈 list. The single source of the
ranking figures: the weekly and monthly notices, GET /stats/ranking and the ranking exports.

- satisfaction = (非常满意 + 满意) / ratings, excluding flagged ratings;
- on-time rate = verification stages finished on time / (stages finished in the period +
  stages still open and past due at the period's end);
- re-rating satisfaction = re-ratings of level ≥ 4 that say "resolved" / re-ratings given in
  the period, for the unit that handled the clue (shown, not ranked);
- a unit is ranked on a rate only with at least RANKING_MIN_EVALUATIONS ratings (satisfaction)
  or RANKING_MIN_STAGES stages (on time); equal rates share a rank;
- 约谈: on-time rate below 80 %, or last in satisfaction (ties share last place);
- red list: the three most satisfied units whose on-time rate is at least 90 % (or who had
  no stage to finish) and who are not on the 约谈 list.

The definitions themselves live in stats.measures, shared with the overview.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app

from app.clock import local_date
from app.enums import LabelledEnum
from app.extensions import db
from app.org.models import Unit, subtree_filter
from clues.rollups import UnitClueDay
from evaluations.rollups import UnitRatingDay
from stats.measures import handling_figures, rate
from stats.rollups import period_by

INTERVIEW_ON_TIME_BELOW = 0.8
RED_LIST_SIZE = 3
RED_LIST_MIN_ON_TIME = 0.9


@dataclass
class UnitFigures:
    unit_id: int
    unit_name: str
    evaluations: int = 0
    satisfied: int = 0
    stages: int = 0
    on_time: int = 0
    clues_received: int = 0
    reratings: int = 0
    rerating_satisfied: int = 0
    satisfaction_rank: int | None = None
    on_time_rank: int | None = None
    interview_reasons: list[str] = field(default_factory=list)

    @property
    def satisfaction_rate(self) -> float | None:
        return rate(self.satisfied, self.evaluations)

    @property
    def on_time_rate(self) -> float | None:
        return rate(self.on_time, self.stages)

    @property
    def rerating_satisfaction_rate(self) -> float | None:
        return rate(self.rerating_satisfied, self.reratings)


@dataclass
class Ranking:
    start: date
    end: date
    min_evaluations: int
    min_stages: int
    units: list[UnitFigures]
    by_satisfaction: list[UnitFigures]
    by_on_time: list[UnitFigures]
    red_list: list[UnitFigures]
    interview_list: list[UnitFigures]


def unit_ranking(*, start: date, end: date, root: Unit | None = None) -> Ranking:
    """Figures and rankings of every unit under `root` (all units when None) for the
    Beijing-time dates start..end inclusive; a fixed number of queries."""
    config = current_app.config
    units_q = sa.select(Unit.id, Unit.name)
    if root is not None:
        units_q = units_q.where(subtree_filter(root.path))
    figures = {uid: UnitFigures(uid, name) for uid, name in db.session.execute(units_q)}
    # Every unit: no IN list at all (the planner then reads the period's range only).
    units = None if root is None else list(figures)
    rated = period_by(UnitRatingDay.__table__, "unit_id", start=start, end=end, units=units)
    for unit_id, counts in rated.items():
        if unit_id in figures:
            figures[unit_id].evaluations = counts["evaluations"]
            figures[unit_id].satisfied = counts["satisfied"]

    handled = handling_figures(start=start, end=end, units=units, by_unit=True)
    for unit_id, counts in handled.items():
        if unit_id in figures:
            unit = figures[unit_id]
            unit.stages, unit.on_time = counts["stages"], counts["stages_on_time"]
            unit.reratings = counts["reratings"]
            unit.rerating_satisfied = counts["rerating_satisfied"]

    received = period_by(UnitClueDay.__table__, "unit_id", start=start, end=end, units=units)
    for unit_id, counts in received.items():
        if unit_id in figures:
            figures[unit_id].clues_received = counts["received"]

    min_evaluations = config["RANKING_MIN_EVALUATIONS"]
    min_stages = config["RANKING_MIN_STAGES"]
    active = [f for f in figures.values() if f.evaluations or f.stages or f.clues_received]
    by_satisfaction = _rank(
        active, "satisfaction_rate", "satisfaction_rank", "evaluations", min_evaluations
    )
    by_on_time = _rank(active, "on_time_rate", "on_time_rank", "stages", min_stages)
    for unit in by_on_time:
        if unit.on_time_rate is not None and unit.on_time_rate < INTERVIEW_ON_TIME_BELOW:
            unit.interview_reasons.append(f"按期办结率 {unit.on_time_rate:.0%}，低于 80%")
    if by_satisfaction:
        last_rate = by_satisfaction[-1].satisfaction_rate
        for unit in by_satisfaction:
            if unit.satisfaction_rate == last_rate and len(by_satisfaction) > 1:
                unit.interview_reasons.append(f"满意率 {last_rate:.0%}，排名末位")
    red_list = [
        u
        for u in by_satisfaction
        if (u.on_time_rate is None or u.on_time_rate >= RED_LIST_MIN_ON_TIME)
        and not u.interview_reasons
    ][:RED_LIST_SIZE]
    interview = [u for u in active if u.interview_reasons]
    return Ranking(
        start,
        end,
        min_evaluations,
        min_stages,
        sorted(active, key=lambda u: u.unit_id),
        by_satisfaction,
        by_on_time,
        red_list,
        interview,
    )


def _rank(
    units: list[UnitFigures], rate_field: str, rank_field: str, sample: str, minimum: int
) -> list[UnitFigures]:
    """Units with enough sample, best first; equal rates share a rank (1, 2, 2, 4)."""
    ranked = sorted(
        (u for u in units if getattr(u, sample) >= minimum),
        key=lambda u: (-getattr(u, rate_field), u.unit_id),
    )
    previous, position = None, 0
    for index, unit in enumerate(ranked, start=1):
        if getattr(unit, rate_field) != previous:
            position, previous = index, getattr(unit, rate_field)
        setattr(unit, rank_field, position)
    return ranked


# ---------------------------------------------------------------- periods


class Period(LabelledEnum):
    WEEK = "week", "周"
    MONTH = "month", "月"


def period_containing(period: Period, day: date) -> tuple[date, date]:
    """The Monday–Sunday week, or the calendar month, that contains `day`."""
    if period is Period.WEEK:
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    start = day.replace(day=1)
    following = (start + timedelta(days=31)).replace(day=1)
    return start, following - timedelta(days=1)


def last_complete_period(period: Period, today: date | None = None) -> tuple[date, date]:
    """The last week or month that has ended (Beijing time), as the notices use."""
    today = today or local_date()
    if period is Period.WEEK:
        return period_containing(period, today - timedelta(days=today.weekday() + 1))
    return period_containing(period, today.replace(day=1) - timedelta(days=1))
