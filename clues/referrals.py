"""Referral of substantiated misconduct to the discipline-inspection liaison (纪检联络员).

The referral carries a sealed dossier: the case history and the SHA-256 of every piece of
evidence, hashed as a whole, so later tampering with the record shows. The liaison receives
the case and concludes it (persons handled, measures); every step is on the audit trail.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from apiflask import APIBlueprint
from flask import current_app
from pydantic import Field, StrictInt, StringConstraints

from app import signals
from app.audit import record_audit
from app.auth import current_staff, staff_required
from app.clock import utcnow
from app.errors import Conflict, IllegalTransition, NotFound, NotPermitted
from app.extensions import db
from app.org.models import Role, StaffAccount
from app.schemas import Page, PageQuery, Schema
from app.workdays import load_calendar
from clues.models import (
    Clue,
    ClueEvent,
    CluePhoto,
    Outcome,
    Referral,
    ReferralStatus,
    VerificationReport,
)
from clues.service import (
    actor_of,
    apply_transition,
    check_state,
    conflicted,
    ensure,
    ensure_visible,
    unconflicted,
    visible_to,
)
from clues.states import Action


def _dossier(clue: Clue) -> dict[str, Any]:
    """The case as it stands: facts, reports, the event trail, evidence hashes."""
    events = db.session.scalars(
        sa.select(ClueEvent).where(ClueEvent.clue_id == clue.id).order_by(ClueEvent.id)
    )
    reports = db.session.scalars(
        sa.select(VerificationReport)
        .where(VerificationReport.clue_id == clue.id)
        .order_by(VerificationReport.id)
    )
    photos = db.session.scalars(
        sa.select(CluePhoto).where(CluePhoto.clue_id == clue.id).order_by(CluePhoto.id)
    )
    return {
        "clue": {
            "tracking_no": clue.tracking_no,
            "category": clue.category.value,
            "unit": clue.unit.name,
            "unit_id": clue.unit_id,
            "officer": (
                {
                    "id": clue.officer.id,
                    "name": clue.officer.name,
                    "staff_no": clue.officer.staff_no,
                }
                if clue.officer
                else None
            ),
            "description": clue.description,
            "outcome": clue.outcome.value if clue.outcome else None,
            "persons_handled": clue.persons_handled,
            "submitted_at": clue.submitted_at.isoformat(),
            "closed_at": clue.closed_at.isoformat() if clue.closed_at else None,
        },
        "reports": [
            {
                "outcome": r.outcome.value,
                "findings": r.findings,
                "measures": r.measures,
                "persons_handled": r.persons_handled,
                "decision": r.decision,
                "submitted_at": r.submitted_at.isoformat(),
            }
            for r in reports
        ],
        "events": [
            {
                "at": e.created_at.isoformat(),
                "action": e.action,
                "role": e.role,
                "from": e.from_status,
                "to": e.to_status,
                "note": e.note,
            }
            for e in events
        ],
        "evidence": [{"photo_id": p.id, "sha256": p.sha256} for p in photos],
    }


def seal(dossier: dict[str, Any]) -> str:
    """SHA-256 of the dossier in canonical JSON."""
    canonical = json.dumps(dossier, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def referral_refusal(clue: Clue) -> Conflict | None:
    """Only a substantiated (or partly) outcome involving misconduct is referred, once."""
    if (
        clue.outcome not in (Outcome.SUBSTANTIATED, Outcome.PARTLY_SUBSTANTIATED)
        or not clue.involves_misconduct
    ):
        return Conflict(
            "只有查实且涉及违纪违规的线索可以移交纪检",
            code="not_referable",
            details={"outcome": clue.outcome.value if clue.outcome else None},
        )
    if db.session.scalar(sa.select(Referral.id).where(Referral.clue_id == clue.id)):
        return Conflict("该线索已移交纪检", code="already_referred")
    return None


def refer_clue(clue: Clue, *, staff: StaffAccount, note: str = "") -> Referral:
    """移交纪检: only a substantiated (or partly) outcome involving misconduct, once."""
    actor = actor_of(staff, clue)
    check_state(clue, Action.REFER, actor)
    ensure(referral_refusal(clue))
    apply_transition(clue, Action.REFER, actor, note=note)
    dossier = _dossier(clue)
    now = utcnow()
    referral = Referral(
        clue_id=clue.id,
        dossier=dossier,
        dossier_sha256=seal(dossier),
        note=note,
        referred_by=staff.id,
        referred_at=now,
        receive_due_at=_referral_deadline(now, "referral_receipt"),
    )
    db.session.add(referral)
    db.session.flush()
    record_audit(
        "referral.create",
        object_type="referral",
        object_id=referral.id,
        unit_id=clue.unit_id,
        details={"clue_id": clue.id, "dossier_sha256": referral.dossier_sha256},
    )
    signals.referral_changed.send(referral, action="referred")
    return referral


def get_referral(referral_id: int) -> Referral:
    referral = db.session.get(Referral, referral_id)
    if referral is None:
        raise NotFound("移交记录不存在", details={"id": referral_id})
    return referral


# The referral's own transition table: (status, step) → (new status, refusal message when the
# status is another). Receipt comes first, the conclusion after it, each once.
REFERRAL_TRANSITIONS: dict[tuple[ReferralStatus, str], ReferralStatus] = {
    (ReferralStatus.PENDING, "receive"): ReferralStatus.RECEIVED,
    (ReferralStatus.RECEIVED, "conclude"): ReferralStatus.CONCLUDED,
}
_REFERRAL_REFUSALS = {"receive": "该移交已签收", "conclude": "请先签收再办结"}


def _advance_referral(referral: Referral, step: str, staff: StaffAccount) -> None:
    """Move the referral through its table, stamping who and when, or refuse."""
    target = REFERRAL_TRANSITIONS.get((referral.status, step))
    if target is None:
        raise IllegalTransition(_REFERRAL_REFUSALS[step], details={"status": referral.status.value})
    referral.status = target
    setattr(referral, f"{target.value}_by", staff.id)
    setattr(referral, f"{target.value}_at", utcnow())


def _referral_deadline(start: datetime, step: str) -> datetime:
    """The end of the liaison's working-day deadline for `step`, counted from `start`."""
    return load_calendar().deadline(start, int(current_app.config["CLUE_DEADLINE_DAYS"][step]))


