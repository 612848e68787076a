"""Clue figures for /metrics: open stages past their deadline, by stage."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from prometheus_client.core import Metric

from app.clock import utcnow
from app.extensions import db
from app.metrics import gauge, state_metrics
from clues.models import ClueStage, Stage


@state_metrics
def overdue_metrics() -> Iterable[Metric]:
    """Open stages whose deadline has passed, by stage (screening, verification, …)."""
    overdue = {stage.value: 0.0 for stage in Stage}
    rows = db.session.execute(
        sa.select(ClueStage.stage, sa.func.count())
        .where(ClueStage.finished_at.is_(None), ClueStage.due_at < utcnow())
        .group_by(ClueStage.stage)
    )
    for stage, count in rows:
        overdue[stage.value] = count
    yield gauge(
        "pingyi_clue_stages_overdue", "Open stages past their deadline, by stage", "stage", overdue
    )
