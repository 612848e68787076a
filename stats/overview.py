"""The overview of SPEC.md "Statistics": every figure of a period and a unit subtree.

A period is Beijing-time dates start..end inclusive; the subtree is `root` and every unit
below it. Five aggregate queries, however much data there is; ratings and clues are read
from their daily rollups (stats.rollups), so a year costs no more than days × units rows.
Rates are None (JSON null) when there is nothing to divide, never 0.

Ratings (by the unit rated, created in the period; stats.measures):
- evaluations: ratings that count (excluded ones are left out, and reported apart as
  excluded_ratings); satisfaction_rate = (level 5 + level 4) / evaluations; bad_ratings =
  levels 1–2.

Clues follow the cohort of clues *received in the period* about units of the subtree, as they
stand now. That is how the real report counts ("received 524, assigned 374 after screening,
300 unfounded, 55 substantiated, 19 under verification"), and it makes the funnel add up:
- clues_received = screened_out + clues_assigned + pending_screening;
- screened_out = rejected + merged + forwarded (to 12345; still counted here once the 12345
  platform has closed it);
- clues_assigned = unfounded + substantiated + under_verification, where unfounded and
  substantiated (substantiated or partly, the latter also shown alone) are closed clues by
  outcome, and under_verification is everything assigned and not closed: assigned, verifying,
  reviewing, or appealed (an appealed conclusion is not final until the superior decides);
- a merged clue counts once: as received and screened out. It never adds to its master's
  figures (the master is its own clue of the cohort it was received in);
- persons_handled = people handled (组织处理) in the approved reports of the cohort's closed
  clues; referred and referral_persons_handled report the discipline-inspection side
  (referrals of cohort clues, and the people the liaison recorded as handled) separately, so
  nobody is counted twice.

Handling figures follow events *in the period*, like the ranking (one shared definition):
- on_time_rate: verification stages of subtree units finished on time in the period /
  (stages finished in the period + stages still open and past due at the period's end);
- rerating_satisfaction_rate: re-ratings given in the period with level ≥ 4 *and* "resolved",
  over all re-ratings given in the period, for clues handled by subtree units;
- appeals: appeals lodged in the period about clues handled by subtree units (every appeal,
  so a clue appealed twice counts twice), with how many were reopened or upheld so far.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.org.models import Unit, subtree_ids
from clues.models import Appeal, Clue, ClueStage, ReratingInvitation
from clues.rollups import (  # noqa: F401  (the cohort's statuses, also read from here)
    PENDING_SCREENING,
    SUBSTANTIATED,
    UNDER_VERIFICATION,
    UnitClueDay,
)
from evaluations.rollups import UnitRatingDay
from stats.measures import (
    HANDLING_UNIT,
    RERATING_SATISFIED,
    count_if,
    on_time_count,
    on_time_sample,
    period_bounds,
    rate,
    rated_in,
)
from stats.practices import clues_by_category, practice_figures
from stats.rollups import period_totals


def overview(*, start: date, end: date, root: Unit) -> dict[str, Any]:
    """Every figure of SPEC.md "Statistics" for start..end (Beijing dates) and root's subtree."""
    since, until = period_bounds(start, end)
    units = subtree_ids(root)
    figures: dict[str, Any] = {
        "start": start,
        "end": end,
        "unit": {"id": root.id, "name": root.name},
    }

    ratings = period_totals(UnitRatingDay.__table__, start=start, end=end, units=units)
    evaluations, satisfied = ratings["evaluations"], ratings["satisfied"]
    figures.update(
        evaluations=evaluations,
        satisfied=satisfied,
        satisfaction_rate=rate(satisfied, evaluations),
        bad_ratings=ratings["bad"],
        excluded_ratings=ratings["excluded"],
    )

    clues = period_totals(UnitClueDay.__table__, start=start, end=end, units=units)
    figures.update(
        clues_received=clues["received"],
        screened_out=clues["rejected"] + clues["merged"] + clues["forwarded"],
        rejected=clues["rejected"],
        merged=clues["merged"],
        forwarded=clues["forwarded"],
        pending_screening=clues["pending_screening"],
        clues_assigned=clues["assigned"],
        unfounded=clues["unfounded"],
        substantiated=clues["substantiated"],
        partly_substantiated=clues["partly_substantiated"],
        under_verification=clues["under_verification"],
        self_verified=clues["self_verified"],
        persons_handled=clues["persons_handled"],
        referred=clues["referred"],
        referral_persons_handled=clues["referral_persons_handled"],
    )

    stages, on_time = db.session.execute(
        sa.select(sa.func.count(ClueStage.id), on_time_count(since, until)).where(
            on_time_sample(since, until), ClueStage.unit_id.in_(units)
        )
    ).one()
    figures.update(
        stages=int(stages),
        stages_on_time=int(on_time),
        on_time_rate=rate(int(on_time), int(stages)),
    )

    reratings, rerating_satisfied = db.session.execute(
        sa.select(sa.func.count(ReratingInvitation.id), count_if(RERATING_SATISFIED))
        .join(Clue, Clue.id == ReratingInvitation.clue_id)
        .where(rated_in(since, until), HANDLING_UNIT.in_(units))
    ).one()
    figures.update(
        reratings=int(reratings),
        rerating_satisfied=int(rerating_satisfied),
        rerating_satisfaction_rate=rate(int(rerating_satisfied), int(reratings)),
    )

    appeals, reopened, upheld = db.session.execute(
        sa.select(
            sa.func.count(Appeal.id),
            count_if(Appeal.decision == "reopened"),
            count_if(Appeal.decision == "upheld"),
        )
        .join(Clue, Clue.id == Appeal.clue_id)
        .where(Appeal.created_at.between(since, until), HANDLING_UNIT.in_(units))
    ).one()
    figures.update(appeals=int(appeals), appeals_reopened=int(reopened), appeals_upheld=int(upheld))
    # The seed cities' practices: 整改率, 回访率, 案结事了率, targets; clues by category.
    figures.update(practice_figures(start=start, end=end, units=units))
    figures["by_category"] = clues_by_category(start=start, end=end, units=units)
    return figures
