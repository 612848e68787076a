"""Clue pages: the screening queue, the verifier's and the superior's queues, the list of
every clue in scope, one clue with its forms, and the actions those forms post to.

Which forms a clue page shows comes from the transition table (status × the role's actor);
every action goes through the same service function as the JSON API, one commit a request.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Response, flash, request, send_file, url_for
from werkzeug.datastructures import MultiDict

from app.clock import utcnow
from app.errors import ApiError
from app.extensions import db
from app.org.models import Role, StaffAccount, Unit, subtree_filter, subtree_ids
from app.schemas import Schema
from clues import service
from clues.duplicates import duplicate_suggestions
from clues.models import (
    Appeal,
    Clue,
    ClueEvent,
    CluePhoto,
    ClueWarning,
    ExtensionRequest,
    Outcome,
    Referral,
    RejectReason,
)
from clues.referrals import refer_clue
from clues.schemas import (
    AssignIn,
    ExtensionIn,
    MergeIn,
    NoteIn,
    RejectIn,
    ReportIn,
    ReturnIn,
    UpholdIn,
)
from clues.states import TRANSITIONS, Action, ClueStatus
from console.forms import FormError, api_error_fields, describe, parse
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
from evaluations.questionnaire import ClueCategory

PER_PAGE = 50


# ---------------------------------------------------------------- the actions a page offers


@dataclass(frozen=True)
class ActionSpec:
    schema: type[Schema]
    perform: Callable[[Clue, StaffAccount, Any], object]
    done: str


def _merge(clue: Clue, staff: StaffAccount, body: MergeIn) -> object:
    return service.merge_clue(
        clue, staff=staff, master=service.get_clue(body.master_id), note=body.note
    )


def _assign(clue: Clue, staff: StaffAccount, body: AssignIn) -> object:
    from app.org import service as org_service

    assignee = org_service.get_staff(body.assignee_id) if body.assignee_id else None
    return service.assign_clue(
        clue,
        staff=staff,
        unit=org_service.get_unit(body.unit_id),
        days=body.days,
        assignee=assignee,
        note=body.note,
    )


# The console's side of every staff action: the API's request schema, the service function.
ACTIONS: dict[Action, ActionSpec] = {
    Action.ACCEPT: ActionSpec(
        NoteIn,
        lambda c, s, b: service.accept_clue(c, staff=s, note=b.note),
        "已受理，请交办核查单位。",
    ),
    Action.REJECT: ActionSpec(
        RejectIn,
        lambda c, s, b: service.reject_clue(c, staff=s, reason=b.reason, message=b.message),
        "已不予受理，理由将告知反映人。",
    ),
    Action.MERGE: ActionSpec(MergeIn, _merge, "已并案，反映人将跟随主线索的办理进度。"),
    Action.FORWARD_12345: ActionSpec(
        NoteIn, lambda c, s, b: service.forward_clue(c, staff=s, note=b.note), "已转 12345 办理。"
    ),
    Action.ASSIGN: ActionSpec(AssignIn, _assign, "已交办。"),
    Action.START: ActionSpec(
        NoteIn, lambda c, s, b: service.start_verification(c, staff=s, note=b.note), "已开始核查。"
    ),
    Action.SUBMIT_REPORT: ActionSpec(
        ReportIn,
        lambda c, s, b: service.submit_report(c, staff=s, **b.model_dump()),
        "核查报告已提交上级审核。",
    ),
    Action.APPROVE: ActionSpec(
        NoteIn,
        lambda c, s, b: service.approve_report(c, staff=s, note=b.note),
        "已审核通过，线索办结，已邀请反映人回评。",
    ),
    Action.RETURN: ActionSpec(
        ReturnIn, lambda c, s, b: service.return_report(c, staff=s, reason=b.reason), "已退回重查。"
    ),
    Action.REQUEST_EXTENSION: ActionSpec(
        ExtensionIn,
        lambda c, s, b: service.request_extension(c, staff=s, days=b.days, reason=b.reason),
        "延期申请已提交上级审批。",
    ),
    Action.APPROVE_EXTENSION: ActionSpec(
        NoteIn,
        lambda c, s, b: service.decide_extension(c, staff=s, approve=True, note=b.note),
        "已批准延期，期限已顺延。",
    ),
    Action.DENY_EXTENSION: ActionSpec(
        NoteIn,
        lambda c, s, b: service.decide_extension(c, staff=s, approve=False, note=b.note),
        "已不批准延期。",
    ),
    Action.REOPEN: ActionSpec(
        NoteIn, lambda c, s, b: service.reopen_clue(c, staff=s, note=b.note), "已决定重新核查。"
    ),
    Action.UPHOLD: ActionSpec(
        UpholdIn,
        lambda c, s, b: service.uphold_clue(c, staff=s, note=b.note),
        "已维持原结论，理由将告知反映人。",
    ),
    Action.REFER: ActionSpec(
        NoteIn, lambda c, s, b: refer_clue(c, staff=s, note=b.note), "已移交纪检联络员。"
    ),
}


def _pending_extension(clue: Clue) -> ExtensionRequest | None:
    return db.session.scalar(
        sa.select(ExtensionRequest).where(
            ExtensionRequest.clue_id == clue.id, ExtensionRequest.status == "pending"
        )
    )


def _is_referred(clue: Clue) -> bool:
    return db.session.scalar(sa.select(Referral.id).where(Referral.clue_id == clue.id)) is not None


def available_actions(clue: Clue, staff: StaffAccount) -> list[Action]:
    """The actions the transition table gives this role in the clue's status, less those
    with nothing to act on (no pending extension to decide, one already pending, a clue
    that is not a substantiated misconduct case or already referred, a non-livelihood
    clue for 12345). The service functions still check everything when a form is sent."""
    actor = service.ROLE_ACTORS.get(staff.role)
    if actor is None:
        return []
    offered = [
        action
        for (status, action, who) in TRANSITIONS
        if status is clue.status and who is actor and action in ACTIONS
    ]
    pending = _pending_extension(clue) if clue.status is ClueStatus.VERIFYING else None
    relevant = {
        Action.REQUEST_EXTENSION: pending is None,
        Action.APPROVE_EXTENSION: pending is not None,
        Action.DENY_EXTENSION: pending is not None,
        Action.FORWARD_12345: clue.category is ClueCategory.LIVELIHOOD,
        Action.REFER: (
            clue.involves_misconduct
            and clue.outcome in (Outcome.SUBSTANTIATED, Outcome.PARTLY_SUBSTANTIATED)
            and not _is_referred(clue)
        ),
    }
    return [action for action in offered if relevant.get(action, True)]


# ---------------------------------------------------------------- shared pieces


def _warnings_by_clue(clue_ids: list[int]) -> dict[int, list[ClueWarning]]:
    found: dict[int, list[ClueWarning]] = defaultdict(list)
    if clue_ids:
        for warning in db.session.scalars(
            sa.select(ClueWarning).where(ClueWarning.clue_id.in_(clue_ids)).order_by(ClueWarning.id)
        ):
            found[warning.clue_id].append(warning)
    return found


def warning_text(warning: ClueWarning) -> str:
    who = "该人员" if warning.officer_id is not None else "该单位"
    if warning.kind == "repeat":
        return f"同一群众 {warning.window_days} 天内第 {warning.count} 次反映{who}"
    return f"{who} {warning.window_days} 天内被 {warning.count} 名不同群众反映"


def _visible(staff: StaffAccount) -> sa.ColumnElement[bool]:
    condition = service.visible_to(staff)
    return condition if condition is not None else sa.false()


# ---------------------------------------------------------------- queues and lists


@bp.get("/queue")
@console_view(Role.SCREENER, Role.ADMIN)
def queue() -> Response:
    """审核队列: clues waiting to be screened (oldest deadline first), then those accepted
    and waiting to be assigned; with high-frequency warnings and likely duplicates."""
    staff = current_staff()
    submitted = db.paginate(
        sa.select(Clue)
        .where(_visible(staff), Clue.status == ClueStatus.SUBMITTED)
        .order_by(Clue.due_at, Clue.id),
        page=page_number(),
        per_page=PER_PAGE,
        error_out=False,
    )
    accepted = db.session.scalars(
        sa.select(Clue)
        .where(_visible(staff), Clue.status == ClueStatus.ACCEPTED)
        .order_by(Clue.accepted_at, Clue.id)
        .limit(PER_PAGE)
    ).all()
    warnings = _warnings_by_clue([c.id for c in submitted.items])
    duplicates = {clue.id: duplicate_suggestions(clue) for clue in submitted.items}
    return page(
        "queue.html",
        submitted=submitted,
        accepted=accepted,
        warnings=warnings,
        duplicates=duplicates,
        warning_text=warning_text,
    )


@bp.get("/clues")
@console_view(*HANDLING_ROLES)
def clues() -> Response:
    """Every clue in scope, filtered by status, deadline or tracking number."""
    staff = current_staff()
    stmt = sa.select(Clue).where(_visible(staff))
    wanted = request.args.get("status", "")
    if wanted in {s.value for s in ClueStatus}:
        stmt = stmt.where(Clue.status == ClueStatus(wanted))
    if request.args.get("overdue") == "1":
        stmt = stmt.where(Clue.due_at.is_not(None), Clue.due_at < utcnow())
    query = request.args.get("q", "").strip()
    if query:
        stmt = stmt.where(Clue.tracking_no.contains(query.upper()[:20], autoescape=True))
    listing = db.paginate(
        stmt.order_by(Clue.id.desc()), page=page_number(), per_page=PER_PAGE, error_out=False
    )
    return page(
        "clues.html",
        listing=listing,
        statuses=list(ClueStatus),
        wanted=wanted,
        overdue=request.args.get("overdue") == "1",
        q=query,
    )


@bp.get("/verification")
@console_view(Role.VERIFIER)
def verification() -> Response:
    """核查任务: clues assigned to the verifier's unit, nearest deadline first."""
    staff = current_staff()
    active = db.session.scalars(
        sa.select(Clue)
        .where(_visible(staff), Clue.status.in_((ClueStatus.ASSIGNED, ClueStatus.VERIFYING)))
        .order_by(Clue.due_at, Clue.id)
    ).all()
    reviewing = db.session.scalars(
        sa.select(Clue)
        .where(_visible(staff), Clue.status == ClueStatus.REVIEWING)
        .order_by(Clue.reviewing_at.desc())
        .limit(PER_PAGE)
    ).all()
    pending = (
        {
            row.clue_id
            for row in db.session.scalars(
                sa.select(ExtensionRequest).where(
                    ExtensionRequest.clue_id.in_([c.id for c in active]),
                    ExtensionRequest.status == "pending",
                )
            )
        }
        if active
        else set()
    )
    return page("verification.html", active=active, reviewing=reviewing, pending_extensions=pending)


