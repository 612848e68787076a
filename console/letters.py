"""Letters (两函一通报): the list, one letter with its PDF, and the written answer to a
supervision letter."""

from __future__ import annotations

import io

import sqlalchemy as sa
from flask import Response, flash, request, send_file, url_for
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict

from app.errors import ApiError, DomainError, http_status
from app.extensions import db
from app.org.models import Role, StaffAccount
from clues.models import Clue
from console.forms import FormError, api_error_fields, describe, parse
from console.web import bp, console_view, current_staff, page, page_number, see_other
from notifications.letter_routes import RESPONDING_ROLES, ResponseIn
from notifications.letters import (
    ANSWERABLE,
    letters_visible_to,
    respond_to_letter,
    visible_letter,
)
from notifications.models import Letter, LetterKind
from notifications.pdf import FontNotFound, render_letter_pdf

PER_PAGE = 50


def _scoped_letter(letter_id: int) -> Letter:
    """A letter to a unit in scope, or a notice (addressed to every unit); recusal applies."""
    return visible_letter(letter_id, current_staff())


@bp.get("/letters")
@console_view()
def letters() -> Response:
    staff = current_staff()
    stmt = sa.select(Letter).options(selectinload(Letter.unit)).where(letters_visible_to(staff))
    kind = request.args.get("kind", "")
    if kind in {k.value for k in LetterKind}:
        stmt = stmt.where(Letter.kind == LetterKind(kind))
    if request.args.get("open") == "1":
        stmt = stmt.where(Letter.kind.in_(ANSWERABLE), Letter.responded_at.is_(None))
    listing = db.paginate(
        stmt.order_by(Letter.issued_at.desc(), Letter.id.desc()),
        page=page_number(),
        per_page=PER_PAGE,
        error_out=False,
    )
    clue_ids = {letter.clue_id for letter in listing.items if letter.clue_id is not None}
    tracking = (
        dict(
            db.session.execute(
                sa.select(Clue.id, Clue.tracking_no).where(Clue.id.in_(clue_ids))
            ).all()
        )
        if clue_ids
        else {}
    )
    return page(
        "letters.html",
        listing=listing,
        kinds=list(LetterKind),
        kind=kind,
        open_only=request.args.get("open") == "1",
        tracking=tracking,
        answerable=ANSWERABLE,
    )


def _letter_page(
    letter: Letter,
    status: int = 200,
    *,
    errors: dict[str, str] | None = None,
    values: MultiDict[str, str] | None = None,
) -> Response:
    staff = current_staff()
    clue = db.session.get(Clue, letter.clue_id) if letter.clue_id is not None else None
    responder = (
        db.session.get(StaffAccount, letter.responded_by)
        if letter.responded_by is not None
        else None
    )
    may_respond = (
        letter.kind in ANSWERABLE
        and letter.responded_at is None
        and letter.unit is not None
        and staff.role in RESPONDING_ROLES
    )
    return page(
        "letter.html",
        status,
        letter=letter,
        clue=clue,
        responder=responder,
        may_respond=may_respond,
        errors=errors or {},
        error_lines=describe(errors or {}),
        values=values or MultiDict(),
        answerable=ANSWERABLE,
        Role=Role,
    )


@bp.get("/letters/<int:letter_id>")
@console_view()
def letter(letter_id: int) -> Response:
    return _letter_page(_scoped_letter(letter_id))


@bp.get("/letters/<int:letter_id>/pdf")
@console_view()
def letter_pdf(letter_id: int) -> Response:
    """The same PDF as GET /api/v1/letters/{id}/pdf."""
    letter = _scoped_letter(letter_id)
    try:
        data = render_letter_pdf(letter)
    except FontNotFound as exc:
        raise ApiError(503, "font_missing", str(exc)) from exc
    response = send_file(
        io.BytesIO(data),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=f"{letter.serial}.pdf",
        max_age=0,
    )
    return response


@bp.post("/letters/<int:letter_id>/response")
@console_view(*RESPONDING_ROLES)
def letter_response(letter_id: int) -> Response:
    """The addressed unit answers a 督办函 in writing, once."""
    letter = _scoped_letter(letter_id)
    form = request.form
    try:
        body = parse(ResponseIn, form)
        respond_to_letter(letter, staff=current_staff(), response=body.response)
    except FormError as error:
        db.session.rollback()
        return _letter_page(
            _scoped_letter(letter_id), error.status, errors=error.errors, values=form
        )
    except DomainError as error:
        db.session.rollback()
        return _letter_page(
            _scoped_letter(letter_id),
            http_status(error),
            errors=api_error_fields(error),
            values=form,
        )
    db.session.commit()
    flash(f"已回复 {letter.serial}。", "ok")
    return see_other(url_for("console.letter", letter_id=letter_id))
