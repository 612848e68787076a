"""What the verifier's and the superior's desks add to their queues: reports sent back,
supervision letters waiting for this unit's answer, and batch approval of reports."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, request, url_for
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.org.models import Role, StaffAccount
from clues import queries
from clues.models import ReportDecision, VerificationReport
from clues.states import Action
from console.listing import run_batch
from console.web import bp, console_view, current_staff, safe_next, see_other
from notifications.letters import ANSWERABLE, letters_visible_to
from notifications.models import Letter


def returned_reports(clue_ids: list[int]) -> dict[int, VerificationReport]:
    """The clues among these whose latest report the superior sent back (to redo)."""
    return {
        clue_id: report
        for clue_id, report in queries.latest_reports(clue_ids).items()
        if report.decision == ReportDecision.RETURNED
    }


def letters_awaiting_answer(staff: StaffAccount) -> list[Letter]:
    """督办函 to units in scope that nobody has answered yet, the oldest deadline first."""
    return list(
        db.session.scalars(
            sa.select(Letter)
            .options(selectinload(Letter.unit))
            .where(
                letters_visible_to(staff),
                Letter.kind.in_(ANSWERABLE),
                Letter.responded_at.is_(None),
                Letter.unit_id.is_not(None),
            )
            .order_by(Letter.response_due_at.is_(None), Letter.response_due_at, Letter.id)
        )
    )


@bp.post("/review/batch")
@console_view(Role.SUPERIOR)
def review_batch() -> Response:
    """Approve the ticked reports (each through the catalogue, on its own)."""
    form = request.form
    back = safe_next(form.get("next"), url_for("console.review"))
    run_batch(current_staff(), Action.APPROVE, form)
    return see_other(back)
