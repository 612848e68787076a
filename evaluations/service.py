"""Rating submission and its integrity rules, all enforced here on the server.

A rating that carries a clue is one request: clues.intake.submit_rating records the rating
here and files the clue in the same transaction (the clues package sits above this one).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from app.clock import local_date, utcnow
from app.crypto import hash_identity
from app.db import UTCDateTime
from app.errors import Conflict, Invalid, NotPermitted
from app.extensions import db
from app.org.models import Officer, StaffAccount, Unit, UnitKind
from app.ratelimit import client_network
from evaluations.identity import Channel, Resident, ResidentIdentity
from evaluations.models import Evaluation, EvaluationFlag, IdempotencyKey
from evaluations.questionnaire import QuestionnaireVersion, current_questionnaire
from evaluations.rollups import insert_rating, rating_is_one_statement
from evaluations.schemas import EvaluationIn
from qr.service import resolve_token

# WeChat entry scenes for a code recognised from a photo in the album rather than scanned live.
ALBUM_SCENES = frozenset({1013, 1049})


@dataclass(frozen=True)
class Submission:
    """The answer to a rating request: a fresh one, or the first one replayed."""

    body: dict[str, Any]
    replayed: bool = False


@dataclass(frozen=True)
class RecordedRating:
    """A rating just recorded: what the clue it carries is filed against."""

    id: int
    resident_id: int
    unit_id: int
    officer_id: int | None
    created_at: datetime


class IdempotencyKeyReused(Invalid):
    """The Idempotency-Key was already used for a request with another body."""

    code = "idempotency_key_reused"


def _field_error(field: str, message: str) -> Invalid:
    return Invalid({field: message}, details={"location": "json"})


# ---------------------------------------------------------------- idempotency


def _request_hash(body: EvaluationIn) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def replay_submission(
    *, resident: ResidentIdentity, idempotency_key: str, body: EvaluationIn
) -> Submission | None:
    """The first answer to a finished request with this key; refuses another body with the
    same key, or a twin still in flight.

    PostgreSQL: a transaction-scoped advisory lock on (resident, key) marks the request in
    flight; a concurrent twin fails to take it and gets 409. SQLite: write transactions are
    serial (BEGIN IMMEDIATE), so the twin waits and then finds the stored answer.
    """
    key = idempotency_key
    if db.engine.dialect.name == "postgresql":
        digest = hashlib.sha256(f"idem:{resident.id}:{key}".encode()).digest()
        lock_id = int.from_bytes(digest[:8], "big", signed=True)
        if not db.session.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(lock_id))):
            raise Conflict(
                "相同 Idempotency-Key 的请求正在处理中，请稍后重试", code="idempotency_in_flight"
            )
    stored = db.session.scalar(
        sa.select(IdempotencyKey).where(
            IdempotencyKey.resident_id == resident.id, IdempotencyKey.key == key
        )
    )
    if stored is None:
        return None
    if stored.request_hash != _request_hash(body):
        raise IdempotencyKeyReused(
            {},
            "Idempotency-Key 已用于另一个不同的请求，请换一个新的键",
            details={"key": key},
        )
    return Submission(stored.response, replayed=True)


def remember_submission(
    *, resident: ResidentIdentity, idempotency_key: str, body: EvaluationIn, answer: dict
) -> None:
    """Keep the answer, so a retry with the same key and body gets it again."""
    db.session.add(
        IdempotencyKey(
            resident_id=resident.id,
            key=idempotency_key,
            request_hash=_request_hash(body),
            # The column predates Submission: every first answer is a creation.
            status_code=201,
            response=answer,
        )
    )
    db.session.flush()


# ---------------------------------------------------------------- the rules


def rating_period_start(day: date) -> date | None:
    """First day of the rating period containing `day` (None: no limit configured)."""
    days = current_app.config["EVALUATION_PERIOD_DAYS"]
    if days <= 0:
        return None
    return date.fromordinal(day.toordinal() - day.toordinal() % days)


def _officer_for(code: ScannedCode, officer_id: int | None, field: str) -> int | None:
    """The officer a rating or clue concerns: the code's own, or one named from its unit."""
    if officer_id is None:
        return code.officer_id
    officer = db.session.get(Officer, officer_id)
    if officer is None or officer.unit_id != code.unit_id or not officer.is_active:
        raise _field_error(field, "该人员不属于被评价的单位")
    if code.officer_id is not None and officer.id != code.officer_id:
        raise _field_error(field, "人员码只能评价码上的人员")
    return officer.id


