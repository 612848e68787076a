"""Clue pages: the screening queue, the verifier's and the superior's queues, the list of
every clue in scope, one clue with its forms, and the actions those forms post to.

Which forms a clue page shows comes from the transition table (status × the role's actor);
every action goes through the same service function as the JSON API, one commit a request.
"""

from __future__ import annotations

import io
from typing import Any

import sqlalchemy as sa
from flask import Response, flash, request, send_file, url_for
from werkzeug.datastructures import MultiDict

from app.errors import DomainError, NotFound, http_status
from app.extensions import db
from app.org.models import Role, StaffAccount, Unit, subtree_filter, subtree_ids
from clues import queries, service
from clues.actions import CATALOGUE, available_actions, perform
from clues.duplicates import duplicate_suggestions, duplicate_suggestions_for
from clues.models import (
    Appeal,
    Clue,
    CluePhoto,
    ClueWarning,
    ExtensionRequest,
    Outcome,
    RejectReason,
)
from clues.photos import photo_content
from clues.states import Action, ClueStatus, role_label
from console.clue_context import carrying_rating, linked_clues, reratings
from console.desks import letters_awaiting_answer, returned_reports
from console.forms import FormError, api_error_fields, describe, parse
from console.listing import filter_choices, list_request, scope_units, sorted_list
from console.web import (
    HANDLING_ROLES,
    bp,
    console_view,
    current_staff,
    page,
    page_number,
    safe_next,
    see_other,
)
from stats.routes import LEDGER_ROLES

PER_PAGE = 50


def warning_text(warning: ClueWarning) -> str:
    who = "该人员" if warning.officer_id is not None else "该单位"
    if warning.kind == "repeat":
        return f"同一群众 {warning.window_days} 天内第 {warning.count} 次反映{who}"
    return f"{who} {warning.window_days} 天内被 {warning.count} 名不同群众反映"


# ---------------------------------------------------------------- queues and lists


@bp.get("/queue")
@console_view(Role.SCREENER, Role.ADMIN)
def queue() -> Response:
    """审核队列: clues waiting to be screened (oldest deadline first), then those accepted
    and waiting to be assigned; with high-frequency warnings and likely duplicates."""
    staff = current_staff()
    visible = queries.visible(staff)
    submitted = db.paginate(
        queries.with_row_data(
            sa.select(Clue)
            .where(visible, Clue.status == ClueStatus.SUBMITTED)
            .order_by(Clue.due_at, Clue.id)
        ),
        page=page_number(),
        per_page=PER_PAGE,
        error_out=False,
    )
    accepted = db.session.scalars(
        queries.with_row_data(
            sa.select(Clue)
            .where(visible, Clue.status == ClueStatus.ACCEPTED)
            .order_by(Clue.accepted_at, Clue.id)
            .limit(PER_PAGE)
        )
    ).all()
    warnings = queries.warnings_by_clue([c.id for c in submitted.items])
    duplicates = duplicate_suggestions_for(submitted.items, staff)
    return page(
        "queue.html",
        submitted=submitted,
        accepted=accepted,
        warnings=warnings,
        duplicates=duplicates,
        warning_text=warning_text,
        units=scope_units(staff),
    )


@bp.get("/clues")
@console_view(*HANDLING_ROLES)
def clues() -> Response:
    """Every clue in scope: filters (unit tree, category, source, status, deadline, dates,
    words of the complaint), sorting, dense rows; the filtered list as Excel."""
    staff = current_staff()
    asked = list_request(staff, request.args)
    listing = db.paginate(
        sorted_list(staff, asked), page=page_number(), per_page=PER_PAGE, error_out=False
    )
    return page(
        "clues.html",
        listing=listing,
        asked=asked,
        units=scope_units(staff),
        can_export=staff.role in LEDGER_ROLES,
        returned=returned_reports(
            [c.id for c in listing.items if c.status is ClueStatus.VERIFYING]
        ),
        **filter_choices(),
    )


