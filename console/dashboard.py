"""The dashboard: the period's figures (stats.overview), weekly trends of satisfaction and
on-time handling, the unit ranking (stats.ranking) and the clue funnel, as inline SVG.

Every figure comes from the statistics module; this page only arranges and draws them.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Response, current_app, request

from app.clock import local_date
from app.schemas import FIRST_DAY, LAST_DAY
from console.charts import Bar, Series, Step, bar_chart, funnel_chart, line_chart
from console.web import bp, console_view, current_staff, page, percent
from stats.overview import overview
from stats.ranking import Period, period_containing, unit_ranking
from stats.routes import STATS_ROLES

MAX_RANKED_BARS = 20
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


def weekly_trend(root: Any, weeks: int, today: date) -> dict[str, Any]:
    """Satisfaction and on-time rate of each of the last `weeks` Monday–Sunday weeks."""
    first_monday = period_containing(Period.WEEK, today)[0] - timedelta(weeks=weeks - 1)
    labels, figures = [], []
    for n in range(weeks):
        start = first_monday + timedelta(weeks=n)
        figures.append(overview(start=start, end=min(start + timedelta(days=6), today), root=root))
        labels.append(f"{start.month}/{start.day}")
    return {
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


@bp.get("/dashboard")
@console_view(*STATS_ROLES)  # the API's rule for the same figures
def dashboard() -> Response:
    root = current_staff().unit
    start, end, problem = _period()
    today = local_date()
    figures = overview(start=start, end=end, root=root)
    weeks = int(current_app.config.get("CONSOLE_TREND_WEEKS", 12))
    trend = weekly_trend(root, weeks, today)
    ranking = unit_ranking(start=start, end=end, root=root)
    satisfaction_bars = [
        Bar(u.unit_name, u.satisfaction_rate, f"第{u.satisfaction_rank}名 · {u.evaluations}条")
        for u in ranking.by_satisfaction[:MAX_RANKED_BARS]
    ]
    on_time_bars = [
        Bar(
            u.unit_name,
            u.on_time_rate,
            f"第{u.on_time_rank}名 · {u.stages}件",
            "#1565c0" if (u.on_time_rate or 0) >= 0.8 else "#e65100",
        )
        for u in ranking.by_on_time[:MAX_RANKED_BARS]
    ]
    charts = {
        "satisfaction": line_chart(
            trend["labels"], [trend["satisfaction"]], label=f"近 {weeks} 周满意率"
        ),
        "on_time": line_chart(
            trend["labels"],
            [trend["on_time"], trend["rerating"]],
            label=f"近 {weeks} 周按期办结率与回评满意率",
        ),
        "ranking_satisfaction": bar_chart(satisfaction_bars, label="各单位满意率排名"),
        "ranking_on_time": bar_chart(on_time_bars, label="各单位按期办结率排名"),
        "funnel": funnel_chart(funnel_steps(figures), label="线索办理漏斗"),
    }
    return page(
        "dashboard.html",
        figures=figures,
        charts=charts,
        ranking=ranking,
        start=start,
        end=end,
        problem=problem,
        weeks=weeks,
        quick=quick_periods(today),
        percent=percent,
        root=root,
    )
