"""Where clues come from: a rating that carries one, or a resident reporting directly."""

from __future__ import annotations

from app.errors import Invalid
from app.extensions import db
from app.org.models import Officer, Unit
from clues.models import Clue, ClueSource
from clues.service import ReporterIn, file_clue, public_summary
from evaluations.identity import ResidentIdentity
from evaluations.schemas import ClueIn, EvaluationIn
from evaluations.service import (
    RecordedRating,
    Submission,
    record_evaluation,
    remember_submission,
    replay_submission,
)
from qr.service import resolve_token


def _officer(unit_id: int, officer_id: int | None) -> Officer | None:
    if officer_id is None:
        return None
    officer = db.session.get(Officer, officer_id)
    if officer is None or officer.unit_id != unit_id:
        raise Invalid({"officer_id": "该人员不属于被反映的单位"}, "该人员不属于被反映的单位")
    return officer


def submit_rating(
    *,
    resident: ResidentIdentity,
    body: EvaluationIn,
    client_addr: str,
    idempotency_key: str | None = None,
) -> Submission:
    """Record a rating and file the clue it carries, in one transaction; a retry with the
    same Idempotency-Key and body gets the first answer again."""
    if idempotency_key:
        replay = replay_submission(resident=resident, idempotency_key=idempotency_key, body=body)
        if replay is not None:
            return replay
    rating = record_evaluation(
        resident=resident,
        body=body,
        client_addr=client_addr,
        alone=body.clue is None and not idempotency_key,
    )
    clue = None if body.clue is None else file_clue_from_rating(rating, clue=body.clue)
    answer = {"id": rating.id, "clue": public_summary(clue) if clue is not None else None}
    if idempotency_key:
        remember_submission(
            resident=resident, idempotency_key=idempotency_key, body=body, answer=answer
        )
    return Submission(answer)


def file_clue_from_rating(rating: RecordedRating, *, clue: ClueIn) -> Clue:
    """File the clue a rating carries, against the rating's unit (and officer)."""
    return file_clue(
        source=ClueSource.EVALUATION,
        category=clue.category,
        unit=db.session.get(Unit, rating.unit_id),
        officer=_officer(rating.unit_id, clue.officer_id or rating.officer_id),
        description=clue.description,
        evaluation_id=rating.id,
        reporter=ReporterIn(rating.resident_id, clue.identity, clue.phone, clue.sms_consent),
        now=rating.created_at,
    )


def file_clue_for_code(*, resident: ResidentIdentity, qr_token: str, clue: ClueIn) -> Clue:
    """A resident reporting without rating: the scanned code says which unit."""
    code = resolve_token(qr_token)
    return file_clue(
        source=ClueSource.DIRECT,
        category=clue.category,
        unit=code.unit,
        officer=_officer(code.unit_id, clue.officer_id or code.officer_id),
        description=clue.description,
        reporter=ReporterIn(resident.id, clue.identity, clue.phone, clue.sms_consent),
    )
