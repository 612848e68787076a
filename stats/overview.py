"""The overview of SPEC.md "Statistics": every figure of a period and a unit subtree.

A period is Beijing-time dates start..end inclusive; the subtree is `root` and every unit
below it. A handful of aggregate queries, however much data there is; ratings and clues are read
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

from app.org.models import Unit, subtree_ids
from clues.rollups import (  # noqa: F401  (the cohort's statuses, also read from here)
    PENDING_SCREENING,
    SUBSTANTIATED,
    UNDER_VERIFICATION,
    UnitClueDay,
)
from evaluations.rollups import UnitRatingDay, counters
from stats.measures import handling_figures, rate
from stats.practices import by_category, practice_figures
from stats.rollups import period_by, period_totals


def overview(*, start: date, end: date, root: Unit) -> dict[str, Any]:
    """Every figure of SPEC.md "Statistics" for start..end (Beijing dates) and root's subtree."""
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

    # One read of the clue rollup by category: the totals and the breakdown.
    categories = period_by(UnitClueDay.__table__, "category", start=start, end=end, units=units)
    clues = {
        name: sum(row[name] for row in categories.values())
        for name in counters(UnitClueDay.__table__)
    }
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

    handled = handling_figures(start=start, end=end, units=units)[None]
    figures.update(
        stages=handled["stages"],
        stages_on_time=handled["stages_on_time"],
        on_time_rate=rate(handled["stages_on_time"], handled["stages"]),
        reratings=handled["reratings"],
        rerating_satisfied=handled["rerating_satisfied"],
        rerating_satisfaction_rate=rate(handled["rerating_satisfied"], handled["reratings"]),
        appeals=handled["appeals"],
        appeals_reopened=handled["appeals_reopened"],
        appeals_upheld=handled["appeals_upheld"],
    )
    # The seed cities' practices: 整改率, 回访率, 案结事了率, targets; clues by category.
    figures.update(practice_figures(start=start, end=end, units=units, handled=handled))
    figures["by_category"] = by_category(categories)
    return figures
