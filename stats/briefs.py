"""每日要情: the daily brief (每日一汇总、每日一上报) issued at 08:30 on working days.

It covers the days since the previous working day's brief (Monday's covers Friday to Sunday,
the first day after a holiday the whole holiday): ratings, new clues by category,
high-frequency warnings, the bad ratings sent for 差评整改, and everything overdue at the
moment of issue, over every deadline-bound stage kind registered with the deadline sweep.

The city's brief is stored as issued and put in the inbox of the staff at the root; any
staff member of a statistics role may read it (or the one of their own subtree, composed
when asked) as JSON or PDF. Counts only: a brief names no clue, reporter or time of day.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from apscheduler.triggers.cron import CronTrigger

from app.clock import LOCAL_TZ, local_date, utcnow
from app.db import upsert_insert
from app.deadlines import STAGE_KINDS
from app.extensions import db
from app.jobs import job
from app.org.models import Role, Unit, root_unit, subtree_ids
from app.workdays import WorkingCalendar, load_calendar
from clues.models import ClueWarning, WarningKind
from clues.practice_models import BadRatingRectification
from evaluations.models import Evaluation
from notifications.inbox import notify_staff
from notifications.letters import issuer_name
from notifications.pdf import ReportSection, ReportTable, render_report_pdf
from notifications.scheduler import schedule
from notifications.wording import chinese_date, render_titled
from stats.measures import BAD, SATISFIED, count_if, counted_ratings, period_bounds, rate
from stats.models import DailyBrief
from stats.practices import clues_by_category, unit_names

BRIEF_READERS = (Role.SCREENER, Role.SUPERIOR, Role.ANALYST, Role.ADMIN)
LOOKBACK_DAYS = 31  # a holiday longer than this is not a holiday


def brief_period(day: date, calendar: WorkingCalendar) -> tuple[date, date]:
    """The days the brief issued on `day` covers: from the previous working day to the eve."""
    start = day - timedelta(days=1)
    for back in range(1, LOOKBACK_DAYS + 1):
        start = day - timedelta(days=back)
        if calendar.is_working_day(start):
            break
    return start, day - timedelta(days=1)


def _overdue(now: datetime, units: Any) -> dict[str, Any]:
    """Items overdue at `now`, per registered stage kind and per unit."""
    kinds, per_unit = [], {}
    for spec in STAGE_KINDS.values():
        items = spec.open_items(now).subquery()
        rows = db.session.execute(
            sa.select(items.c.unit_id, sa.func.count())
            .where(items.c.due_at < now, items.c.unit_id.in_(units))
            .group_by(items.c.unit_id)
        ).all()
        count = sum(n for _, n in rows)
        if count:
            kinds.append({"kind": spec.kind.value, "label": spec.label, "count": count})
        for unit_id, n in rows:
            per_unit[unit_id] = per_unit.get(unit_id, 0) + n
    names = unit_names(per_unit)
    worst = sorted(per_unit.items(), key=lambda item: (-item[1], item[0]))[:10]
    return {
        "total": sum(k["count"] for k in kinds),
        "by_kind": kinds,
        "units": [{"unit_id": uid, "unit": names.get(uid, ""), "count": n} for uid, n in worst],
    }


def compose_brief(*, day: date, root: Unit, now: datetime | None = None) -> dict[str, Any]:
    """The brief issued on `day` for `root`'s subtree, overdue items as of `now`."""
    now = now or utcnow()
    start, end = brief_period(day, load_calendar())
    since, until = period_bounds(start, end)
    units = subtree_ids(root)
    evaluations, satisfied, bad = (
        int(v)
        for v in db.session.execute(
            sa.select(sa.func.count(), count_if(SATISFIED), count_if(BAD)).where(
                counted_ratings(since, until), Evaluation.unit_id.in_(units)
            )
        ).one()
    )
    by_category = clues_by_category(start=start, end=end, units=units)
    warnings = dict(
        db.session.execute(
            sa.select(ClueWarning.kind, sa.func.count())
            .where(ClueWarning.created_at.between(since, until), ClueWarning.unit_id.in_(units))
            .group_by(ClueWarning.kind)
        ).all()
    )
    to_rectify = db.session.scalar(
        sa.select(sa.func.count()).where(
            BadRatingRectification.opened_at.between(since, until),
            BadRatingRectification.unit_id.in_(units),
        )
    )
    return {
        "day": day.isoformat(),
        "start": start.isoformat(),
        "end": end.isoformat(),
        "unit": {"id": root.id, "name": root.name},
        "ratings": {
            "evaluations": evaluations,
            "satisfied": satisfied,
            "satisfaction_rate": rate(satisfied, evaluations),
            "bad_ratings": bad,
            "to_rectify": int(to_rectify or 0),
        },
        "clues": {
            "received": sum(row["clues"] for row in by_category),
            "by_category": [row for row in by_category if row["clues"]],
        },
        "warnings": {
            "total": sum(warnings.values()),
            "by_kind": [
                {"kind": kind.value, "label": kind.label, "count": int(warnings[kind])}
                for kind in WarningKind
                if warnings.get(kind)
            ],
        },
        "overdue": _overdue(now, units),
    }


