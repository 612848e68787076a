"""Statistics and exports: the overview, the unit ranking, officer summaries, the clue ledger
and the ranking as Excel and CSV."""

from __future__ import annotations

import tempfile
from datetime import date
from typing import Any

from apiflask import APIBlueprint
from flask import Response, send_file

from app.audit import record_audit
from app.auth import current_staff, ensure_in_scope, staff_required
from app.clock import local_date
from app.errors import ApiError
from app.extensions import db
from app.org import service as org_service
from app.org.models import Role, Unit
from clues.service import visible_to
from stats import exports
from stats.officers import officer_summaries
from stats.overview import overview
from stats.practices import with_categories
from stats.ranking import Ranking, UnitFigures, last_complete_period, period_containing
from stats.ranking import unit_ranking as rank_units
from stats.schemas import (
    OfficerSummaryList,
    OverviewOut,
    PeriodQuery,
    RankingOut,
    RankingQuery,
)

bp = APIBlueprint("stats", __name__, url_prefix="/api/v1", tag="统计")

# Who may read what (SPEC.md "Actors and roles").
STATS_ROLES = (Role.SCREENER, Role.SUPERIOR, Role.ANALYST, Role.ADMIN, Role.LIAISON)
OFFICER_ROLES = (Role.ANALYST, Role.ADMIN)
LEDGER_ROLES = (Role.SCREENER, Role.SUPERIOR, Role.ADMIN)
RANKING_EXPORT_ROLES = (Role.SCREENER, Role.SUPERIOR, Role.ANALYST, Role.ADMIN)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
_FILE_DOC = {
    200: {"description": "文件", "content": {XLSX: {}, "text/csv": {}}},
    404: "单位不存在",
}


# ---------------------------------------------------------------- parameters


def period_of(query: PeriodQuery) -> tuple[date, date]:
    """from..to; `to` defaults to today and `from` to the first of `to`'s month."""
    end = query.to or local_date()
    start = query.from_ or end.replace(day=1)
    if start > end:
        raise ApiError(
            422,
            "validation_error",
            "起始日期不能晚于截止日期",
            {"fields": {"from": ["起始日期不能晚于截止日期"]}},
        )
    return start, end


def unit_in_scope(unit_id: int | None) -> Unit:
    """The unit asked for (in the caller's scope), else the caller's own unit."""
    if unit_id is None:
        return current_staff().unit
    unit = org_service.get_unit(unit_id)
    ensure_in_scope(unit)
    return unit


def _ranking(query: RankingQuery) -> tuple[Ranking, Unit | None]:
    start, end = (
        period_containing(query.period, query.day)
        if query.day
        else last_complete_period(query.period)
    )
    root = None
    if query.unit_id is not None:
        root = org_service.get_unit(query.unit_id)
        ensure_in_scope(root)
    return rank_units(start=start, end=end, root=root), root


def _ranked_unit(unit: UnitFigures, red: set[int]) -> dict[str, Any]:
    return {
        "unit_id": unit.unit_id,
        "unit": unit.unit_name,
        "evaluations": unit.evaluations,
        "satisfied": unit.satisfied,
        "satisfaction_rate": unit.satisfaction_rate,
        "satisfaction_rank": unit.satisfaction_rank,
        "stages": unit.stages,
        "on_time": unit.on_time,
        "on_time_rate": unit.on_time_rate,
        "on_time_rank": unit.on_time_rank,
        "reratings": unit.reratings,
        "rerating_satisfied": unit.rerating_satisfied,
        "rerating_satisfaction_rate": unit.rerating_satisfaction_rate,
        "clues_received": unit.clues_received,
        "red_list": unit.unit_id in red,
        "interview_reasons": unit.interview_reasons,
    }


def _file(spool: Any, mimetype: str, name: str) -> Response:
    spool.seek(0)
    return send_file(spool, mimetype=mimetype, as_attachment=True, download_name=name, max_age=0)


# ---------------------------------------------------------------- figures


@bp.get("/stats/overview")
@staff_required(*STATS_ROLES)
@bp.input(PeriodQuery, location="query", arg_name="query")
@bp.output(OverviewOut)
@bp.doc(responses={404: "单位不存在"})
def get_overview(query: PeriodQuery):
    """总体情况：评价、满意率、线索收到/交办/查实/查否/在核查、处理人数、按期办结率、回评与复核"""
    start, end = period_of(query)
    return overview(start=start, end=end, root=unit_in_scope(query.unit_id))


@bp.get("/stats/ranking")
@staff_required(*STATS_ROLES)
@bp.input(RankingQuery, location="query", arg_name="query")
@bp.output(RankingOut)
@bp.doc(responses={404: "单位不存在"})
def get_ranking(query: RankingQuery):
    """单位排名：满意率、按期办结率、回评满意率、样本量、名次、红榜与约谈名单"""
    ranking, root = _ranking(query)
    red = {u.unit_id for u in ranking.red_list}
    body = {
        "period": query.period,
        "start": ranking.start,
        "end": ranking.end,
        "unit": {"id": root.id, "name": root.name} if root else None,
        "min_evaluations": ranking.min_evaluations,
        "min_stages": ranking.min_stages,
        "units": [_ranked_unit(u, red) for u in exports.ordered_units(ranking)],
        "by_satisfaction": [u.unit_id for u in ranking.by_satisfaction],
        "by_on_time": [u.unit_id for u in ranking.by_on_time],
        "red_list": [_ranked_unit(u, red) for u in ranking.red_list],
        "interview_list": [_ranked_unit(u, red) for u in ranking.interview_list],
    }
    return with_categories(body, ranking, root)


