"""The liaison's referrals (纪检移交): receive a referred case, conclude it."""

from __future__ import annotations

from flask import Response, flash, request, url_for
from werkzeug.datastructures import MultiDict

from app.errors import ApiError, DomainError, status_of
from app.extensions import db
from app.org.models import Role
from clues.models import Referral, ReferralStatus
from clues.referrals import (
    ConcludeIn,
    conclude_referral,
    ensure_referral_readable,
    get_referral,
    receive_referral,
    referrals_visible_to,
    seal,
)
from console.forms import FormError, api_error_fields, describe, parse
from console.web import bp, console_view, current_staff, page, see_other


def _referrals_page(
    status: int = 200,
    *,
    failed: int | None = None,
    errors: dict[str, str] | None = None,
    values: MultiDict[str, str] | None = None,
) -> Response:
    staff = current_staff()
    stmt = referrals_visible_to(staff)
    wanted = request.args.get("status", "")
    if wanted in {s.value for s in ReferralStatus}:
        stmt = stmt.where(Referral.status == ReferralStatus(wanted))
    referrals = db.session.scalars(
        stmt.order_by(Referral.status != ReferralStatus.PENDING, Referral.id.desc()).limit(200)
    ).all()
    return page(
        "referrals.html",
        status,
        referrals=referrals,
        wanted=wanted,
        statuses=list(ReferralStatus),
        intact={r.id: seal(r.dossier) == r.dossier_sha256 for r in referrals},
        may_act=staff.role is Role.LIAISON,
        failed=failed,
        errors=errors or {},
        error_lines=describe(errors or {}, {"persons_handled": "处理人数"}),
        values=values or MultiDict(),
    )


@bp.get("/referrals")
@console_view(Role.LIAISON, Role.ADMIN)
def referrals() -> Response:
    return _referrals_page()


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
        return _referrals_page(status_of(error), failed=referral_id, errors=api_error_fields(error))
    db.session.commit()
    flash(f"已签收 {referral.clue.tracking_no}。", "ok")
    return see_other(url_for("console.referrals"))


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
        return _referrals_page(error.status, failed=referral_id, errors=error.errors, values=form)
    except (ApiError, DomainError) as error:
        db.session.rollback()
        return _referrals_page(
            status_of(error), failed=referral_id, errors=api_error_fields(error), values=form
        )
    db.session.commit()
    flash(f"{referral.clue.tracking_no} 已办结。", "ok")
    return see_other(url_for("console.referrals"))