@bp.get("/review")
@console_view(Role.SUPERIOR)
def review() -> Response:
    """审核与延期: reports to review, extension requests to decide, appeals to settle."""
    staff = current_staff()
    reviewing = db.session.scalars(
        sa.select(Clue)
        .where(_visible(staff), Clue.status == ClueStatus.REVIEWING)
        .order_by(Clue.due_at, Clue.id)
    ).all()
    reports = {clue.id: service.latest_report(clue) for clue in reviewing}
    extensions = db.session.execute(
        sa.select(ExtensionRequest, Clue)
        .join(Clue, Clue.id == ExtensionRequest.clue_id)
        .where(_visible(staff), ExtensionRequest.status == "pending")
        .order_by(ExtensionRequest.requested_at)
    ).all()
    appealed = db.session.execute(
        sa.select(Clue, Appeal)
        .join(Appeal, Appeal.clue_id == Clue.id)
        .where(_visible(staff), Clue.status == ClueStatus.APPEALED, Appeal.decision.is_(None))
        .order_by(Appeal.created_at)
    ).all()
    return page(
        "review.html",
        reviewing=reviewing,
        reports=reports,
        extensions=extensions,
        appealed=appealed,
    )


# ---------------------------------------------------------------- one clue

ACTION_HELP = {
    Action.ACCEPT: "受理后交办核查单位。",
    Action.REJECT: "不予受理将结束这条线索，理由和说明会告知反映人。",
    Action.MERGE: "与已有线索是同一事项时并入主线索，反映人改为跟随主线索。",
    Action.FORWARD_12345: "民生类诉求转 12345 平台办理，结果回传后自动办结。",
    Action.ASSIGN: "期限按工作日计算；不填按问题类别的默认期限。",
    Action.START: "确认已收到交办，开始核查。",
    Action.SUBMIT_REPORT: "提交后由上级审核；审核通过即办结并邀请反映人回评。",
    Action.REQUEST_EXTENSION: "期限只在上级批准后顺延。",
    Action.APPROVE: "通过后线索按报告结论办结，邀请反映人回评。",
    Action.RETURN: "退回后核查期限重新计算。",
    Action.APPROVE_EXTENSION: "批准后核查期限按申请的工作日顺延。",
    Action.DENY_EXTENSION: "不批准则期限不变。",
    Action.REOPEN: "群众申请复核：决定重新核查，线索回到核查环节。",
    Action.UPHOLD: "群众申请复核：维持原结论，理由会告知反映人。",
    Action.REFER: "查实且涉及违纪违规的线索，连同封存的卷宗移交纪检联络员。",
}

