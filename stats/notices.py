"""The weekly and monthly notices (通报): this package's ranking, issued as a letter to every
unit through notifications, and scheduled jobs of their own (stats sits above notifications,
so it registers them there instead of notifications reaching up for them)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from app.clock import LOCAL_TZ, local_date, utcnow
from app.jobs import job
from app.org.models import Role, root_unit
from notifications.inbox import notify_staff
from notifications.letters import LetterSpec, compose_letter, issue_letters, signature
from notifications.models import LetterKind
from notifications.scheduler import schedule
from notifications.wording import render
from stats.ranking import Ranking, UnitFigures, unit_ranking

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


def compose_notice(
    ranking: Ranking, *, period: str, key: str, start: date, end: date, now: datetime
) -> LetterSpec:
    """The notice letter: its wording from the template, the tables as its content."""
    content = {
        "period": period,
        "min_evaluations": ranking.min_evaluations,
        "units": [_row(u) for u in ranking.units],
        "min_stages": ranking.min_stages,
        "by_satisfaction": [_row(u) for u in ranking.by_satisfaction],
        "by_on_time": [_row(u) for u in ranking.by_on_time],
        "red_list": [_row(u) for u in ranking.red_list],
        "interview_list": [_row(u) for u in ranking.interview_list],
    }
    context = {
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


@job("weekly_notice", "每周通报（上周一至周日）")
def weekly_notice(now: datetime | None = None) -> dict[str, Any]:
    """The notice for the last complete Monday–Sunday week (Beijing time)."""
    now = now or utcnow()
    today = local_date(now)
    end = today - timedelta(days=today.weekday() + 1)
    start = end - timedelta(days=6)
    year, week, _ = start.isocalendar()
    return issue_notice(
        period="weekly", key=f"notice:weekly:{year}-W{week:02d}", start=start, end=end, now=now
    )


@job("monthly_notice", "每月通报（上一个自然月）")
def monthly_notice(now: datetime | None = None) -> dict[str, Any]:
    """The notice for the last complete calendar month."""
    now = now or utcnow()
    first_of_this = local_date(now).replace(day=1)
    end = first_of_this - timedelta(days=1)
    start = end.replace(day=1)
    return issue_notice(
        period="monthly", key=f"notice:monthly:{start:%Y-%m}", start=start, end=end, now=now
    )


schedule("weekly_notice", CronTrigger(day_of_week="mon", hour=9, minute=0, timezone=LOCAL_TZ))
schedule("monthly_notice", CronTrigger(day=1, hour=9, minute=0, timezone=LOCAL_TZ))