def stored_brief(day: date) -> DailyBrief | None:
    return db.session.get(DailyBrief, day)


def brief_for(*, day: date, unit: Unit) -> dict[str, Any]:
    """The city's brief of `day` as issued (when it was), else composed for `unit` now."""
    if unit.parent_id is None:
        stored = stored_brief(day)
        if stored is not None:
            return {**stored.content, "issued_at": stored.issued_at.isoformat()}
    return {**compose_brief(day=day, root=unit), "issued_at": None}


@job("daily_brief", "每日要情：工作日 8:30 汇总上一工作日以来的评价、线索、预警和逾期事项")
def daily_brief(now: datetime | None = None) -> dict[str, Any]:
    """Issue today's brief once, on working days only, and put it in the root's inboxes."""
    now = now or utcnow()
    day = local_date(now)
    root = root_unit()
    if root is None or not load_calendar().is_working_day(day):
        return {"issued": 0}
    content = compose_brief(day=day, root=root, now=now)
    inserted = db.session.execute(
        upsert_insert(DailyBrief)
        .values(day=day, content=content, issued_at=now)
        .on_conflict_do_nothing(index_elements=["day"])
        .returning(DailyBrief.day)
    ).first()
    if inserted is None:
        return {"issued": 0}
    title, body = render_titled("inbox/daily_brief.txt", brief=content, day=day)
    told = notify_staff(
        roles=BRIEF_READERS,
        unit=root,
        kind="daily_brief",
        title=title,
        body=body,
        dedupe_key=f"brief:{day.isoformat()}",
    )
    return {"issued": 1, "inbox_items": told}


schedule("daily_brief", CronTrigger(hour=8, minute=30, timezone=LOCAL_TZ))


# ---------------------------------------------------------------- PDF


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _issued_at(brief: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(brief["issued_at"]) if brief.get("issued_at") else utcnow()


def brief_pdf(brief: dict[str, Any]) -> bytes:
    """The brief as an A4 PDF (notifications/pdf.py's layout and font)."""
    day, start, end = (date.fromisoformat(brief[key]) for key in ("day", "start", "end"))
    ratings, clues = brief["ratings"], brief["clues"]
    warnings, overdue = brief["warnings"], brief["overdue"]
    covered = chinese_date(start) if start == end else f"{chinese_date(start)}至{chinese_date(end)}"
    sections = [
        ReportSection(
            "　　一、群众评价",
            [
                f"　　有效评价 {ratings['evaluations']} 条，满意率 "
                f"{_percent(ratings['satisfaction_rate'])}；差评 {ratings['bad_ratings']} 条，"
                f"其中 {ratings['to_rectify']} 条不带线索，已交所在单位核实整改。"
            ],
        ),
        ReportSection(
            "　　二、问题线索",
            [f"　　新收到问题线索 {clues['received']} 件。"],
            ReportTable(
                ["类别", "件数"],
                [[row["label"], str(row["clues"])] for row in clues["by_category"]],
                (100, 56),
                ("LEFT", "CENTER"),
            )
            if clues["by_category"]
            else None,
        ),
        ReportSection(
            "　　三、高频线索预警",
            [
                f"　　新增预警 {warnings['total']} 条"
                + (
                    "：" + "，".join(f"{w['label']} {w['count']} 条" for w in warnings["by_kind"])
                    if warnings["by_kind"]
                    else ""
                )
                + "。"
            ],
        ),
        ReportSection(
            "　　四、逾期事项",
            [f"　　截至报告时逾期未办 {overdue['total']} 项。"],
            ReportTable(
                ["环节", "逾期（项）"],
                [[row["label"], str(row["count"])] for row in overdue["by_kind"]],
                (116, 40),
                ("LEFT", "CENTER"),
            )
            if overdue["total"]
            else None,
        ),
    ]
    if overdue["units"]:
        sections.append(
            ReportSection(
                "　　五、逾期事项最多的单位",
                table=ReportTable(
                    ["单位", "逾期（项）"],
                    [[row["unit"], str(row["count"])] for row in overdue["units"]],
                    (116, 40),
                    ("LEFT", "CENTER"),
                ),
            )
        )
    return render_report_pdf(
        title=f"每日要情（{chinese_date(day)}）",
        subtitle=f"{brief['unit']['name']}　统计范围：{covered}",
        issuer=issuer_name(),
        sections=sections,
        issued_at=datetime.fromisoformat(brief["issued_at"])
        if brief.get("issued_at")
        else utcnow(),
    )