EVENT_LABELS = {"file": "登记", "rerate": "群众回评"}
ROLE_LABELS = {
    "screener": "审核交办",
    "verifier": "核查",
    "superior": "上级审核",
    "resident": "群众",
    "platform": "12345 平台",
    "liaison": "纪检联络员",
    "admin": "系统管理员",
    "system": "系统",
}


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
    actions = available_actions(clue, staff)
    screens = staff.role in (Role.SCREENER, Role.ADMIN)
    units, verifiers = _assign_choices(staff) if Action.ASSIGN in actions else ([], [])
    photos = db.session.execute(
        sa.select(CluePhoto.id, CluePhoto.width, CluePhoto.height)
        .where(CluePhoto.clue_id == clue.id)
        .order_by(CluePhoto.id)
    ).all()
    return page(
        "clue.html",
        status,
        clue=clue,
        stage=service.current_stage(clue),
        report=service.latest_report(clue),
        extensions=db.session.scalars(
            sa.select(ExtensionRequest)
            .where(ExtensionRequest.clue_id == clue.id)
            .order_by(ExtensionRequest.id)
        ).all(),
        pending_extension=_pending_extension(clue),
        appeal=db.session.scalar(
            sa.select(Appeal).where(Appeal.clue_id == clue.id).order_by(Appeal.id.desc())
        ),
        referral=db.session.scalar(sa.select(Referral).where(Referral.clue_id == clue.id)),
        events=db.session.scalars(
            sa.select(ClueEvent).where(ClueEvent.clue_id == clue.id).order_by(ClueEvent.id)
        ).all(),
        photos=photos,
        warnings=_warnings_by_clue([clue.id])[clue.id] if screens else [],
        duplicates=duplicate_suggestions(clue)
        if screens and clue.status is ClueStatus.SUBMITTED
        else [],
        merged_in=db.session.scalars(
            sa.select(Clue).where(Clue.master_id == clue.id).order_by(Clue.id)
        ).all(),
        actions=actions,
        action_help=ACTION_HELP,
        units=units,
        verifiers=verifiers,
        reject_reasons=list(RejectReason),
        outcomes=list(Outcome),
        failed=failed,
        errors=errors or {},
        error_lines=describe(errors or {}),
        values=values if values is not None else MultiDict(),
        warning_text=warning_text,
        event_label=event_label,
        status_label=status_label,
        role_labels=ROLE_LABELS,
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
    """Lock the clue, validate the form with the API's schema, act, commit once."""
    try:
        action = Action(action_name)
    except ValueError:
        action = None
    spec = ACTIONS.get(action) if action is not None else None
    if action is None or spec is None:
        raise ApiError(404, "not_found", "没有这个操作")
    staff = current_staff()
    form = request.form
    clue = service.get_clue(clue_id, for_update=True)
    service.ensure_visible(staff, clue)
    try:
        extra = _master_from(form) if action is Action.MERGE else None
        spec.perform(clue, staff, parse(spec.schema, form, extra))
    except FormError as error:
        db.session.rollback()
        return _clue_page(
            clue_id, status=error.status, failed=action, errors=error.errors, values=form
        )
    except ApiError as error:
        db.session.rollback()
        return _clue_page(
            clue_id, status=error.status, failed=action, errors=api_error_fields(error), values=form
        )
    db.session.commit()
    flash(spec.done, "ok")
    return see_other(safe_next(form.get("next"), url_for("console.clue", clue_id=clue_id)))


@bp.get("/clues/<int:clue_id>/photos/<int:photo_id>")
@console_view(*HANDLING_ROLES)
def clue_photo(clue_id: int, photo_id: int) -> Response:
    """A clue's photo (already re-encoded without metadata at upload)."""
    clue = service.get_clue(clue_id)
    service.ensure_visible(current_staff(), clue)
    photo = db.session.get(CluePhoto, photo_id)
    if photo is None or photo.clue_id != clue.id:
        raise ApiError(404, "not_found", "照片不存在")
    response = send_file(
        io.BytesIO(photo.content),
        mimetype="image/jpeg",
        download_name=f"{clue.tracking_no}-{photo.id}.jpg",
    )
    return response
