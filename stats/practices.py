"""Figures of the seed cities' practices, shared by the overview, the ranking, the notices,
the annual score and the daily brief (one definition each):

- 整改率 (rectification_rate): bad ratings without a clue given in the period, rectified
  (verified, fixed and called back) by now / all of them; on time = by their deadline.
- 回访率 (callback_rate): return visits that reached the person / return visits due, where
  due are (a) the bad ratings of the period (each needs a call back with its rectification)
  and (b) clues closed in the period whose confidential reporter did not re-rate (or could
  not); reached = a rectification or clue callback whose result is not 联系不上.
- 案结事了率 (resolved_rate): re-ratings given in the period that say the problem was resolved
  / re-ratings given in the period (the "resolved" answer of the re-rating), by handling unit.
- by_category: clues received in the period by category (the cohort of the overview).
- targets: the configured 按期办结率 and 满意率 targets, reported beside the figures.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.org.models import Unit, subtree_ids
from clues.models import Clue
from clues.practice_models import BadRatingRectification, CallbackResult, ClueCallback
from clues.practices import callback_due
from clues.rollups import UnitClueDay
from evaluations.questionnaire import ClueCategory
from stats.measures import HANDLING_UNIT, count_if, handling_figures, period_bounds, rate
from stats.rollups import period_by, period_sums


def unit_names(unit_ids: Any) -> dict[int, str]:
    """Unit id → name, for the ids given."""
    return dict(
        db.session.execute(sa.select(Unit.id, Unit.name).where(Unit.id.in_(list(unit_ids)))).all()
    )


def targets() -> dict[str, float]:
    """The configured targets (fractions, like the rates they sit beside)."""
    config = current_app.config
    return {
        "on_time_rate": float(config["TARGET_ON_TIME_RATE"]),
        "satisfaction_rate": float(config["TARGET_SATISFACTION_RATE"]),
    }


def versus_target(value: float | None, target: float) -> str:
    """达标 / 未达标 / 无数据: what a reader of a notice needs beside a rate."""
    if value is None:
        return "无数据"
    return "达标" if value >= target else "未达标"


def _in(column: Any, units: Any) -> sa.ColumnElement[bool]:
    return sa.true() if units is None else column.in_(units)


def rectification_figures(*, start: date, end: date, units: Any = None) -> dict[str, Any]:
    """Bad ratings of the period sent to their unit, and how many were rectified."""
    since, until = period_bounds(start, end)
    row = BadRatingRectification
    total, rectified, on_time, reached = db.session.execute(
        sa.select(
            sa.func.count(row.id),
            count_if(row.rectified_at.is_not(None)),
            count_if(row.on_time.is_(True)),
            count_if(
                sa.and_(
                    row.callback_result.is_not(None),
                    row.callback_result != CallbackResult.UNREACHABLE,
                )
            ),
        ).where(row.opened_at.between(since, until), _in(row.unit_id, units))
    ).one()
    return {
        "bad_ratings_to_rectify": int(total),
        "rectified": int(rectified),
        "rectified_on_time": int(on_time),
        "rectification_rate": rate(int(rectified), int(total)),
        "rectification_callbacks_reached": int(reached),
    }


def clue_callback_figures(*, start: date, end: date, units: Any = None) -> dict[str, int]:
    """Clues closed in the period that are due a return visit, and those reached."""
    since, until = period_bounds(start, end)
    reached = sa.exists().where(
        ClueCallback.clue_id == Clue.id, ClueCallback.result != CallbackResult.UNREACHABLE
    )
    made = sa.exists().where(ClueCallback.clue_id == Clue.id)
    due, done, ok = db.session.execute(
        sa.select(sa.func.count(Clue.id), count_if(made), count_if(reached)).where(
            callback_due(), Clue.closed_at.between(since, until), _in(HANDLING_UNIT, units)
        )
    ).one()
    return {"clue_callbacks_due": int(due), "clue_callbacks_made": int(done), "reached": int(ok)}


def resolved_figures(handled: dict[str, int]) -> dict[str, Any]:
    """案结事了率: re-ratings of the period saying the problem was resolved (from the handling
    figures of stats.measures.handling_figures)."""
    total, resolved = handled["reratings"], handled["resolved"]
    return {"resolved": resolved, "resolved_rate": rate(resolved, total)}


def practice_figures(
    *, start: date, end: date, units: Any = None, handled: dict[str, int] | None = None
) -> dict[str, Any]:
    """整改率, 回访率, 案结事了率 and the targets, for a period and a set of units (a SELECT
    of ids, a list, or None for every unit); `handled`: its handling figures, when the caller
    has them already."""
    if handled is None:
        handled = handling_figures(start=start, end=end, units=units)[None]
    rectification = rectification_figures(start=start, end=end, units=units)
    callbacks = clue_callback_figures(start=start, end=end, units=units)
    due = rectification["bad_ratings_to_rectify"] + callbacks["clue_callbacks_due"]
    reached = rectification["rectification_callbacks_reached"] + callbacks.pop("reached")
    return {
        **rectification,
        **callbacks,
        "callbacks_due": due,
        "callbacks_reached": reached,
        "callback_rate": rate(reached, due),
        **resolved_figures(handled),
        "targets": targets(),
    }


def clues_by_category(*, start: date, end: date, units: Any = None) -> list[dict[str, Any]]:
    """Clues received in the period by category, every category listed (0 included)."""
    # From the daily clue rollups (stats.rollups): days × units × categories rows at most.
    return by_category(
        period_by(UnitClueDay.__table__, "category", start=start, end=end, units=units)
    )


def by_category(received: dict[Any, dict[str, int]]) -> list[dict[str, Any]]:
    """The clue rollup's sums per category as the list shown: every category (0 included)."""
    counts = {ClueCategory(category): row["received"] for category, row in received.items()}
    return [
        {
            "category": category.value,
            "label": category.label,
            "group": category.group,
            "clues": int(counts.get(category, 0)),
        }
        for category in ClueCategory
    ]


def categories_by_unit(*, start: date, end: date, units: Any = None) -> dict[int, dict[str, int]]:
    """Clues received in the period per unit and category (only the categories it had)."""
    found: dict[int, dict[str, int]] = {}
    rows = period_sums(
        UnitClueDay.__table__, start=start, end=end, units=units, by=["unit_id", "category"]
    )
    for row in rows:
        if row.received:
            found.setdefault(row.unit_id, {})[ClueCategory(row.category).value] = int(row.received)
    return found


def with_categories(body: dict[str, Any], ranking: Any, root: Any) -> dict[str, Any]:
    """A ranking's answer with clues by category, for the whole scope and for each unit,
    and the targets beside the rates."""
    units = subtree_ids(root) if root is not None else None
    per_unit = categories_by_unit(start=ranking.start, end=ranking.end, units=units)
    for key in ("units", "red_list", "interview_list"):
        for row in body[key]:
            row["by_category"] = per_unit.get(row["unit_id"], {})
    body["by_category"] = clues_by_category(start=ranking.start, end=ranking.end, units=units)
    body["targets"] = targets()
    return body
