"""Where clues come from: a rating that carries one, or a resident reporting directly."""

from __future__ import annotations

from typing import Any

from app.errors import ApiError
from app.extensions import db
from app.org.models import Officer, Unit
from clues.models import Clue, ClueSource
from clues.service import ReporterIn, file_clue, public_summary
from evaluations.identity import ResidentIdentity
from evaluations.models import Evaluation
from evaluations.schemas import ClueIn
from qr.service import resolve_token


def _officer(unit_id: int, officer_id: int | None) -> Officer | None:
    if officer_id is None:
        return None
    officer = db.session.get(Officer, officer_id)
    if officer is None or officer.unit_id != unit_id:
        raise ApiError(
            422,
            "validation_error",
            "该人员不属于被反映的单位",
            {"fields": {"officer_id": ["该人员不属于被反映的单位"]}},
        )
    return officer


def take_clue_from_evaluation(
    evaluation: Evaluation, *, clue: ClueIn, **_: object
) -> dict[str, Any]:
    """Receiver of `evaluation_submitted`: file the clue a rating carries."""
    filed = file_clue(
        source=ClueSource.EVALUATION,
        category=clue.category,
        unit=db.session.get(Unit, evaluation.unit_id),
        officer=_officer(evaluation.unit_id, clue.officer_id or evaluation.officer_id),
        description=clue.description,
        evaluation_id=evaluation.id,
        reporter=ReporterIn(evaluation.resident_id, clue.identity, clue.phone),
        now=evaluation.created_at,
    )
    return public_summary(filed)


def file_clue_for_code(*, resident: ResidentIdentity, qr_token: str, clue: ClueIn) -> Clue:
    """A resident reporting without rating: the scanned code says which unit."""
    code = resolve_token(qr_token)
    return file_clue(
        source=ClueSource.DIRECT,
        category=clue.category,
        unit=code.unit,
        officer=_officer(code.unit_id, clue.officer_id or code.officer_id),
        description=clue.description,
        reporter=ReporterIn(resident.id, clue.identity, clue.phone),
    )
