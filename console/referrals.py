"""The liaison's referrals (纪检移交): a compact list with what is late, and a page per
referral with its sealed dossier, where the case is received and concluded."""

from __future__ import annotations

from datetime import datetime

from flask import Response, flash, request, url_for
from werkzeug.datastructures import MultiDict

from app.clock import utcnow
from app.errors import ApiError, DomainError, status_of
from app.extensions import db
from app.org.models import Role
from clues.models import Outcome, Referral, ReferralStatus
from clues.referrals import (
    ConcludeIn,
    conclude_referral,
    ensure_referral_readable,
    get_referral,
    read_referral,
    receive_referral,
    referrals_visible_to,
    seal,
)
from clues.states import Action
from console.forms import FormError, api_error_fields, describe, parse
from console.web import bp, console_view, current_staff, page, page_number, see_other
from evaluations.questionnaire import ClueCategory

PER_PAGE = 50


def current_due(referral: Referral) -> datetime | None:
    """The deadline of the step the referral waits for (receiving, then concluding)."""
    if referral.status is ReferralStatus.PENDING:
        return referral.receive_due_at
    if referral.status is ReferralStatus.RECEIVED:
        return referral.conclude_due_at
    return None


@bp.get("/referrals")
@console_view(Role.LIAISON, Role.ADMIN)
def referrals() -> Response:
    """One dense row a referral, open ones first, late ones marked; the dossier on its page."""
    stmt = referrals_visible_to(current_staff())
    wanted = request.args.get("status", "")
    if wanted in {s.value for s in ReferralStatus}:
        stmt = stmt.where(Referral.status == ReferralStatus(wanted))
    listing = db.paginate(
        stmt.order_by(Referral.status == ReferralStatus.CONCLUDED, Referral.id.desc()),
        page=page_number(),
        per_page=PER_PAGE,
        error_out=False,
    )
    now = utcnow()
    return page(
        "referrals.html",
        listing=listing,
        wanted=wanted,
        statuses=list(ReferralStatus),
        current_due=current_due,
        late={r.id for r in listing.items if (current_due(r) or now) < now},
    )


def _referral_page(
    referral: Referral,
    status: int = 200,
    *,
    errors: dict[str, str] | None = None,
    values: MultiDict[str, str] | None = None,
) -> Response:
    staff = current_staff()
    return page(
        "referral.html",
        status,
        referral=referral,
        dossier=referral.dossier,
        intact=seal(referral.dossier) == referral.dossier_sha256,
        due_at=current_due(referral),
        may_act=staff.role is Role.LIAISON,
        errors=errors or {},
        error_lines=describe(errors or {}, {"persons_handled": "处理人数"}),
        values=values or MultiDict(),
        category_label=_label(ClueCategory),
        outcome_label=_label(Outcome),
        action_label=_action_label,
    )


def _label(kind: type) -> object:
    values = {item.value: item.label for item in kind}
    return lambda value: values.get(value, value or "—")


def _action_label(value: str) -> str:
    try:
        return Action(value).label
    except ValueError:
        return {"file": "登记", "rerate": "群众回评"}.get(value, value)


@bp.get("/referrals/<int:referral_id>")
@console_view(Role.LIAISON, Role.ADMIN)
def referral(referral_id: int) -> Response:
    """The sealed dossier (its reading audited, as through the API) and the forms."""
    found = read_referral(referral_id, staff=current_staff())
    db.session.commit()
    return _referral_page(found)


def _scoped_referral(referral_id: int) -> Referral:
    referral = get_referral(referral_id)
    ensure_referral_readable(current_staff(), referral)
    return referral


@bp.post("/referrals/<int:referral_id>/receive")
@console_view(Role.LIAISON)
def receive(referral_id: int) -> Response:
    referral = _scoped_referral(referral_id)
    try:
        receive_referral(referral, staff=current_staff())
    except (ApiError, DomainError) as error:
        db.session.rollback()
        return _referral_page(
            _scoped_referral(referral_id), status_of(error), errors=api_error_fields(error)
        )
    db.session.commit()
    flash(f"已签收 {referral.clue.tracking_no}。", "ok")
    return see_other(url_for("console.referral", referral_id=referral_id))


@bp.post("/referrals/<int:referral_id>/conclude")
@console_view(Role.LIAISON)
def conclude(referral_id: int) -> Response:
    referral = _scoped_referral(referral_id)
    form = request.form
    try:
        body = parse(ConcludeIn, form)
        conclude_referral(
            referral,
            staff=current_staff(),
            persons_handled=body.persons_handled,
            measures=body.measures,
        )
    except FormError as error:
        db.session.rollback()
        return _referral_page(
            _scoped_referral(referral_id), error.status, errors=error.errors, values=form
        )
    except (ApiError, DomainError) as error:
        db.session.rollback()
        return _referral_page(
            _scoped_referral(referral_id),
            status_of(error),
            errors=api_error_fields(error),
            values=form,
        )
    db.session.commit()
    flash(f"{referral.clue.tracking_no} 已办结。", "ok")
    return see_other(url_for("console.referral", referral_id=referral_id))
