"""Endpoints of the practices' figures: 专题分析, 年度考评 (and its Excel), 每日要情."""

from __future__ import annotations

import tempfile
from datetime import date, datetime
from typing import Any

from apiflask import APIBlueprint
from flask import Response, send_file
from pydantic import ConfigDict, Field

from app.auth import current_staff, staff_required
from app.clock import local_date
from app.errors import ApiError, Unavailable
from app.org.models import Role
from app.schemas import Day, Id, Schema
from notifications.pdf import FontNotFound
from stats import exports
from stats.annual import RATES, annual_notes, annual_scores
from stats.briefs import brief_for, brief_pdf
from stats.routes import STATS_ROLES, XLSX, period_of, unit_in_scope
from stats.schemas import CategoryCount, PeriodQuery, UnitRef
from stats.topics import topics

bp = APIBlueprint("stats_practices", __name__, url_prefix="/api/v1", tag="统计")

ANNUAL_ROLES = (Role.ANALYST, Role.ADMIN)
BRIEF_ROLES = (Role.SCREENER, Role.SUPERIOR, Role.ANALYST, Role.ADMIN)


# ---------------------------------------------------------------- 专题分析


class TermOut(Schema):
    term: str
    count: int = Field(description="使用该词的文本数（一条线索或一条差评评语算一次）")


class UnitTopicsOut(Schema):
    unit_id: int
    unit: str
    documents: int
    terms: list[TermOut]


class TopicsOut(Schema):
    start: date
    end: date
    unit: UnitRef
    documents: int = Field(description="参与分析的文本数：期内线索描述 + 差评评语")
    terms: list[TermOut] = Field(description="最常见的投诉用词（结巴分词，去停用词）")
    by_category: list[CategoryCount]
    units: list[UnitTopicsOut] = Field(description="每个有文本的单位最常见的 5 个词")


@bp.get("/stats/topics")
@staff_required(*STATS_ROLES)
@bp.input(PeriodQuery, location="query", arg_name="query")
@bp.output(TopicsOut)
@bp.doc(responses={404: "单位不存在"})
def get_topics(query: PeriodQuery):
    """专题分析：期内群众反映最多的问题用词和线索类别，按单位"""
    start, end = period_of(query)
    return topics(start=start, end=end, root=unit_in_scope(query.unit_id))


# ---------------------------------------------------------------- 年度考评


class AnnualQuery(Schema):
    year: int | None = Field(None, ge=2000, le=2100, description="考评年度；默认今年")
    unit_id: Id | None = Field(None, description="该单位及其下级单位；默认本人所在单位")


class AnnualUnitOut(Schema):
    unit_id: int
    unit: str
    rank: int | None = Field(description="按得分排名；没有任何指标数据的单位为空")
    score: float | None = Field(description="百分制得分")
    interviews: int = Field(description="年内约谈次数")
    satisfaction_rate: float | None
    on_time_rate: float | None
    rerating_satisfaction_rate: float | None
    resolved_rate: float | None = Field(description="案结事了率")
    rectification_rate: float | None = Field(description="整改率")
    satisfaction_sample: int
    on_time_sample: int
    rerating_satisfaction_sample: int
    resolved_sample: int
    rectification_sample: int


class AnnualOut(Schema):
    year: int
    start: date
    end: date
    unit: UnitRef
    weights: dict[str, float] = Field(description="各指标权重（ANNUAL_SCORE_WEIGHTS）")
    interview_penalty: float = Field(description="每次约谈扣分")
    units: list[AnnualUnitOut]


def _annual(query: AnnualQuery) -> dict[str, Any]:
    year = query.year or local_date().year
    if date(year, 1, 1) > local_date():
        raise ApiError(
            422,
            "validation_error",
            "考评年度尚未开始",
            {"fields": {"year": ["考评年度尚未开始"]}},
        )
    return annual_scores(year=year, root=unit_in_scope(query.unit_id))


@bp.get("/stats/annual")
@staff_required(*ANNUAL_ROLES)
@bp.input(AnnualQuery, location="query", arg_name="query")
@bp.output(AnnualOut)
@bp.doc(responses={404: "单位不存在"})
def get_annual(query: AnnualQuery):
    """年度考评：每个单位的满意率、按期办结率、回评满意率、案结事了率、整改率、约谈次数和加权得分"""
    return _annual(query)


