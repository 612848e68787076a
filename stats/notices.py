"""The weekly and monthly notices (通报): this package's ranking, issued as a letter to every
unit through notifications, and scheduled jobs of their own (stats sits above notifications,
so it registers them there instead of notifications reaching up for them)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from apscheduler.triggers.cron import CronTrigger

from app.clock import LOCAL_TZ, local_date, utcnow
from app.extensions import db
from app.jobs import job
from app.org.models import Role, root_unit
from app.workdays import load_calendar
from notifications.inbox import notify_staff
from notifications.letters import LetterSpec, compose_letter, issue_letters, signature
from notifications.models import Letter, LetterKind
from notifications.scheduler import schedule
from notifications.wording import render
from stats.measures import rate
from stats.practices import targets
from stats.ranking import Ranking, UnitFigures, unit_ranking
from stats.topics import topics

NOTICE_READERS = (Role.SCREENER, Role.SUPERIOR, Role.ANALYST, Role.ADMIN)


def _row(unit: UnitFigures) -> dict[str, Any]:
    return {
        "unit_id": unit.unit_id,
        "unit": unit.unit_name,
        "evaluations": unit.evaluations,
        "satisfaction_rate": unit.satisfaction_rate,
        "stages": unit.stages,
        "on_time_rate": unit.on_time_rate,
        "satisfaction_rank": unit.satisfaction_rank,
        "on_time_rank": unit.on_time_rank,
        "reasons": unit.interview_reasons,
    }


def _totals(ranking: Ranking) -> dict[str, float | None]:
    """The rates of all ranked units together, to set beside the targets."""
    units = ranking.units
    return {
        "satisfaction_rate": rate(
            sum(u.satisfied for u in units), sum(u.evaluations for u in units)
        ),
        "on_time_rate": rate(sum(u.on_time for u in units), sum(u.stages for u in units)),
    }


def _topics(start: date, end: date) -> dict[str, Any] | None:
    """专题分析 of the month for the whole tree (the monthly notice's fifth part)."""
    root = root_unit()
    if root is None:
        return None
    found = topics(start=start, end=end, root=root)
    return {"terms": found["terms"][:10], "by_category": found["by_category"]}


def compose_notice(
    ranking: Ranking, *, period: str, key: str, start: date, end: date, now: datetime
) -> LetterSpec:
    """The notice letter: its wording from the template, the tables as its content."""
    content = {
        "period": period,
        "targets": targets(),
        "totals": _totals(ranking),
        "min_evaluations": ranking.min_evaluations,
        "units": [_row(u) for u in ranking.units],
        "min_stages": ranking.min_stages,
        "by_satisfaction": [_row(u) for u in ranking.by_satisfaction],
        "by_on_time": [_row(u) for u in ranking.by_on_time],
        "red_list": [_row(u) for u in ranking.red_list],
        "interview_list": [_row(u) for u in ranking.interview_list],
    }
    if period == "monthly":
        content["topics"] = _topics(start, end)
    context = {
        "targets": content["targets"],
        "totals": content["totals"],
        "period": period,
        "start": start,
        "end": end,
        "red_list": ranking.red_list,
        "interview_list": ranking.interview_list,
        "min_evaluations": ranking.min_evaluations,
        "min_stages": ranking.min_stages,
    }
    return compose_letter(
        "letters/notice.txt",
        context,
        signature(now),
        dedupe_key=key,
        unit_id=None,
        content=content,
        period_start=start,
        period_end=end,
    )


def issue_notice(*, period: str, key: str, start: date, end: date, now: datetime) -> dict:
    """Issue the notice for start..end once (its cause is `key`) and tell the staff above."""
    ranking = unit_ranking(start=start, end=end)
    spec = compose_notice(ranking, period=period, key=key, start=start, end=end, now=now)
    letters = issue_letters(LetterKind.NOTICE, [spec], now=now)
    root = root_unit()
    if letters and root is not None:
        notify_staff(
            roles=NOTICE_READERS,
            unit=root,
            kind="letter_notice",
            title=render("inbox/letter_notice.txt", serial=letters[0].serial, title=spec.title),
            letter_id=letters[0].id,
            dedupe_key=f"letter:{letters[0].id}",
        )
    return {"issued": len(letters), "interview": len(ranking.interview_list)}


def _not_issued(key: str) -> bool:
    return db.session.scalar(sa.select(Letter.id).where(Letter.dedupe_key == key)) is None


@job("weekly_notice", "每周通报（上周一至周日；周一放假则顺延到下一个工作日）")
def weekly_notice(now: datetime | None = None) -> dict[str, Any]:
    """The notice for the last complete Monday–Sunday week (Beijing time), issued on the
    first working day from Monday on. A week whose working days were all holidays (春节)
    hands its notice on: the first working day after issues both."""
    now = now or utcnow()
    today = local_date(now)
    calendar = load_calendar()
    this_monday = today - timedelta(days=today.weekday())
    issued = {"issued": 0, "interview": 0}
    for monday in (this_monday - timedelta(weeks=1), this_monday):
        issue_on = calendar.first_working_day(monday)
        if issue_on > today or (monday < this_monday and issue_on < this_monday):
            continue  # not yet; or the earlier week's notice went out in its own week
        start, end = monday - timedelta(days=7), monday - timedelta(days=1)
        year, week, _ = start.isocalendar()
        key = f"notice:weekly:{year}-W{week:02d}"
        if _not_issued(key):
            done = issue_notice(period="weekly", key=key, start=start, end=end, now=now)
            issued = {name: issued[name] + done[name] for name in issued}
    return issued


@job("monthly_notice", "每月通报（上一个自然月；1 日放假则顺延到下一个工作日）")
def monthly_notice(now: datetime | None = None) -> dict[str, Any]:
    """The notice for the last complete calendar month, on the month's first working day."""
    now = now or utcnow()
    today = local_date(now)
    first_of_this = today.replace(day=1)
    end = first_of_this - timedelta(days=1)
    start = end.replace(day=1)
    key = f"notice:monthly:{start:%Y-%m}"
    if load_calendar().first_working_day(first_of_this) > today or not _not_issued(key):
        return {"issued": 0, "interview": 0}
    return issue_notice(period="monthly", key=key, start=start, end=end, now=now)


# Daily: the jobs themselves know whether today is the day (the first working day).
schedule("weekly_notice", CronTrigger(hour=9, minute=0, timezone=LOCAL_TZ))
schedule("monthly_notice", CronTrigger(hour=9, minute=5, timezone=LOCAL_TZ))