def receive_referral(referral: Referral, *, staff: StaffAccount) -> Referral:
    """签收: the liaison acknowledges the case; the conclusion's deadline starts."""
    _advance_referral(referral, "receive", staff)
    assert referral.received_at is not None
    referral.conclude_due_at = _referral_deadline(referral.received_at, "referral_conclusion")
    db.session.flush()
    record_audit(
        "referral.receive",
        object_type="referral",
        object_id=referral.id,
        unit_id=referral.clue.unit_id,
    )
    signals.referral_changed.send(referral, action="received")
    return referral


def conclude_referral(
    referral: Referral, *, staff: StaffAccount, persons_handled: int, measures: str
) -> Referral:
    """办结: the people handled and the measures taken."""
    _advance_referral(referral, "conclude", staff)
    referral.persons_handled, referral.measures = persons_handled, measures
    db.session.flush()
    record_audit(
        "referral.conclude",
        object_type="referral",
        object_id=referral.id,
        unit_id=referral.clue.unit_id,
        details={"persons_handled": persons_handled, "measures": measures},
    )
    signals.referral_changed.send(referral, action="concluded")
    return referral


# ---------------------------------------------------------------- the liaison's inbox

bp = APIBlueprint("referrals", __name__, url_prefix="/api/v1", tag="纪检移交")


class ReferralOut(Schema):
    id: int
    clue_id: int
    tracking_no: str
    status: ReferralStatus
    dossier: dict
    dossier_sha256: str
    seal_intact: bool = Field(description="卷宗与封存时的 SHA-256 是否一致")
    note: str
    referred_at: datetime
    received_at: datetime | None
    concluded_at: datetime | None
    persons_handled: int | None
    measures: str


class ReferralQuery(PageQuery):
    status: ReferralStatus | None = None


class ReferralPage(Page):
    items: list[ReferralOut]


