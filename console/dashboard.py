"""The dashboard: the period's figures (stats.overview), trends over the chosen period, the
unit ranking with its bottom and 约谈 units named, clues by category, the clue funnel, and a
drill-down to any unit in scope; the per-officer summaries; the 台账 and the ranking as
Excel one click away.

Every figure comes from the statistics module and every file from its exports (through the
API's own export functions, so the same rules and audit apply); this page only arranges and
draws them.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import Response, request, send_file

from app.clock import local_date
from app.extensions import db
from app.org.models import Unit
from app.schemas import FIRST_DAY, LAST_DAY
from console.charts import Bar, Series, Step, bar_chart, funnel_chart, line_chart
from console.listing import scope_units
from console.web import bp, console_view, current_staff, page, percent
from stats import exports
from stats import routes as stats_routes
from stats.officers import officer_summaries
from stats.overview import overview
from stats.ranking import Period, Ranking, UnitFigures, period_containing, unit_ranking
from stats.routes import (
    LEDGER_ROLES,
    OFFICER_ROLES,
    RANKING_EXPORT_ROLES,
    STATS_ROLES,
    XLSX,
)
from stats.schemas import PeriodQuery, RankingQuery

ENDS_SHOWN = 10  # bars at the top and at the bottom of each ranking
MAX_PERIOD_DAYS = 366 * 3


def _day(raw: str | None) -> date | None:
    try:
        day = date.fromisoformat(raw) if raw else None
    except ValueError:
        return None
    return day if day is None or FIRST_DAY <= day <= LAST_DAY else None  # 0001-01-01: no


def _period() -> tuple[date, date, str | None]:
    """The period asked for (from/to, Beijing dates), else the last 30 days."""
    today = local_date()
    start, end = _day(request.args.get("from")), _day(request.args.get("to"))
    problem = None
    if (request.args.get("from") and start is None) or (request.args.get("to") and end is None):
        problem = "日期格式应为 年-月-日，已改为显示近 30 天。"
    end = end or today
    start = start or end - timedelta(days=29)
    if start > end or (end - start).days > MAX_PERIOD_DAYS:
        problem = "起止日期有误（开始不能晚于结束，最长三年），已改为显示近 30 天。"
        start, end = today - timedelta(days=29), today
    return start, end, problem


def _root() -> tuple[Unit, str | None]:
    """The unit drilled into (?unit=, in the staff member's subtree), else their own."""
    own = current_staff().unit
    raw = request.args.get("unit", "")
    if not raw:
        return own, None
    unit = db.session.get(Unit, int(raw)) if raw.isdecimal() else None
    if unit is None or not own.contains(unit):
        return own, "所选单位不在您的管辖范围内，已显示本单位。"
    return unit, None


def quick_periods(today: date) -> list[tuple[str, date, date]]:
    week = period_containing(Period.WEEK, today)
    month = period_containing(Period.MONTH, today)
    last_month = period_containing(Period.MONTH, month[0] - timedelta(days=1))
    return [
        ("近 30 天", today - timedelta(days=29), today),
        ("本周", week[0], today),
        ("本月", month[0], today),
        ("上月", *last_month),
        ("今年", date(today.year, 1, 1), today),
    ]


def buckets(start: date, end: date) -> tuple[str, list[tuple[date, date]]]:
    """The trend's steps over start..end: days up to two weeks, weeks up to half a year,
    months beyond (each clipped to the period)."""
    days = (end - start).days + 1
    if days <= 14:
        return "日", [(start + timedelta(n), start + timedelta(n)) for n in range(days)]
    found = []
    if days <= 183:
        first = start
        while first <= end:
            last = min(period_containing(Period.WEEK, first)[1], end)
            found.append((first, last))
            first = last + timedelta(days=1)
        return "周", found
    first = start
    while first <= end:
        last = min(period_containing(Period.MONTH, first)[1], end)
        found.append((first, last))
        first = last + timedelta(days=1)
    return "月", found


def _label(step: str, first: date) -> str:
    return f"{first.year % 100}年{first.month}月" if step == "月" else f"{first.month}/{first.day}"


def period_trend(root: Unit, start: date, end: date) -> dict[str, Any]:
    """Satisfaction, on-time and re-rating rates of each step of the chosen period."""
    step, spans = buckets(start, end)
    figures = [overview(start=a, end=b, root=root) for a, b in spans]
    labels = [_label(step, first) for first, _ in spans]
    return {
        "step": step,
        "labels": labels,
        "satisfaction": Series(
            "满意率",
            [f["satisfaction_rate"] for f in figures],
            "#b71c1c",
            [f"{f['evaluations']} 条评价" for f in figures],
        ),
        "on_time": Series(
            "按期办结率",
            [f["on_time_rate"] for f in figures],
            "#1565c0",
            [f"{f['stages']} 件" for f in figures],
        ),
        "rerating": Series(
            "回评满意率",
            [f["rerating_satisfaction_rate"] for f in figures],
            "#2e7d32",
            [f"{f['reratings']} 次回评" for f in figures],
        ),
    }


def funnel_steps(figures: dict[str, Any]) -> list[Step]:
    """Received → screened → assigned → handled, from the overview's cohort figures."""
    screened = figures["screened_out"] + figures["clues_assigned"]
    handled = figures["unfounded"] + figures["substantiated"]
    return [
        Step("收到线索", figures["clues_received"], f"待审核 {figures['pending_screening']}"),
        Step(
            "完成审核",
            screened,
            f"不予受理 {figures['rejected']} · 并案 {figures['merged']} · "
            f"转 12345 {figures['forwarded']}",
        ),
        Step("交办核查", figures["clues_assigned"], f"核查中 {figures['under_verification']}"),
        Step(
            "办结",
            handled,
            f"查否 {figures['unfounded']} · 查实 {figures['substantiated']}"
            f"（含部分属实 {figures['partly_substantiated']}）",
        ),
    ]


def ends(ranked: list[UnitFigures]) -> tuple[list[UnitFigures], list[UnitFigures]]:
    """The top and the bottom of a ranking (everyone once when it is short)."""
    if len(ranked) <= ENDS_SHOWN * 2:
        return ranked, []
    return ranked[:ENDS_SHOWN], ranked[-ENDS_SHOWN:]


def ranking_bars(ranking: Ranking, kind: str) -> list[Bar]:
    """Bars of the top and the bottom of one ranking; 约谈 units say so in their label."""
    interview = {u.unit_id for u in ranking.interview_list}
    ranked = ranking.by_satisfaction if kind == "satisfaction" else ranking.by_on_time
    top, bottom = ends(ranked)
    bars = []
    for u in [*top, *bottom]:
        flag = "（约谈）" if u.unit_id in interview else ""
        if kind == "satisfaction":
            bars.append(
                Bar(
                    u.unit_name + flag,
                    u.satisfaction_rate,
                    f"第{u.satisfaction_rank}名/{len(ranked)} · {u.evaluations}条",
                    "#e65100" if flag else "#b71c1c",
                )
            )
        else:
            bars.append(
                Bar(
                    u.unit_name + flag,
                    u.on_time_rate,
                    f"第{u.on_time_rank}名/{len(ranked)} · {u.stages}件",
                    "#1565c0" if (u.on_time_rate or 0) >= 0.8 and not flag else "#e65100",
                )
            )
    return bars


def category_bars(figures: dict[str, Any]) -> list[Bar]:
    rows = [row for row in figures.get("by_category", []) if row["clues"]]
    total = sum(row["clues"] for row in rows) or 1
    return [
        Bar(row["label"], row["clues"] / total, f"{row['clues']} 件", "#6a1b9a")
        for row in sorted(rows, key=lambda row: row["clues"], reverse=True)
    ]


@dataclass(frozen=True)
class Exports:
    ledger: bool
    ranking: bool
    officers: bool


def _exports() -> Exports:
    role = current_staff().role
    return Exports(role in LEDGER_ROLES, role in RANKING_EXPORT_ROLES, role in OFFICER_ROLES)


@bp.get("/dashboard")
@console_view(*STATS_ROLES)  # the API's rule for the same figures
def dashboard() -> Response:
    start, end, problem = _period()
    root, unit_problem = _root()
    today = local_date()
    figures = overview(start=start, end=end, root=root)
    trend = period_trend(root, start, end)
    ranking = unit_ranking(start=start, end=end, root=root)
    step = trend["step"]
    charts = {
        "satisfaction": line_chart(
            trend["labels"], [trend["satisfaction"]], label=f"满意率（按{step}）"
        ),
        "on_time": line_chart(
            trend["labels"],
            [trend["on_time"], trend["rerating"]],
            label=f"按期办结率与回评满意率（按{step}）",
        ),
        "ranking_satisfaction": bar_chart(
            ranking_bars(ranking, "satisfaction"), label="各单位满意率排名（前后各 10 名）"
        ),
        "ranking_on_time": bar_chart(
            ranking_bars(ranking, "on_time"), label="各单位按期办结率排名（前后各 10 名）"
        ),
        "funnel": funnel_chart(funnel_steps(figures), label="线索办理漏斗"),
        "categories": bar_chart(category_bars(figures), label="线索类别构成"),
    }
    return page(
        "dashboard.html",
        figures=figures,
        charts=charts,
        ranking=ranking,
        bottom={
            "satisfaction": ranking.by_satisfaction[-5:][::-1],
            "on_time": ranking.by_on_time[-5:][::-1],
        },
        start=start,
        end=end,
        problem=problem or unit_problem,
        step=step,
        quick=quick_periods(today),
        percent=percent,
        root=root,
        parent=root.parent if root.id != current_staff().unit_id else None,
        units=scope_units(current_staff()),
        exports=_exports(),
    )


# ---------------------------------------------------------------- officers and files


@bp.get("/officers")
@console_view(*OFFICER_ROLES)
def officers() -> Response:
    """人员评价汇总 for the period and unit of the dashboard's choosing."""
    start, end, problem = _period()
    root, unit_problem = _root()
    rows = officer_summaries(
        start=start, end=end, root=root, recused_officer_id=current_staff().officer_id
    )
    return page(
        "officers.html",
        rows=rows,
        start=start,
        end=end,
        root=root,
        problem=problem or unit_problem,
        quick=quick_periods(local_date()),
    )


OFFICER_COLUMNS = [
    exports.Column("单位", 24),
    exports.Column("姓名", 10),
    exports.Column("警号/工号", 12),
    exports.Column("职务", 14),
    exports.Column("有效评价", 10, exports.INT),
    exports.Column("满意率", 10, exports.PERCENT),
    exports.Column("差评", 8, exports.INT),
    exports.Column("被反映线索", 10, exports.INT),
    exports.Column("查实", 8, exports.INT),
    exports.Column("查否", 8, exports.INT),
    exports.Column("核查中", 8, exports.INT),
]


@bp.get("/officers.xlsx")
@console_view(*OFFICER_ROLES)
def officers_export() -> Response:
    start, end, _ = _period()
    root, _ = _root()
    rows = officer_summaries(
        start=start, end=end, root=root, recused_officer_id=current_staff().officer_id
    )
    cells = [
        [
            r["unit"],
            r["name"],
            r["staff_no"],
            r["position"],
            r["evaluations"],
            r["satisfaction_rate"],
            r["bad_ratings"],
            r["clues_received"],
            r["substantiated"],
            r["unfounded"],
            r["under_verification"],
        ]
        for r in rows
    ]
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    exports.write_xlsx(spool, [("人员评价汇总", OFFICER_COLUMNS, cells)])
    spool.seek(0)
    name = f"人员评价汇总-{root.code}-{start:%Y%m%d}-{end:%Y%m%d}.xlsx"
    return send_file(spool, mimetype=XLSX, as_attachment=True, download_name=name, max_age=0)


@bp.get("/exports/ledger.xlsx")
@console_view(*LEDGER_ROLES)
def ledger_export() -> Response:
    """The 台账 of the chosen period and unit: the API's export, rules and audit included."""
    start, end, _ = _period()
    root, _ = _root()
    return stats_routes._ledger(PeriodQuery(from_=start, to=end, unit_id=root.id), "xlsx")


@bp.get("/exports/ranking.xlsx")
@console_view(*RANKING_EXPORT_ROLES)
def ranking_export() -> Response:
    """The ranking Excel of the week or month (?period=) containing the chosen end date."""
    _, end, _ = _period()
    root, _ = _root()
    period = Period.WEEK if request.args.get("period") == "week" else Period.MONTH
    query = RankingQuery(period=period, day=end, unit_id=root.id)
    return stats_routes._ranking_file(query, "xlsx")
