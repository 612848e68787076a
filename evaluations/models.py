"""Ratings and the idempotency keys that make their submission safe to retry."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import utcnow
from app.db import BigId, JSONType, db, str_enum
from app.enums import LabelledEnum
from app.org.models import Officer, Unit
from evaluations.identity import Channel


class EvaluationFlag(LabelledEnum):
    """Why a rating looks suspicious; kept in `Evaluation.flags`."""

    ALBUM_SCAN = "album_scan", "从相册识别二维码进入，而非现场扫码"
    BURST_SAME_NETWORK = "burst_same_network", "同一网络短时间内多次评价同一单位"
    BURST_CODE = "burst_code", "同一二维码短时间内评价数量异常"


class Evaluation(db.Model):
    """One rating of a unit (and maybe an officer) through one code. Never deleted: a
    suspicious rating is excluded from rankings with the reasons recorded in `flags`."""

    __tablename__ = "evaluations"
    __table_args__ = (
        sa.CheckConstraint("level BETWEEN 1 AND 5", name="level_range"),
        # One rating per resident per code per rating period (a day by default).
        sa.UniqueConstraint("resident_id", "qr_code_id", "period_start"),
        sa.Index("ix_evaluations_unit_created", "unit_id", "created_at"),
        sa.Index("ix_evaluations_code_created", "qr_code_id", "created_at"),
        # Statistics count ratings by time: with these columns PostgreSQL answers the
        # overview, rankings and officer summaries from the index alone (bench/stats.py).
        sa.Index(
            "ix_evaluations_stats", "created_at", "unit_id", "officer_id", "level", "is_excluded"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("residents.id"), index=True)
    qr_code_id: Mapped[int] = mapped_column(sa.ForeignKey("qr_codes.id"))
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"))
    officer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("officers.id"), index=True)
    questionnaire_id: Mapped[int] = mapped_column(sa.ForeignKey("questionnaires.id"))
    level: Mapped[int] = mapped_column(sa.SmallInteger)
    dimensions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reasons: Mapped[list[str]] = mapped_column(JSONType, default=list)
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "channel"))
    entry_scene: Mapped[int | None]
    scanned_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    local_day: Mapped[date]
    # First day of the rating period this rating uses up; NULL when the limit is switched off.
    period_start: Mapped[date | None]
    # Keyed hash of the client's network (IPv4 address, IPv6 /64): enough to spot bursts,
    # not enough to find anyone.
    client_hash: Mapped[str] = mapped_column(sa.String(64), default="")
    flags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    is_excluded: Mapped[bool] = mapped_column(default=False)

    unit: Mapped[Unit] = relationship()
    officer: Mapped[Officer | None] = relationship()

    @property
    def is_bad(self) -> bool:
        return self.level <= 2


class IdempotencyKey(db.Model):
    """A client's Idempotency-Key, claimed in the transaction of the write it protects."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("resident_id", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("residents.id"))
    key: Mapped[str] = mapped_column(sa.String(100))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int]
    response: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
