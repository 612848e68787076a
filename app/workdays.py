"""The working-day calendar: weekends, public holidays and adjusted working days (调休).

Days that differ from the weekday rule are rows of `calendar_days`, seeded with the State
Council's published schedules (app/data/holidays/<year>.json) and editable by admins.
Deadlines are counted in working days with `WorkingCalendar.add_working_days`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from apiflask import APIBlueprint
from flask import current_app, g, has_app_context
from pydantic import Field
from sqlalchemy.orm import Mapped, mapped_column

from app.audit import record_audit
from app.auth import staff_required
from app.clock import local_date, local_day_end, utcnow
from app.db import db
from app.errors import ApiError
from app.org.models import Role
from app.schemas import Day, Schema

SCHEDULES_DIR = Path(__file__).resolve().parent / "data" / "holidays"


class CalendarDay(db.Model):
    """A day that differs from the weekday rule: a holiday or an adjusted working day."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    is_working: Mapped[bool]
    name: Mapped[str] = mapped_column(sa.String(50))
    source: Mapped[str] = mapped_column(sa.String(16), default="official")  # official | admin
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days as the calendar table says, falling back to Monday–Friday. `years` are
    those whose official schedule is loaded: beyond them a date may still be a holiday."""

    overrides: dict[date, bool]
    years: frozenset[int] = frozenset()

    def covers(self, day: date | datetime) -> bool:
        """Whether the official schedule of `day`'s year is loaded (a deadline there is sure)."""
        when = local_date(day) if isinstance(day, datetime) else day
        return when.year in self.years

    def is_working_day(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        return day.weekday() < 5

    def first_working_day(self, day: date) -> date:
        """`day` itself if it is a working day, else the next one."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def add_working_days(self, start: date, days: int) -> date:
        """The date `days` working days after `start` (not counting `start`)."""
        if days < 0:
            raise ValueError("days must be >= 0")
        current = start
        remaining = days
        while remaining:
            current += timedelta(days=1)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """How many working days fall in (start, end]; negative when end is before start."""
        if end < start:
            return -self.working_days_between(end, start)
        return sum(
            1
            for offset in range(1, (end - start).days + 1)
            if self.is_working_day(start + timedelta(days=offset))
        )

    def deadline(self, start: datetime, days: int) -> datetime:
        """End (23:59:59 Asia/Shanghai) of the working day `days` after `start`, in UTC."""
        return local_day_end(self.add_working_days(local_date(start), days))


def load_calendar() -> WorkingCalendar:
    """The calendar, read once per request or job."""
    if has_app_context() and "working_calendar" in g:
        return g.working_calendar
    rows = db.session.execute(
        sa.select(CalendarDay.day, CalendarDay.is_working, CalendarDay.source)
    ).all()
    calendar = WorkingCalendar(
        {row.day: row.is_working for row in rows},
        frozenset(row.day.year for row in rows if row.source == "official"),
    )
    if has_app_context():
        g.working_calendar = calendar
    return calendar


def _in_year(year: int) -> sa.ColumnElement[bool]:
    return CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31))


def special_days(year: int) -> list[CalendarDay]:
    """The holidays and adjusted working days of `year`, in date order."""
    return list(
        db.session.scalars(sa.select(CalendarDay).where(_in_year(year)).order_by(CalendarDay.day))
    )


def _forget_cached_calendar() -> None:
    if has_app_context():
        g.pop("working_calendar", None)


# ---------------------------------------------------------------- official schedules


def schedule_days(schedule: dict[str, Any]) -> list[dict[str, Any]]:
    """Expand a published schedule (holiday ranges, adjusted working days) into day rows."""
    rows = []
    for holiday in schedule["holidays"]:
        day, last = date.fromisoformat(holiday["from"]), date.fromisoformat(holiday["to"])
        while day <= last:
            rows.append({"day": day, "is_working": False, "name": holiday["name"]})
            day += timedelta(days=1)
    for workday in schedule["workdays"]:
        rows.append(
            {
                "day": date.fromisoformat(workday["date"]),
                "is_working": True,
                "name": workday["name"],
            }
        )
    return rows


def load_schedule(schedule: dict[str, Any]) -> int:
    """Write a published schedule into the calendar, replacing that year's official rows.

    Days an admin has edited are kept as the admin left them.
    """
    year = int(schedule["year"])
    rows = schedule_days(schedule)
    if any(row["day"].year != year for row in rows):
        raise ApiError(422, "validation_error", f"日程中有不属于 {year} 年的日期")
    admin_days = set(
        db.session.scalars(
            sa.select(CalendarDay.day).where(CalendarDay.source == "admin", _in_year(year))
        )
    )
    db.session.execute(
        sa.delete(CalendarDay).where(CalendarDay.source == "official", _in_year(year))
    )
    new_rows = [row for row in rows if row["day"] not in admin_days]
    db.session.add_all(CalendarDay(source="official", **row) for row in new_rows)
    db.session.flush()
    _forget_cached_calendar()
    record_audit(
        "calendar.load_schedule",
        object_type="calendar",
        object_id=year,
        unit_id=None,
        details={"source": schedule.get("source", ""), "days": len(new_rows)},
    )
    return len(new_rows)


@dataclass(frozen=True)
class CalendarStatus:
    """Which years' official schedules are loaded, and what is missing that deadlines may
    already reach (this year, or the coming one within CALENDAR_LOOKAHEAD_DAYS of it)."""

    known_years: list[int]
    missing_years: list[int]

    @property
    def ok(self) -> bool:
        return not self.missing_years

    @property
    def message(self) -> str:
        """The warning shown on the console and in /healthz ("" when nothing is missing)."""
        if self.ok:
            return ""
        years = "、".join(f"{year} 年" for year in self.missing_years)
        return (
            f"尚未载入 {years}的法定节假日安排，落在这些年份的期限可能算错。"
            "请管理员载入国务院办公厅公布的放假安排（flask --app run calendar load，"
            "或 POST /api/v1/calendar/schedules）。"
        )


def calendar_status(now: datetime | None = None) -> CalendarStatus:
    """The calendar's coverage at `now` (for /healthz and the console banner)."""
    today = local_date(now or utcnow())
    known = load_calendar().years
    lookahead = int(current_app.config.get("CALENDAR_LOOKAHEAD_DAYS", 60))
    needed = {today.year}
    if (today + timedelta(days=lookahead)).year > today.year:
        needed.add(today.year + 1)
    return CalendarStatus(sorted(known), sorted(needed - known))


def calendar_warning() -> str:
    """The console banner's text: "" unless a year deadlines may reach is not loaded."""
    return calendar_status().message


def read_schedule_file(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def load_official_schedules() -> int:
    """Load every schedule shipped in app/data/holidays."""
    return sum(
        load_schedule(read_schedule_file(path)) for path in sorted(SCHEDULES_DIR.glob("*.json"))
    )


# ---------------------------------------------------------------- admin API

bp = APIBlueprint("calendar", __name__, url_prefix="/api/v1", tag="工作日历")


class CalendarQuery(Schema):
    year: int = Field(ge=2000, le=2100)


class CalendarDayOut(Schema):
    day: date
    is_working: bool
    name: str
    source: str


class CalendarOut(Schema):
    year: int
    days: list[CalendarDayOut] = Field(description="与“周一至周五上班”规则不同的日子")
    working_days: int = Field(description="全年工作日天数")


class CalendarDayIn(Schema):
    is_working: bool
    name: str = Field(min_length=1, max_length=50)


class WorkingDaysQuery(Schema):
    start: Day
    days: int = Field(ge=0, le=365)


class WorkingDaysOut(Schema):
    start: date
    days: int
    result: date
    beyond_known_years: bool = Field(
        description="结果落在尚未载入法定节假日安排的年份：按周一至周五推算，可能不准"
    )


class HolidayRangeIn(Schema):
    name: str = Field(min_length=1, max_length=50, description="如“春节”")
    start: Day = Field(alias="from", description="放假第一天")
    end: Day = Field(alias="to", description="放假最后一天")


class AdjustedWorkdayIn(Schema):
    name: str = Field(min_length=1, max_length=50, description="如“春节调休上班”")
    date: Day


class ScheduleIn(Schema):
    """国务院办公厅公布的某年放假安排（与 app/data/holidays/<年>.json 同一格式）。"""

    year: int = Field(ge=2000, le=2100)
    source: str = Field("", max_length=200, description="出处，如通知名称和日期")
    holidays: list[HolidayRangeIn] = Field(min_length=1, max_length=30)
    workdays: list[AdjustedWorkdayIn] = Field(default_factory=list, max_length=30)


class ScheduleOut(Schema):
    year: int
    days: int = Field(description="写入的节假日与调休上班日天数")


class CalendarStatusOut(Schema):
    ok: bool
    known_years: list[int] = Field(description="已载入官方放假安排的年份")
    missing_years: list[int] = Field(description="期限可能落入、但尚未载入安排的年份")
    message: str


@bp.get("/calendar")
@staff_required()
@bp.input(CalendarQuery, location="query", arg_name="query")
@bp.output(CalendarOut)
def get_calendar(query: CalendarQuery):
    """某年的节假日与调休上班日"""
    rows = special_days(query.year)
    calendar = load_calendar()
    first = date(query.year, 1, 1)
    working = calendar.working_days_between(first - timedelta(days=1), date(query.year, 12, 31))
    return {"year": query.year, "days": rows, "working_days": working}


@bp.get("/calendar/add-working-days")
@staff_required()
@bp.input(WorkingDaysQuery, location="query", arg_name="query")
@bp.output(WorkingDaysOut)
def add_working_days_view(query: WorkingDaysQuery):
    """计算某日之后第 N 个工作日（用于核对期限）"""
    calendar = load_calendar()
    result = calendar.add_working_days(query.start, query.days)
    return {
        "start": query.start,
        "days": query.days,
        "result": result,
        "beyond_known_years": not calendar.covers(result),
    }


@bp.get("/calendar/status")
@staff_required()
@bp.output(CalendarStatusOut)
def get_calendar_status():
    """已载入哪些年份的放假安排，缺哪一年"""
    status = calendar_status()
    return {**vars(status), "ok": status.ok, "message": status.message}


@bp.post("/calendar/schedules")
@staff_required(Role.ADMIN)
@bp.input(ScheduleIn, arg_name="body")
@bp.output(ScheduleOut, status_code=201)
@bp.doc(responses={422: "日程格式不对，或有不属于该年份的日期"})
def post_schedule(body: ScheduleIn):
    """载入某年的官方放假安排（管理员；覆盖该年原有的官方安排，保留管理员单独改过的日子）"""
    for index, holiday in enumerate(body.holidays):
        if holiday.end < holiday.start:
            message = "放假最后一天不能早于第一天"
            raise ApiError(
                422,
                "validation_error",
                message,
                {"location": "json", "fields": {f"holidays.{index}.to": [message]}},
            )
    days = load_schedule(body.model_dump(mode="json", by_alias=True))
    db.session.commit()
    return {"year": body.year, "days": days}


@bp.put("/calendar/<day>")
@staff_required(Role.ADMIN)
@bp.input(CalendarDayIn, arg_name="body")
@bp.output(CalendarDayOut)
def set_calendar_day(day: str, body: CalendarDayIn):
    """设置某日为放假或上班（管理员）"""
    when = _parse_day(day)
    row = db.session.get(CalendarDay, when)
    before = {"is_working": row.is_working, "name": row.name} if row else None
    if row is None:
        row = CalendarDay(day=when, is_working=body.is_working, name=body.name, source="admin")
        db.session.add(row)
    else:
        row.is_working, row.name, row.source = body.is_working, body.name, "admin"
    db.session.flush()
    _forget_cached_calendar()
    record_audit(
        "calendar.set_day",
        object_type="calendar",
        object_id=when.isoformat(),
        unit_id=None,
        details={"before": before, "after": {"is_working": body.is_working, "name": body.name}},
    )
    db.session.commit()
    return row


@bp.delete("/calendar/<day>")
@staff_required(Role.ADMIN)
@bp.output({}, status_code=204)
@bp.doc(responses={404: "该日期没有特别设置", 422: "日期格式不对"})
def reset_calendar_day(day: str):
    """恢复某日为按星期计算（管理员）"""
    when = _parse_day(day)
    row = db.session.get(CalendarDay, when)
    if row is None:
        raise ApiError(404, "not_found", "该日期没有特别设置", {"day": day})
    record_audit(
        "calendar.reset_day",
        object_type="calendar",
        object_id=when.isoformat(),
        unit_id=None,
        details={"before": {"is_working": row.is_working, "name": row.name, "source": row.source}},
    )
    db.session.delete(row)
    db.session.commit()
    return ""


def _parse_day(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        message = "日期格式应为 YYYY-MM-DD"
        raise ApiError(
            422, "validation_error", message, {"location": "path", "fields": {"day": [message]}}
        ) from exc
