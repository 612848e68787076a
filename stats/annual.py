"""年度考评: a unit's annual score for 平安建设考评, from the year's figures.

Each rate is the year's figure as the ranking and the overview count it (stats.measures,
stats.practices): 满意率, 按期办结率, 回评满意率, 案结事了率 (re-ratings saying "resolved"),
整改率 (bad ratings rectified). The score out of 100 is

    score = 100 × Σ(weight × rate) / Σ(weight of the rates the unit has data for)
            − ANNUAL_INTERVIEW_PENALTY × 约谈 of the year,     kept within 0…100

with the weights of ANNUAL_SCORE_WEIGHTS (satisfaction 30, on_time 25,
rerating_satisfaction 15, resolved 15, rectification 15 by default). A rate without data
(no ratings, no verification finished…) is left out and the other weights scale up, so a
unit is neither rewarded nor punished for having had no case; a unit without any rate has no
score. Units are ranked by score; equal scores share a rank.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.clock import local_date
from app.extensions import db
from app.org.models import Unit, subtree_ids
from clues.practice_models import BadRatingRectification, Interview
from stats.measures import count_if, handling_figures, period_bounds, rate
from stats.practices import unit_names
from stats.ranking import unit_ranking

RATES = {
    "satisfaction": "满意率",
    "on_time": "按期办结率",
    "rerating_satisfaction": "回评满意率",
    "resolved": "案结事了率",
    "rectification": "整改率",
}


@dataclass
class AnnualUnit:
    unit_id: int
    unit: str
    rates: dict[str, float | None] = field(default_factory=dict)
    samples: dict[str, int] = field(default_factory=dict)
    interviews: int = 0
    score: float | None = None
    rank: int | None = None


def year_bounds(year: int) -> tuple[date, date]:
    """The year, up to today while it runs."""
    return date(year, 1, 1), min(date(year, 12, 31), local_date())


def _grouped(stmt: sa.Select[Any]) -> dict[int, tuple[int, int]]:
    return {unit_id: (int(a), int(b)) for unit_id, a, b in db.session.execute(stmt)}


def _resolved(start: date, end: date, units: Any) -> dict[int, tuple[int, int]]:
    """Per unit: (re-ratings, resolved) of the period."""
    handled = handling_figures(start=start, end=end, units=units, by_unit=True)
    return {
        unit_id: (row["reratings"], row["resolved"])
        for unit_id, row in handled.items()
        if row["reratings"]
    }


def _rectified(since: Any, until: Any, units: Any) -> dict[int, tuple[int, int]]:
    row = BadRatingRectification
    return _grouped(
        sa.select(row.unit_id, sa.func.count(row.id), count_if(row.rectified_at.is_not(None)))
        .where(row.opened_at.between(since, until), row.unit_id.in_(units))
        .group_by(row.unit_id)
    )


def _interviews(start: date, end: date, units: Any) -> dict[int, int]:
    return dict(
        db.session.execute(
            sa.select(Interview.unit_id, sa.func.count())
            .where(Interview.held_on.between(start, end), Interview.unit_id.in_(units))
            .group_by(Interview.unit_id)
        ).all()
    )


def score_of(rates: dict[str, float | None], interviews: int) -> float | None:
    """The weighted score (see the module docstring)."""
    config = current_app.config
    weights = {key: float(w) for key, w in config["ANNUAL_SCORE_WEIGHTS"].items() if key in RATES}
    present = {key: value for key, value in rates.items() if value is not None and weights.get(key)}
    if not present:
        return None
    total = sum(weights[key] for key in present)
    score = 100 * sum(weights[key] * value for key, value in present.items()) / total
    score -= float(config["ANNUAL_INTERVIEW_PENALTY"]) * interviews
    return round(min(100.0, max(0.0, score)), 1)


def annual_scores(*, year: int, root: Unit) -> dict[str, Any]:
    """Every unit of root's subtree with data in the year: its rates, 约谈 and score."""
    start, end = year_bounds(year)
    since, until = period_bounds(start, end)
    units = subtree_ids(root)
    ranking = unit_ranking(start=start, end=end, root=root)
    found: dict[int, AnnualUnit] = {}

    def unit(unit_id: int) -> AnnualUnit:
        return found.setdefault(unit_id, AnnualUnit(unit_id, ""))

    for figures in ranking.units:
        row = unit(figures.unit_id)
        row.rates.update(
            satisfaction=figures.satisfaction_rate,
            on_time=figures.on_time_rate,
            rerating_satisfaction=figures.rerating_satisfaction_rate,
        )
        row.samples.update(
            satisfaction=figures.evaluations,
            on_time=figures.stages,
            rerating_satisfaction=figures.reratings,
        )
    for key, counts in (
        ("resolved", _resolved(start, end, units)),
        ("rectification", _rectified(since, until, units)),
    ):
        for unit_id, (whole, part) in counts.items():
            unit(unit_id).rates[key] = rate(part, whole)
            unit(unit_id).samples[key] = whole
    for unit_id, count in _interviews(start, end, units).items():
        unit(unit_id).interviews = int(count)
    names = unit_names(found)
    for row in found.values():
        row.unit = names.get(row.unit_id, "")
        for key in RATES:
            row.rates.setdefault(key, None)
            row.samples.setdefault(key, 0)
        row.score = score_of(row.rates, row.interviews)
    ranked = sorted(found.values(), key=lambda r: (r.score is None, -(r.score or 0), r.unit_id))
    previous, position = None, 0
    for index, row in enumerate(ranked, start=1):
        if row.score is None:
            break
        if row.score != previous:
            position, previous = index, row.score
        row.rank = position
    config = current_app.config
    return {
        "year": year,
        "start": start,
        "end": end,
        "unit": {"id": root.id, "name": root.name},
        "weights": {k: float(v) for k, v in config["ANNUAL_SCORE_WEIGHTS"].items() if k in RATES},
        "interview_penalty": float(config["ANNUAL_INTERVIEW_PENALTY"]),
        "units": [
            {
                "unit_id": row.unit_id,
                "unit": row.unit,
                "rank": row.rank,
                "score": row.score,
                "interviews": row.interviews,
                **{f"{key}_rate": row.rates[key] for key in RATES},
                **{f"{key}_sample": row.samples[key] for key in RATES},
            }
            for row in ranked
        ],
    }


def annual_notes(scores: dict[str, Any]) -> list[tuple[str, str]]:
    """The 说明 sheet of the annual export: the period, the formula and the weights."""
    weights = "；".join(f"{RATES[key]} {value:g}" for key, value in scores["weights"].items())
    return [
        ("考评年度", f"{scores['start'].isoformat()} 至 {scores['end'].isoformat()}（北京时间）"),
        (
            "得分",
            "100 × Σ（权重 × 指标）/ 有数据的指标权重之和 − 每次约谈扣分 × 约谈次数，"
            "在 0 至 100 之间；没有数据的指标不计入，其余指标按权重放大",
        ),
        ("权重", weights),
        ("约谈扣分", f"每次 {scores['interview_penalty']:g} 分"),
        ("满意率", "（非常满意 + 满意）/ 有效评价数；被标记排除的评价不计入"),
        ("按期办结率", "按期办结的核查件数 /（办结的核查件数 + 年末（或今天）仍超期未办结的件数）"),
        ("回评满意率", "回评中满意以上且表示问题已解决的比例"),
        ("案结事了率", "回评中表示问题已解决的比例"),
        ("整改率", "不带线索的差评中，单位已核实整改并回访的比例"),
    ]