@bp.get("/stats/officers")
@staff_required(*OFFICER_ROLES)
@bp.input(PeriodQuery, location="query", arg_name="query")
@bp.output(OfficerSummaryList)
@bp.doc(responses={404: "单位不存在"})
def get_officers(query: PeriodQuery):
    """人员评价汇总：每名工作人员的评价数、满意率、差评数、被反映线索及查实数（不含群众个人信息）"""
    start, end = period_of(query)
    unit = unit_in_scope(query.unit_id)
    return {
        "start": start,
        "end": end,
        "unit": {"id": unit.id, "name": unit.name},
        "items": officer_summaries(
            start=start, end=end, root=unit, recused_officer_id=current_staff().officer_id
        ),
    }


# ---------------------------------------------------------------- exports


def _ledger(query: PeriodQuery, fmt: str) -> Response:
    start, end = period_of(query)
    unit = unit_in_scope(query.unit_id)
    staff = current_staff()
    clue_ids = exports.ledger_query(start=start, end=end, root=unit, visible=visible_to(staff))
    rows = exports.ledger_rows(clue_ids, staff)
    name = f"线索台账-{unit.code}-{start:%Y%m%d}-{end:%Y%m%d}.{fmt}"
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    if fmt == "xlsx":
        heading = f"{unit.name}问题线索台账（{start:%Y年%m月%d日}至{end:%Y年%m月%d日}）"
        exports.write_xlsx(
            spool, [("线索台账", exports.LEDGER_COLUMNS, rows)], titles={"线索台账": heading}
        )
    else:
        spool.write(exports.write_csv(exports.LEDGER_COLUMNS, rows))
    # Bulk reads of case data are on the audit trail, like reads of a reporter's identity.
    record_audit(
        "stats.ledger_export",
        object_type="unit",
        object_id=unit.id,
        unit_id=unit.id,
        details={"from": start.isoformat(), "to": end.isoformat(), "format": fmt},
    )
    db.session.commit()
    return _file(spool, XLSX if fmt == "xlsx" else CSV, name)


def _ranking_file(query: RankingQuery, fmt: str) -> Response:
    ranking, root = _ranking(query)
    scope = root.code if root else "all"
    name = f"单位排名-{scope}-{ranking.start:%Y%m%d}-{ranking.end:%Y%m%d}.{fmt}"
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    rows = exports.ranking_rows(ranking)
    if fmt == "xlsx":
        notes = exports.ranking_notes(ranking, query.period.label)
        exports.write_xlsx(
            spool,
            [
                ("单位排名", exports.RANKING_COLUMNS, rows),
                (
                    "说明",
                    [exports.Column("项目", 14), exports.Column("说明", 90)],
                    [list(note) for note in notes],
                ),
            ],
        )
    else:
        spool.write(exports.write_csv(exports.RANKING_COLUMNS, rows))
    return _file(spool, XLSX if fmt == "xlsx" else CSV, name)


@bp.get("/exports/clues.xlsx")
@staff_required(*LEDGER_ROLES)
@bp.input(PeriodQuery, location="query", arg_name="query")
@bp.doc(responses=_FILE_DOC)
def export_ledger_xlsx(query: PeriodQuery):
    """导出线索台账（Excel）：期内收到的线索，各环节起止时间、期限与是否按期，结论与回评"""
    return _ledger(query, "xlsx")


@bp.get("/exports/clues.csv")
@staff_required(*LEDGER_ROLES)
@bp.input(PeriodQuery, location="query", arg_name="query")
@bp.doc(responses=_FILE_DOC)
def export_ledger_csv(query: PeriodQuery):
    """导出线索台账（CSV，UTF-8 带 BOM）"""
    return _ledger(query, "csv")


@bp.get("/exports/ranking.xlsx")
@staff_required(*RANKING_EXPORT_ROLES)
@bp.input(RankingQuery, location="query", arg_name="query")
@bp.doc(responses=_FILE_DOC)
def export_ranking_xlsx(query: RankingQuery):
    """导出单位排名（Excel，含口径说明）"""
    return _ranking_file(query, "xlsx")


@bp.get("/exports/ranking.csv")
@staff_required(*RANKING_EXPORT_ROLES)
@bp.input(RankingQuery, location="query", arg_name="query")
@bp.doc(responses=_FILE_DOC)
def export_ranking_csv(query: RankingQuery):
    """导出单位排名（CSV，UTF-8 带 BOM）"""
    return _ranking_file(query, "csv")
