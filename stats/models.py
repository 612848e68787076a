"""What statistics keep: the daily brief as it was reported."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.db import db


class DailyBrief(db.Model):
    """每日要情 of one day, kept as issued (每日一汇总、每日一上报): later changes to the
    clues it counted do not rewrite what was reported that morning."""

    __tablename__ = "daily_briefs"

    day: Mapped[date] = mapped_column(primary_key=True)
    content: Mapped[dict[str, Any]]
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