def _check_answers(body: EvaluationIn, questionnaire: QuestionnaireVersion) -> None:
    unknown = set(body.dimensions or {}) - questionnaire.dimension_keys
    if unknown:
        raise _field_error("dimensions", f"问卷中没有这些维度：{'、'.join(sorted(unknown))}")
    allowed = set(questionnaire.reasons_for(body.level))
    wrong = [reason for reason in body.reasons or [] if reason not in allowed]
    if wrong:
        raise _field_error("reasons", f"这些原因不适用于所选等级：{'、'.join(wrong)}")


def _refuse_own_unit(resident: ResidentIdentity, unit_path: str) -> None:
    """Staff who bound their WeChat cannot rate their own unit (or one under it)."""
    if resident.channel is not Channel.WECHAT:
        return
    staff_unit_path = db.session.scalar(
        sa.select(Unit.path)
        .join(StaffAccount, StaffAccount.unit_id == Unit.id)
        .join(Resident, Resident.identity_hash == StaffAccount.openid_hash)
        .where(Resident.id == resident.id, StaffAccount.is_active)
    )
    if staff_unit_path is not None and unit_path.startswith(staff_unit_path):
        raise NotPermitted("工作人员不能评价本单位", code="own_unit")


@dataclass(frozen=True)
class ScannedCode:
    """What the rating needs to know about the scanned code, read in one round trip."""

    id: int
    unit_id: int
    officer_id: int | None
    unit_kind: UnitKind
    unit_path: str
    same_network: int  # ratings of this unit from this network within the burst window
    on_code: int  # ratings through this code within the last minute


# The hot path of every rating: the code, its unit and both burst counts in one statement
# (a prebuilt text statement also skips SQLAlchemy's per-call statement building).
_SCAN = sa.text("""
    SELECT c.id, c.unit_id, c.officer_id, u.kind AS unit_kind, u.path AS unit_path,
           (SELECT count(*) FROM evaluations e
             WHERE e.unit_id = c.unit_id AND e.client_hash = :client_hash
               AND e.created_at >= :window_start) AS same_network,
           (SELECT count(*) FROM evaluations e
             WHERE e.qr_code_id = c.id AND e.created_at >= :minute_ago) AS on_code
      FROM qr_codes c JOIN units u ON u.id = c.unit_id
     WHERE c.token = :token AND c.status = 'active'
""").bindparams(
    sa.bindparam("window_start", type_=UTCDateTime()),
    sa.bindparam("minute_ago", type_=UTCDateTime()),
)


def _scan(token: str, *, client_hash: str, now: datetime) -> ScannedCode:
    window = timedelta(seconds=current_app.config["BURST_WINDOW_SECONDS"])
    row = (
        db.session.connection()
        .execute(
            _SCAN,
            {
                "token": token,
                "client_hash": client_hash,
                "window_start": now - window,
                "minute_ago": now - timedelta(minutes=1),
            },
        )
        .first()
    )
    if row is None:
        resolve_token(token)  # answers 404 or 410 (with the unit's current code)
        raise AssertionError("an active code was not found")  # pragma: no cover
    return ScannedCode(
        row.id,
        row.unit_id,
        row.officer_id,
        UnitKind(row.unit_kind),
        row.unit_path,
        row.same_network,
        row.on_code,
    )


def _flags(code: ScannedCode, scene: int | None) -> list[str]:
    config = current_app.config
    flags = []
    if scene in ALBUM_SCENES:
        flags.append(EvaluationFlag.ALBUM_SCAN)
    if code.same_network >= config["BURST_SAME_NETWORK_LIMIT"]:
        flags.append(EvaluationFlag.BURST_SAME_NETWORK)
    if code.on_code >= config["BURST_CODE_PER_MINUTE"]:
        flags.append(EvaluationFlag.BURST_CODE)
    return flags


