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
from clues.rollups import OfficerClueDay
from evaluations.rollups import OfficerRatingDay
from stats.measures import rate
from stats.rollups import period_by

NO_RATINGS = {"evaluations": 0, "satisfied": 0, "bad": 0}
NO_CLUES = {"received": 0, "substantiated": 0, "unfounded": 0, "under_verification": 0}


def officer_summaries(
    *, start: date, end: date, root: Unit, recused_officer_id: int | None = None
) -> list[dict[str, Any]]:
    """One row per officer of root's subtree: rating and clue figures for start..end.

    The reader's own officer record (`recused_officer_id`) shows no clue figures: the accused
    does not learn from a count that a clue about them exists (recusal)."""
    units = subtree_ids(root)
    period = {"start": start, "end": end, "units": units}
    ratings = period_by(OfficerRatingDay.__table__, "officer_id", **period)
    clues = period_by(OfficerClueDay.__table__, "officer_id", **period)
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
        rated, clued = rated or NO_RATINGS, clued or NO_CLUES
        if officer.id == recused_officer_id:
            clued = dict.fromkeys(NO_CLUES)  # recusal: not even a count
        rows.append(
            {
                "officer_id": officer.id,
                "name": officer.name,
                "staff_no": officer.staff_no,
                "position": officer.position,
                "unit_id": officer.unit_id,
                "unit": officer.unit_name,
                "is_active": officer.is_active,
                "evaluations": rated["evaluations"],
                "satisfied": rated["satisfied"],
                "satisfaction_rate": rate(rated["satisfied"], rated["evaluations"]),
                "bad_ratings": rated["bad"],
                "clues_received": clued["received"],
                "substantiated": clued["substantiated"],
                "unfounded": clued["unfounded"],
                "under_verification": clued["under_verification"],
            }
        )
    return rows
