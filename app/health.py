"""Liveness and database check."""

from __future__ import annotations

import sqlalchemy as sa
from apiflask import APIBlueprint
from sqlalchemy.exc import SQLAlchemyError

from app.errors import ApiError
from app.extensions import db
from app.schemas import Schema

bp = APIBlueprint("health", __name__, tag="运行状态")


class HealthOut(Schema):
    status: str
    database: str


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
    return {"status": "ok", "database": db.engine.dialect.name}