# ---------------------------------------------------------------- submission


def record_evaluation(
    *, resident: ResidentIdentity, body: EvaluationIn, client_addr: str, alone: bool = False
) -> RecordedRating:
    """Record a rating under every integrity rule (its clue's officer is checked too).

    `alone`: nothing else is written in this request. Where the rating and its rollups are
    one statement (`rating_is_one_statement`), atomic by itself, and the reads before it
    hold no locks (a transaction at READ COMMITTED would not keep them true either: the
    unique constraint is what stops a second rating), each statement commits on its own and
    the database is spared the round trips of BEGIN and COMMIT.
    """
    if (
        alone
        and rating_is_one_statement(db.engine.dialect.name)
        and not db.session().in_transaction()
    ):
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    now = utcnow()
    # By network, not address: one IPv6 subscriber rates from a whole /64. (The "addr" domain
    # is kept, so an IPv4 address hashes as it always did.)
    client_hash = hash_identity("addr", client_network(client_addr))
    code = _scan(body.qr_token, client_hash=client_hash, now=now)
    _refuse_own_unit(resident, code.unit_path)
    questionnaire = current_questionnaire(code.unit_kind)
    _check_answers(body, questionnaire)
    officer_id = _officer_for(code, body.officer_id, "officer_id")
    if body.clue is not None:
        _officer_for(code, body.clue.officer_id, "clue.officer_id")

    today = local_date(now)
    period_start = rating_period_start(today)
    flags = _flags(code, body.scene)
    values = dict(
        resident_id=resident.id,
        qr_code_id=code.id,
        unit_id=code.unit_id,
        officer_id=officer_id,
        questionnaire_id=questionnaire.id,
        level=body.level,
        dimensions=body.dimensions or {},
        reasons=body.reasons or [],
        comment=body.comment or "",
        channel=resident.channel,
        entry_scene=body.scene,
        scanned_at=(
            datetime.fromtimestamp(body.scancode_time, UTC) if body.scancode_time else None
        ),
        created_at=now,
        local_day=today,
        period_start=period_start,
        client_hash=client_hash,
        flags=flags,
        is_excluded=bool(flags),
    )
    try:
        # The unique (resident, code, period) constraint is the one-rating rule: no read
        # first, so twin requests cannot both pass it.
        evaluation_id = insert_rating(db.session.connection(), values)
    except IntegrityError as exc:
        raise _already_rated(period_start) from exc

    return RecordedRating(evaluation_id, resident.id, code.unit_id, officer_id, now)


def _already_rated(period_start: date | None) -> Conflict:
    days = current_app.config["EVALUATION_PERIOD_DAYS"]
    next_day = period_start + timedelta(days=days) if period_start else None
    return Conflict(
        "您已评价过该二维码，感谢您的参与",
        code="already_rated",
        details={"next_allowed_on": next_day.isoformat() if next_day else None},
    )


def rated_this_period(*, resident_id: int, qr_code_id: int, day: date | None = None) -> bool:
    """Whether the resident already rated through this code in the current rating period
    (the page then says so before the form is filled, not after)."""
    period_start = rating_period_start(day or local_date(utcnow()))
    if period_start is None:
        return False
    return (
        db.session.scalar(
            sa.select(Evaluation.id).where(
                Evaluation.resident_id == resident_id,
                Evaluation.qr_code_id == qr_code_id,
                Evaluation.period_start == period_start,
            )
        )
        is not None
    )


def residents_ratings(resident_id: int, *, limit: int = 50) -> list[Evaluation]:
    """A resident's latest ratings, newest first."""
    return list(
        db.session.scalars(
            sa.select(Evaluation)
            .where(Evaluation.resident_id == resident_id)
            .order_by(Evaluation.id.desc())
            .limit(limit)
        )
    )
