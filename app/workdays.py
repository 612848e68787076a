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
from flask import g, has_app_context
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
    """Working days as the calendar table says, falling back to Monday–Friday."""

    overrides: dict[date, bool]

    def is_working_day(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        return day.weekday() < 5

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
    rows = db.session.execute(sa.select(CalendarDay.day, CalendarDay.is_working)).all()
    calendar = WorkingCalendar({row.day: row.is_working for row in rows})
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
    return {
        "start": query.start,
        "days": query.days,
        "result": load_calendar().add_working_days(query.start, query.days),
    }


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
