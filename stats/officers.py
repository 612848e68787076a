"""Per-officer summaries for the analyst: counts and rates only.

An officer's figures, for a period (Beijing dates) and the officers of a unit subtree:
- ratings made through the officer's own code (or naming them) that count, their
  satisfaction rate and bad ratings, as in the overview (excluded ratings left out);
- clues about the officer received in the period, as they stand now (the overview's cohort):
  how many, how many closed substantiated (or partly) or unfounded, how many under verification.

Nothing about residents: no ids, no comments, no descriptions. Officers are public servants
rated in that capacity, so their names, staff numbers and positions are shown. Officers are
listed when active or when they have figures in the period. Three queries.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.org.models import Officer, Unit, subtree_ids
from clues.models import Clue, Outcome
from clues.states import ClueStatus
from evaluations.models import Evaluation
from stats.measures import BAD, SATISFIED, count_if, counted_ratings, period_bounds, rate
from stats.overview import SUBSTANTIATED, UNDER_VERIFICATION


def officer_summaries(*, start: date, end: date, root: Unit) -> list[dict[str, Any]]:
    """One row per officer of root's subtree: rating and clue figures for start..end."""
    since, until = period_bounds(start, end)
    units = subtree_ids(root)
    ratings = {
        row.officer_id: row
        for row in db.session.execute(
            sa.select(
                Evaluation.officer_id,
                sa.func.count().label("evaluations"),
                count_if(SATISFIED).label("satisfied"),
                count_if(BAD).label("bad"),
            )
            .where(
                counted_ratings(since, until),
                Evaluation.officer_id.is_not(None),
                Evaluation.unit_id.in_(units),
            )
            .group_by(Evaluation.officer_id)
        )
    }
    closed = Clue.status == ClueStatus.CLOSED
    clues = {
        row.officer_id: row
        for row in db.session.execute(
            sa.select(
                Clue.officer_id,
                sa.func.count().label("received"),
                count_if(sa.and_(closed, Clue.outcome.in_(SUBSTANTIATED))).label("substantiated"),
                count_if(sa.and_(closed, Clue.outcome == Outcome.UNFOUNDED)).label("unfounded"),
                count_if(Clue.status.in_(UNDER_VERIFICATION)).label("open"),
            )
            .where(
                Clue.submitted_at.between(since, until),
                Clue.officer_id.is_not(None),
                Clue.unit_id.in_(units),
            )
            .group_by(Clue.officer_id)
        )
    }
    officers = db.session.execute(
        sa.select(
            Officer.id,
            Officer.name,
            Officer.staff_no,
            Officer.position,
            Officer.is_active,
            Unit.id.label("unit_id"),
            Unit.name.label("unit_name"),
        )
        .join(Unit, Unit.id == Officer.unit_id)
        .where(Officer.unit_id.in_(units))
        .order_by(Unit.path, Officer.staff_no, Officer.id)
    )
    rows = []
    for officer in officers:
        rated, clued = ratings.get(officer.id), clues.get(officer.id)
        if not (officer.is_active or rated or clued):
            continue
        evaluations = rated.evaluations if rated else 0
        satisfied = int(rated.satisfied) if rated else 0
        rows.append(
            {
                "officer_id": officer.id,
                "name": officer.name,
                "staff_no": officer.staff_no,
                "position": officer.position,
                "unit_id": officer.unit_id,
                "unit": officer.unit_name,
                "is_active": officer.is_active,
                "evaluations": evaluations,
                "satisfied": satisfied,
                "satisfaction_rate": rate(satisfied, evaluations),
                "bad_ratings": int(rated.bad) if rated else 0,
                "clues_received": clued.received if clued else 0,
                "substantiated": int(clued.substantiated) if clued else 0,
                "unfounded": int(clued.unfounded) if clued else 0,
                "under_verification": int(clued.open) if clued else 0,
            }
        )
    return rows