class ConcludeIn(Schema):
    persons_handled: StrictInt = Field(ge=0, le=1000, description="处理人数")
    measures: Annotated[str, StringConstraints(min_length=1, max_length=5000)] = Field(
        description="处理措施"
    )


def _body(referral: Referral) -> dict[str, Any]:
    return {
        **{
            c: getattr(referral, c)
            for c in (
                "id",
                "clue_id",
                "status",
                "dossier",
                "dossier_sha256",
                "note",
                "referred_at",
                "received_at",
                "concluded_at",
                "persons_handled",
                "measures",
            )
        },
        "tracking_no": referral.clue.tracking_no,
        "seal_intact": seal(referral.dossier) == referral.dossier_sha256,
    }


def _audit_read(referral: Referral) -> None:
    record_audit(
        "referral.read",
        object_type="referral",
        object_id=referral.id,
        unit_id=referral.clue.unit_id,
    )


def referrals_visible_to(staff: StaffAccount) -> sa.Select:
    """The referrals `staff` may read: in scope, never the accused's own case, and not
    dossiers about the reader's own unit or one above it (`conflicted`)."""
    return (
        sa.select(Referral)
        .join(Clue, Clue.id == Referral.clue_id)
        .where(visible_to(staff), unconflicted(staff))
    )


def ensure_referral_readable(staff: StaffAccount, referral: Referral) -> None:
    """OutOfScope / NotPermitted unless `staff` may read this referral's dossier."""
    ensure_visible(staff, referral.clue)
    if conflicted(referral.clue, staff):
        raise NotPermitted(
            "您所在单位是被反映单位或其下级，不能查看该移交卷宗", code="referral_conflict"
        )


def read_referral(referral_id: int, *, staff: StaffAccount) -> Referral:
    """The referral with its dossier for `staff`, if readable; the read goes on the trail."""
    referral = get_referral(referral_id)
    ensure_referral_readable(staff, referral)
    _audit_read(referral)
    return referral


def _visible_referral(referral_id: int, **_: object) -> None:
    """Scope of /referrals/{id}: see ensure_referral_readable."""
    ensure_referral_readable(current_staff(), get_referral(referral_id))


@bp.get("/referrals")
@staff_required(Role.LIAISON, Role.ADMIN)
@bp.input(ReferralQuery, location="query", arg_name="query")
@bp.output(ReferralPage)
def list_referrals(query: ReferralQuery):
    """纪检联络员的移交案件"""
    stmt = referrals_visible_to(current_staff())
    if query.status is not None:
        stmt = stmt.where(Referral.status == query.status)
    page = db.paginate(
        stmt.order_by(Referral.id.desc()), page=query.page, per_page=query.per_page, error_out=False
    )
    for referral in page.items:  # the list carries the dossiers: each read is on the trail
        _audit_read(referral)
    db.session.commit()
    return {
        "items": [_body(r) for r in page.items],
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
    }


@bp.get("/referrals/<int:referral_id>")
@staff_required(Role.LIAISON, Role.ADMIN, scope=_visible_referral)
@bp.output(ReferralOut)
def show_referral(referral_id: int):
    """移交卷宗（含封存校验）"""
    referral = get_referral(referral_id)
    _audit_read(referral)
    db.session.commit()
    return _body(referral)


@bp.post("/referrals/<int:referral_id>/receive")
@staff_required(Role.LIAISON, scope=_visible_referral)
@bp.output(ReferralOut)
@bp.doc(responses={409: "已签收过"})
def receive(referral_id: int):
    """签收移交的案件"""
    referral = receive_referral(get_referral(referral_id), staff=current_staff())
    db.session.commit()
    return _body(referral)


@bp.post("/referrals/<int:referral_id>/conclude")
@staff_required(Role.LIAISON, scope=_visible_referral)
@bp.input(ConcludeIn, arg_name="body")
@bp.output(ReferralOut)
@bp.doc(responses={409: "尚未签收，或已办结"})
def conclude(referral_id: int, body: ConcludeIn):
    """办结：处理人数和措施"""
    referral = conclude_referral(
        get_referral(referral_id),
        staff=current_staff(),
        persons_handled=body.persons_handled,
        measures=body.measures,
    )
    db.session.commit()
    return _body(referral)
