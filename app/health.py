"""Liveness and database check."""

from __future__ import annotations

import sqlalchemy as sa
from apiflask import APIBlueprint
from pydantic import Field
from sqlalchemy.exc import SQLAlchemyError

from app.errors import ApiError
from app.extensions import db
from app.schemas import Schema
from app.workdays import calendar_status

bp = APIBlueprint("health", __name__, tag="运行状态")


class CalendarHealth(Schema):
    ok: bool = Field(description="期限可能落入的年份都已载入法定节假日安排")
    known_years: list[int]
    missing_years: list[int]
    message: str


class HealthOut(Schema):
    status: str
    database: str
    calendar: CalendarHealth = Field(description="工作日历：缺少某年放假安排时给出提示")


@bp.get("/healthz")
@bp.output(HealthOut)
def healthz():
    """服务与数据库是否可用"""
    try:
        db.session.execute(sa.text("SELECT 1"))
        db.session.rollback()
    except SQLAlchemyError as exc:
        db.session.rollback()
        raise ApiError(
            503, "database_unavailable", "数据库不可用", {"database": db.engine.dialect.name}
        ) from exc
    calendar = calendar_status()
    return {
        "status": "ok",
        "database": db.engine.dialect.name,
        "calendar": {**vars(calendar), "ok": calendar.ok, "message": calendar.message},
    }
