"""晒在网上: an opt-in public page (`PUBLIC_DISCLOSURE=1`) with the last weekly ranking and
anonymised outcomes of closed clues, as HTML at /public and JSON at /api/v1/public/ranking.

Off by default: both answer 404, as if they did not exist. What is shown is what a notice
already says to every unit, less the 约谈 list, plus closed outcomes reduced to unit,
category, outcome and dates; no tracking number, officer, reporter or time of day, and the
text of an outcome only where a screener approved a public summary (clues/practices.py).
Flagged ratings are left out of the ranking as everywhere else.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from apiflask import APIBlueprint
from flask import Blueprint, Flask, current_app, render_template
from pydantic import Field

from app.clock import local_date
from app.errors import NotFound
from app.extensions import db
from app.org.models import Unit
from app.schemas import Schema
from clues.models import Clue
from clues.practice_models import PublicSummary
from clues.states import ClueStatus
from stats.ranking import Period, last_complete_period, unit_ranking

api = APIBlueprint("public", __name__, url_prefix="/api/v1", tag="公开")
page = Blueprint("public_page", __name__, template_folder="templates")


def _require_disclosure() -> None:
    if not current_app.config.get("PUBLIC_DISCLOSURE"):
        raise NotFound("页面不存在")


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def public_ranking() -> dict[str, Any]:
    """The last complete week's ranking of every unit, and the latest closed outcomes."""
    start, end = last_complete_period(Period.WEEK)
    ranking = unit_ranking(start=start, end=end)
    return {
        "start": start,
        "end": end,
        "min_evaluations": ranking.min_evaluations,
        "min_stages": ranking.min_stages,
        "units": [
            {
                "unit": u.unit_name,
                "evaluations": u.evaluations,
                "satisfaction_rate": u.satisfaction_rate,
                "satisfaction_rank": u.satisfaction_rank,
                "stages": u.stages,
                "on_time_rate": u.on_time_rate,
                "on_time_rank": u.on_time_rank,
            }
            for u in sorted(
                ranking.units,
                key=lambda u: (u.satisfaction_rank is None, u.satisfaction_rank or 0, u.unit_id),
            )
        ],
        "red_list": [u.unit_name for u in ranking.red_list],
        "outcomes": closed_outcomes(current_app.config["PUBLIC_OUTCOMES_LIMIT"]),
    }


def closed_outcomes(limit: int) -> list[dict[str, Any]]:
    """The latest closed clues with an outcome, anonymised."""
    rows = db.session.execute(
        sa.select(Clue, Unit.name, PublicSummary.text)
        .join(Unit, Unit.id == Clue.unit_id)
        .outerjoin(PublicSummary, PublicSummary.clue_id == Clue.id)
        .where(Clue.status == ClueStatus.CLOSED, Clue.outcome.is_not(None))
        .order_by(Clue.closed_at.desc(), Clue.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "unit": unit_name,
            "category": clue.category.label,
            "outcome": clue.outcome.label,
            "received_on": local_date(clue.submitted_at),
            "closed_on": local_date(clue.closed_at),
            "summary": text or None,
        }
        for clue, unit_name, text in rows
    ]


class PublicUnitOut(Schema):
    unit: str
    evaluations: int
    satisfaction_rate: float | None
    satisfaction_rank: int | None
    stages: int
    on_time_rate: float | None
    on_time_rank: int | None


class PublicOutcomeOut(Schema):
    unit: str
    category: str
    outcome: str = Field(description="查实、部分属实或查否")
    received_on: date
    closed_on: date
    summary: str | None = Field(description="审核人员审定的公开摘要；未审定时为空")


class PublicRankingOut(Schema):
    start: date
    end: date
    min_evaluations: int
    min_stages: int
    units: list[PublicUnitOut]
    red_list: list[str]
    outcomes: list[PublicOutcomeOut]


@api.get("/public/ranking")
@api.output(PublicRankingOut)
@api.doc(responses={404: "未开启公开（PUBLIC_DISCLOSURE）"})
def get_public_ranking():
    """公开：上周单位排名和已办结问题的处理结果（匿名；开启 PUBLIC_DISCLOSURE=1 后可用）"""
    _require_disclosure()
    return public_ranking()


@page.get("/public")
def public_page():
    _require_disclosure()
    body = public_ranking()
    response = render_template("public/ranking.html", data=body, percent=_percent)
    return response, 200, {"Cache-Control": "public, max-age=300"}


def init_app(app: Flask) -> None:
    app.register_blueprint(api)
    app.register_blueprint(page)