@bp.get("/verification")
@console_view(Role.VERIFIER)
def verification() -> Response:
    """核查任务: clues assigned to the verifier's unit, nearest deadline first."""
    staff = current_staff()
    visible = queries.visible(staff)
    active = db.session.scalars(
        queries.with_row_data(
            sa.select(Clue)
            .where(visible, Clue.status.in_((ClueStatus.ASSIGNED, ClueStatus.VERIFYING)))
            .order_by(Clue.due_at, Clue.id)
        )
    ).all()
    reviewing = db.session.scalars(
        queries.with_row_data(
            sa.select(Clue)
            .where(visible, Clue.status == ClueStatus.REVIEWING)
            .order_by(Clue.reviewing_at.desc())
            .limit(PER_PAGE)
        )
    ).all()
    pending = queries.pending_extension_ids([c.id for c in active])
    letters = letters_awaiting_answer(staff)
    return page(
        "verification.html",
        active=active,
        reviewing=reviewing,
        pending_extensions=pending,
        returned=returned_reports([c.id for c in active]),
        letters=letters,
        letter_of={letter.clue_id: letter for letter in letters if letter.clue_id is not None},
    )


@bp.get("/review")
@console_view(Role.SUPERIOR)
def review() -> Response:
    """审核与延期: reports to review, extension requests to decide, appeals to settle."""
    staff = current_staff()
    visible = queries.visible(staff)
    reviewing = db.session.scalars(
        queries.with_row_data(
            sa.select(Clue)
            .where(visible, Clue.status == ClueStatus.REVIEWING)
            .order_by(Clue.due_at, Clue.id)
        )
    ).all()
    reports = queries.latest_reports([clue.id for clue in reviewing])
    extensions = db.session.execute(
        sa.select(ExtensionRequest, Clue)
        .join(Clue, Clue.id == ExtensionRequest.clue_id)
        .where(visible, service.PENDING_EXTENSION)
        .order_by(ExtensionRequest.requested_at)
    ).all()
    appealed = db.session.execute(
        sa.select(Clue, Appeal)
        .join(Appeal, Appeal.clue_id == Clue.id)
        .where(visible, Clue.status == ClueStatus.APPEALED, Appeal.decision.is_(None))
        .order_by(Appeal.created_at)
    ).all()
    return page(
        "review.html",
        letters=letters_awaiting_answer(staff),
        reviewing=reviewing,
        reports=reports,
        extensions=extensions,
        appealed=appealed,
    )


# ---------------------------------------------------------------- one clue

EVENT_LABELS = {"file": "登记", "rerate": "群众回评"}


def event_label(action: str) -> str:
    try:
        return Action(action).label
    except ValueError:
        return EVENT_LABELS.get(action, action)


def status_label(value: str | None) -> str:
    try:
        return ClueStatus(value).label if value else ""
    except ValueError:
        return value or ""


def _people(events: list[queries.EventView]) -> dict[str, str]:
    """The name of each staff member on the trail, by login (the trail records the login)."""
    logins = {e.actor_name for e in events if e.actor_type == "staff" and e.actor_name}
    if not logins:
        return {}
    return dict(
        db.session.execute(
            sa.select(StaffAccount.username, StaffAccount.display_name).where(
                StaffAccount.username.in_(logins)
            )
        ).all()
    )


def _assign_choices(staff: StaffAccount) -> tuple[list[Unit], list[StaffAccount]]:
    units = db.session.scalars(
        sa.select(Unit).where(subtree_filter(staff.unit.path), Unit.is_active).order_by(Unit.path)
    ).all()
    verifiers = db.session.scalars(
        sa.select(StaffAccount)
        .where(
            StaffAccount.role == Role.VERIFIER,
            StaffAccount.is_active,
            StaffAccount.unit_id.in_(subtree_ids(staff.unit)),
        )
        .order_by(StaffAccount.unit_id, StaffAccount.id)
    ).all()
    return list(units), list(verifiers)


