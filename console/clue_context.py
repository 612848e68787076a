"""What the clue page shows around a clue: the rating that carried it (level, reasons,
comment, the window), the reporters' re-ratings after closure, and for each warning the
clues it counted (those the reader may see)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.org.models import StaffAccount
from clues import queries
from clues.models import Clue, ClueWarning, ReratingInvitation, ReratingStatus
from clues.warnings import counted_clues
from console.web import beijing_date, beijing_time
from evaluations.models import Evaluation
from evaluations.questionnaire import BAD_LEVELS, LEVELS
from qr.models import QRCode

MAX_LINKED = 20


@dataclass(frozen=True)
class Rating:
    level: int
    level_label: str
    is_bad: bool
    reasons: list[str]
    comment: str
    window: str
    at: str


@dataclass(frozen=True)
class Rerating:
    level: int
    level_label: str
    resolved: bool | None
    comment: str
    at: str


def _when(moment: datetime, staff: StaffAccount, clue: Clue) -> str:
    """A resident's moment as the reader may know it: to the minute, or the day only."""
    if queries.knows_the_minute(clue, staff):
        return beijing_time(moment)
    return beijing_date(moment)


def carrying_rating(clue: Clue, staff: StaffAccount) -> Rating | None:
    """The rating a clue came from (a bad rating with a complaint), timed as the reader may
    know it."""
    if clue.evaluation_id is None:
        return None
    row = db.session.execute(
        sa.select(Evaluation, QRCode.label)
        .join(QRCode, QRCode.id == Evaluation.qr_code_id)
        .where(Evaluation.id == clue.evaluation_id)
    ).first()
    if row is None:
        return None
    rating, window = row
    return Rating(
        level=rating.level,
        level_label=LEVELS.get(rating.level, str(rating.level)),
        is_bad=rating.level in BAD_LEVELS,
        reasons=list(rating.reasons or []),
        comment=rating.comment,
        window=window or "",
        at=_when(rating.created_at, staff, clue),
    )


def reratings(clue: Clue, staff: StaffAccount) -> list[Rerating]:
    """The reporters' answers after closure, oldest first (no one's identity)."""
    rows = db.session.scalars(
        sa.select(ReratingInvitation)
        .where(
            ReratingInvitation.clue_id == clue.id,
            ReratingInvitation.status == ReratingStatus.RATED,
            ReratingInvitation.level.is_not(None),
        )
        .order_by(ReratingInvitation.rated_at)
    )
    return [
        Rerating(
            level=row.level,
            level_label=LEVELS.get(row.level, str(row.level)),
            resolved=row.resolved,
            comment=row.comment,
            at=_when(row.rated_at, staff, clue),
        )
        for row in rows
        if row.level is not None and row.rated_at is not None
    ]


def linked_clues(
    warnings: list[ClueWarning], clue: Clue, staff: StaffAccount
) -> dict[int, list[Clue]]:
    """For each warning, the other clues it counted that `staff` may see."""
    visible = queries.visible(staff)
    return {
        warning.id: list(
            db.session.scalars(
                counted_clues(warning).where(visible, Clue.id != clue.id).limit(MAX_LINKED)
            )
        )
        for warning in warnings
    }