ANNUAL_COLUMNS = [
    exports.Column("名次", 8, exports.INT),
    exports.Column("单位", 24),
    exports.Column("得分", 9),
    exports.Column("约谈次数", 10, exports.INT),
    *[exports.Column(label, 12, exports.PERCENT) for label in RATES.values()],
    *[exports.Column(f"{label}样本", 12, exports.INT) for label in RATES.values()],
]


@bp.get("/exports/annual.xlsx")
@staff_required(*ANNUAL_ROLES)
@bp.input(AnnualQuery, location="query", arg_name="query")
@bp.doc(responses={200: {"description": "文件", "content": {XLSX: {}}}, 404: "单位不存在"})
def export_annual(query: AnnualQuery):
    """导出年度考评（Excel，含得分公式和权重说明）"""
    scores = _annual(query)
    rows = [
        [
            row["rank"],
            row["unit"],
            row["score"],
            row["interviews"],
            *[row[f"{key}_rate"] for key in RATES],
            *[row[f"{key}_sample"] for key in RATES],
        ]
        for row in scores["units"]
    ]
    notes = [[item, text] for item, text in annual_notes(scores)]
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    exports.write_xlsx(
        spool,
        [
            ("年度考评", ANNUAL_COLUMNS, rows),
            ("说明", [exports.Column("项目", 14), exports.Column("说明", 90)], notes),
        ],
    )
    spool.seek(0)
    name = f"年度考评-{scores['year']}.xlsx"
    return send_file(spool, mimetype=XLSX, as_attachment=True, download_name=name, max_age=0)


# ---------------------------------------------------------------- 每日要情


class BriefQuery(Schema):
    model_config = ConfigDict(populate_by_name=True)

    day: Day | None = Field(None, alias="date", description="要情日期；默认今天")


class CountOut(Schema):
    kind: str
    label: str
    count: int


class OverdueUnitOut(Schema):
    unit_id: int
    unit: str
    count: int


class BriefRatings(Schema):
    evaluations: int
    satisfied: int
    satisfaction_rate: float | None
    bad_ratings: int
    to_rectify: int = Field(description="其中不带线索、交单位整改的差评")


class BriefClues(Schema):
    received: int
    by_category: list[CategoryCount]


class BriefWarnings(Schema):
    total: int
    by_kind: list[CountOut]


class BriefOverdue(Schema):
    total: int = Field(description="报告时逾期未办的事项（所有有期限的环节）")
    by_kind: list[CountOut]
    units: list[OverdueUnitOut] = Field(description="逾期事项最多的 10 个单位")


class BriefOut(Schema):
    day: date
    start: date = Field(description="统计范围：上一个工作日起")
    end: date = Field(description="至前一天")
    unit: UnitRef
    issued_at: datetime | None = Field(description="上报时间；为空表示按请求时的数据生成")
    ratings: BriefRatings
    clues: BriefClues
    warnings: BriefWarnings
    overdue: BriefOverdue


def _brief(query: BriefQuery) -> dict[str, Any]:
    day = query.day or local_date()
    if day > local_date():
        raise ApiError(
            422, "validation_error", "日期不能晚于今天", {"fields": {"date": ["日期不能晚于今天"]}}
        )
    return brief_for(day=day, unit=current_staff().unit)


@bp.get("/briefs/daily")
@staff_required(*BRIEF_ROLES)
@bp.input(BriefQuery, location="query", arg_name="query")
@bp.output(BriefOut)
def get_daily_brief(query: BriefQuery):
    """每日要情：上一个工作日以来的评价、新线索、高频预警和报告时的逾期事项（本人管辖范围）"""
    return _brief(query)


@bp.get("/briefs/daily.pdf")
@staff_required(*BRIEF_ROLES)
@bp.input(BriefQuery, location="query", arg_name="query")
@bp.doc(
    responses={
        200: {"description": "PDF", "content": {"application/pdf": {}}},
        503: "服务器缺少中文字体",
    }
)
def get_daily_brief_pdf(query: BriefQuery):
    """每日要情 PDF"""
    brief = _brief(query)
    try:
        data = brief_pdf(brief)
    except FontNotFound as exc:
        raise Unavailable(str(exc), code="font_missing") from exc
    return Response(
        data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f"inline; filename=daily-brief-{brief['day']}.pdf"},
    )