def _clue_page(
    clue_id: int,
    *,
    status: int = 200,
    failed: Action | None = None,
    errors: dict[str, str] | None = None,
    values: MultiDict[str, str] | None = None,
) -> Response:
    staff = current_staff()
    clue = service.get_clue(clue_id)
    service.ensure_visible(staff, clue)
    offers = available_actions(clue, staff)
    actions = [offer.action for offer in offers if offer.enabled]
    screens = staff.role in queries.SCREENING_ROLES
    choosing = {Action.ASSIGN, Action.REASSIGN, Action.REOPEN} & set(actions)
    units, verifiers = _assign_choices(staff) if choosing else ([], [])
    photos = db.session.execute(
        sa.select(CluePhoto.id, CluePhoto.width, CluePhoto.height)
        .where(CluePhoto.clue_id == clue.id)
        .order_by(CluePhoto.id)
    ).all()
    view = queries.staff_views([clue], staff)[0]
    context = queries.clue_context(clue, staff)
    return page(
        "clue.html",
        status,
        clue=clue,
        stage=service.current_stage(clue),
        report=view["report"],
        extensions=view["extensions"],
        pending_extension=context.pending_extension,
        appeal=context.appeal,
        referral=context.referral,
        events=context.events,
        people=_people(context.events),
        photos=photos,
        warnings=view["warnings"],
        warning_clues=linked_clues(view["warnings"], clue, staff),
        rating=carrying_rating(clue, staff),
        reratings=reratings(clue, staff),
        duplicates=duplicate_suggestions(clue, staff)
        if screens and clue.status is ClueStatus.SUBMITTED
        else [],
        merged_in=context.merged_in,
        actions=actions,
        refused=[offer for offer in offers if not offer.enabled],
        action_help={action: entry.help for action, entry in CATALOGUE.items()},
        units=units,
        verifiers=verifiers,
        suggested_unit=service.suggested_unit(clue),
        misconduct=service.is_misconduct(clue),
        reporter_allowed=service.reporter_refusal(clue, staff) is None,
        reject_reasons=list(RejectReason),
        outcomes=list(Outcome),
        failed=failed,
        errors=errors or {},
        error_lines=describe(errors or {}),
        values=values if values is not None else MultiDict(),
        warning_text=warning_text,
        event_label=event_label,
        status_label=status_label,
        role_label=role_label,
        Action=Action,
        ClueStatus=ClueStatus,
    )


@bp.get("/clues/<int:clue_id>")
@console_view(*HANDLING_ROLES)
def clue(clue_id: int) -> Response:
    return _clue_page(clue_id)


def _master_from(form: MultiDict[str, str]) -> dict[str, Any]:
    """The merge form names the master clue by its tracking number."""
    number = form.get("master", "").strip().upper()
    if not number:
        raise FormError({"master": "请填写此项"})
    master_id = db.session.scalar(sa.select(Clue.id).where(Clue.tracking_no == number))
    if master_id is None:
        raise FormError({"master": f"没有编号为 {number} 的线索"})
    return {"master_id": master_id}


@bp.post("/clues/<int:clue_id>/<action_name>")
@console_view(Role.SCREENER, Role.VERIFIER, Role.SUPERIOR)
def clue_action(clue_id: int, action_name: str) -> Response:
    """Validate the form with the API's schema, act through the catalogue, commit once."""
    try:
        action = Action(action_name)
    except ValueError:
        action = None
    entry = CATALOGUE.get(action) if action is not None else None
    if action is None or entry is None:
        raise NotFound("没有这个操作")
    staff = current_staff()
    form = request.form
    service.ensure_visible(staff, service.get_clue(clue_id))
    try:
        extra = _master_from(form) if action is Action.MERGE else None
        perform(action, clue_id, staff, parse(entry.schema, form, extra))
    except FormError as error:
        db.session.rollback()
        return _clue_page(
            clue_id, status=error.status, failed=action, errors=error.errors, values=form
        )
    except DomainError as error:
        db.session.rollback()
        return _clue_page(
            clue_id,
            status=http_status(error),
            failed=action,
            errors=api_error_fields(error),
            values=form,
        )
    db.session.commit()
    flash(entry.done, "ok")
    return see_other(safe_next(form.get("next"), url_for("console.clue", clue_id=clue_id)))


@bp.get("/clues/<int:clue_id>/photos/<int:photo_id>")
@console_view(*HANDLING_ROLES)
def clue_photo(clue_id: int, photo_id: int) -> Response:
    """A clue's photo (already re-encoded without metadata at upload)."""
    clue = service.get_clue(clue_id)
    service.ensure_visible(current_staff(), clue)
    photo = db.session.get(CluePhoto, photo_id)
    if photo is None or photo.clue_id != clue.id:
        raise NotFound("照片不存在")
    response = send_file(
        io.BytesIO(photo_content(photo)),
        mimetype="image/jpeg",
        download_name=f"{clue.tracking_no}-{photo.id}.jpg",
    )
    return response
