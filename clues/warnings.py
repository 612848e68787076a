"""High-frequency warnings (高频线索预警), computed when a clue arrives.

The same officer or unit reported by several different residents within the window, or the
same resident reporting the same target again and again, raises a warning. It is shown to the
screener and kept for the reminder letter to the unit (issue 6).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from clues.models import Clue, ClueReporter, ClueWarning


def _already_warned(kind: str, clue: Clue, officer_id: int | None, since: datetime) -> bool:
    """One warning per target and kind per window: later clues don't repeat it."""
    return (
        db.session.scalar(
            sa.select(ClueWarning.id).where(
                ClueWarning.kind == kind,
                ClueWarning.unit_id == clue.unit_id,
                ClueWarning.officer_id.is_(None)
                if officer_id is None
                else ClueWarning.officer_id == officer_id,
                ClueWarning.created_at >= since,
            )
        )
        is not None
    )


def _reporters(target: sa.ColumnElement[bool], since: datetime) -> sa.Select:
    return (
        sa.select(ClueReporter.resident_id)
        .join(Clue, Clue.id == ClueReporter.clue_id)
        .where(target, Clue.submitted_at >= since, ClueReporter.resident_id.is_not(None))
    )


def raise_warnings(
    clue: Clue, *, reporter_resident_id: int | None, now: datetime
) -> list[ClueWarning]:
    """Warnings this clue raises (it is already flushed, so it counts itself)."""
    config = current_app.config
    window = config["WARNING_WINDOW_DAYS"]
    since = now - timedelta(days=window)
    targets: list[tuple[str, sa.ColumnElement[bool], int | None]] = [
        ("unit_reported", Clue.unit_id == clue.unit_id, None)
    ]
    if clue.officer_id is not None:
        targets.insert(0, ("officer_reported", Clue.officer_id == clue.officer_id, clue.officer_id))
    raised = []
    for kind, target, officer_id in targets:
        distinct = db.session.scalar(
            sa.select(sa.func.count()).select_from(_reporters(target, since).distinct().subquery())
        )
        if distinct >= config["WARNING_DISTINCT_REPORTERS"] and not _already_warned(
            kind, clue, officer_id, since
        ):
            raised.append(
                ClueWarning(
                    clue_id=clue.id,
                    kind=kind,
                    unit_id=clue.unit_id,
                    officer_id=officer_id,
                    count=distinct,
                    window_days=window,
                    created_at=now,
                )
            )
    if reporter_resident_id is not None:
        kind, target, officer_id = targets[0]
        repeats = db.session.scalar(
            sa.select(sa.func.count()).select_from(
                _reporters(target, since)
                .where(ClueReporter.resident_id == reporter_resident_id)
                .subquery()
            )
        )
        if repeats >= config["WARNING_REPEAT_REPORTS"] and not _already_warned(
            "repeat", clue, officer_id, since
        ):
            raised.append(
                ClueWarning(
                    clue_id=clue.id,
                    kind="repeat",
                    unit_id=clue.unit_id,
                    officer_id=officer_id,
                    count=repeats,
                    window_days=window,
                    created_at=now,
                )
            )
    db.session.add_all(raised)
    db.session.flush()
    return raised


def counted_clues(warning: ClueWarning) -> sa.Select[tuple[Clue]]:
    """The clues a warning counted: about its target within its window up to when it was
    raised; for a repeat warning, only those of the same reporter as the warning's clue."""
    target = (
        Clue.officer_id == warning.officer_id
        if warning.officer_id is not None
        else Clue.unit_id == warning.unit_id
    )
    stmt = sa.select(Clue).where(
        target,
        Clue.submitted_at >= warning.created_at - timedelta(days=warning.window_days),
        Clue.submitted_at <= warning.created_at,
    )
    if warning.kind == "repeat":
        reporter = (
            sa.select(ClueReporter.resident_id)
            .where(ClueReporter.clue_id == warning.clue_id)
            .scalar_subquery()
        )
        stmt = stmt.join(ClueReporter, ClueReporter.clue_id == Clue.id).where(
            ClueReporter.resident_id == reporter
        )
    return stmt.order_by(Clue.submitted_at, Clue.id)
