"""Clue endpoints: staff queues and actions; residents' own clues, re-rating and appeals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from apiflask import APIBlueprint
from pydantic import BaseModel

from app.auth import current_staff, staff_required
from app.clock import utcnow
from app.crypto import decrypt_text
from app.errors import ApiError
from app.extensions import db
from app.org import service as org_service
from app.org.models import Role, StaffAccount
from clues import service
from clues.intake import file_clue_for_code
from clues.models import (
    Clue,
    ClueEvent,
    ClueReporter,
    ClueSource,
    ClueWarning,
    ExtensionRequest,
)
from clues.schemas import (
    AppealIn,
    AssignIn,
    ClueOut,
    CluePage,
    ClueQuery,
    ClueRegisterIn,
    ClueSummaryOut,
    DirectReportIn,
    DuplicateList,
    EventList,
    ExtensionIn,
    MergeIn,
    MyClueList,
    MyClueOut,
    NoteIn,
    RejectIn,
    ReporterOut,
    ReportIn,
    ReratingIn,
    ReturnIn,
    UpholdIn,
)
from clues.states import ClueStatus
from evaluations.identity import Resident, current_resident, resident_required

bp = APIBlueprint("clues", __name__, url_prefix="/api/v1", tag="问题线索")

HANDLING_ROLES = (Role.SCREENER, Role.VERIFIER, Role.SUPERIOR, Role.LIAISON, Role.ADMIN)
REPORTER_ROLES = (Role.SCREENER, Role.LIAISON, Role.ADMIN)


def _visible_clue(clue_id: int, **_: object) -> None:
    """Scope check for /clues/{id}: which clues a staff member sees depends on their role."""
    service.ensure_visible(current_staff(), service.get_clue(clue_id))


# ---------------------------------------------------------------- serialising


def clue_body(clue: Clue, staff: StaffAccount) -> dict[str, Any]:
    """The staff view of a clue; warnings only for those who screen."""
    stage = service.current_stage(clue)
    report = service.latest_report(clue)
    warnings = []
    if staff.role in (Role.SCREENER, Role.ADMIN):
        warnings = list(
            db.session.scalars(
                sa.select(ClueWarning)
                .where(ClueWarning.clue_id == clue.id)
                .order_by(ClueWarning.id)
            )
        )
    extensions = list(
        db.session.scalars(
            sa.select(ExtensionRequest)
            .where(ExtensionRequest.clue_id == clue.id)
            .order_by(ExtensionRequest.id)
        )
    )
    return {
        **{
            name: getattr(clue, name)
            for name in (
                "id",
                "tracking_no",
                "source",
                "status",
                "category",
                "unit",
                "officer",
                "description",
                "assigned_unit",
                "assignee_id",
                "due_at",
                "is_overdue",
                "outcome",
                "persons_handled",
                "involves_misconduct",
                "reject_reason",
                "reporter_message",
                "master_id",
                "submitted_at",
                "accepted_at",
                "assigned_at",
                "verifying_at",
                "reviewing_at",
                "closed_at",
                "rerating_due_at",
            )
        },
        "status_label": clue.status.label,
        "category_label": clue.category.label,
        "stage": stage.stage.value if stage else None,
        "warnings": warnings,
        "report": report,
        "extensions": extensions,
    }


# ---------------------------------------------------------------- staff: reading


@bp.get("/clues")
@staff_required(*HANDLING_ROLES)
@bp.input(ClueQuery, location="query", arg_name="query")
@bp.output(CluePage)
@bp.doc(responses={404: "单位不存在"})
def list_clues(query: ClueQuery):
    """线索列表：按角色只列出本人办理范围内的线索"""
    staff = current_staff()
    stmt = sa.select(Clue).where(service.visible_to(staff))
    if query.status is not None:
        stmt = stmt.where(Clue.status == query.status)
    if query.unit_id is not None:
        from app.org.models import subtree_ids

        stmt = stmt.where(Clue.unit_id.in_(subtree_ids(org_service.get_unit(query.unit_id))))
    if query.overdue is not None:
        overdue = sa.and_(Clue.due_at.is_not(None), Clue.due_at < utcnow())
        stmt = stmt.where(overdue if query.overdue else sa.not_(overdue))
    page = db.paginate(
        stmt.order_by(Clue.id.desc()), page=query.page, per_page=query.per_page, error_out=False
    )
    return {
        "items": [clue_body(c, staff) for c in page.items],
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
    }


@bp.get("/clues/<int:clue_id>")
@staff_required(*HANDLING_ROLES, scope=_visible_clue)
@bp.output(ClueOut)
def get_clue(clue_id: int):
    """线索详情（不含反映人信息）"""
    return clue_body(service.get_clue(clue_id), current_staff())


@bp.get("/clues/<int:clue_id>/events")
@staff_required(*HANDLING_ROLES, scope=_visible_clue)
@bp.output(EventList)
def clue_events(clue_id: int):
    """线索的全部流转记录（不可更改）"""
    events = db.session.scalars(
        sa.select(ClueEvent).where(ClueEvent.clue_id == clue_id).order_by(ClueEvent.id)
    )
    return {
        "items": [
            {
                **{
                    c: getattr(e, c)
                    for c in (
                        "id",
                        "created_at",
                        "actor_type",
                        "role",
                        "action",
                        "from_status",
                        "to_status",
                        "note",
                        "public_note",
                        "details",
                    )
                },
                "actor_name": e.actor_name if e.actor_type == "staff" else "",
            }
            for e in events
        ]
    }


@bp.get("/clues/<int:clue_id>/reporter")
@staff_required(*REPORTER_ROLES, scope=_visible_clue)
@bp.output(ReporterOut)
def clue_reporter(clue_id: int):
    """反映人身份（仅审核交办、纪检联络员、管理员；每次查看都记入审计日志）"""
    clue = service.get_clue(clue_id)
    reporter = db.session.get(ClueReporter, clue.id)
    if reporter is None:
        raise ApiError(404, "not_found", "该线索没有反映人记录")
    channel = None
    if reporter.resident_id is not None:
        resident = db.session.get(Resident, reporter.resident_id)
        channel = resident.channel.value if resident else None
    service.audit_reporter_read(clue)
    db.session.commit()
    return {
        "clue_id": clue.id,
        "identity": reporter.identity,
        "phone": decrypt_text(reporter.phone_encrypted) if reporter.phone_encrypted else None,
        "channel": channel,
    }


@bp.get("/clues/<int:clue_id>/duplicates")
@staff_required(Role.SCREENER, Role.ADMIN, scope=_visible_clue)
@bp.output(DuplicateList)
def clue_duplicates(clue_id: int):
    """疑似重复：近 30 天同一人员或单位、内容相近的未办结线索"""
    from clues.duplicates import duplicate_suggestions

    clue = service.get_clue(clue_id)
    return {
        "items": [
            {
                **{
                    c: getattr(other, c)
                    for c in ("id", "tracking_no", "status", "submitted_at", "description")
                },
                "score": round(score, 3),
                "same_officer": other.officer_id is not None
                and other.officer_id == clue.officer_id,
            }
            for other, score in duplicate_suggestions(clue)
        ]
    }


@bp.post("/clues")
@staff_required(Role.SCREENER)
@bp.input(ClueRegisterIn, arg_name="body")
@bp.output(ClueOut, status_code=201)
@bp.doc(responses={404: "单位或人员不存在"})
def register_clue(body: ClueRegisterIn):
    """登记民意测评、案件评查等来源的线索"""
    if body.source in (ClueSource.EVALUATION, ClueSource.DIRECT):
        raise ApiError(
            422,
            "validation_error",
            "群众反映的线索由群众自己提交",
            {"fields": {"source": ["只能是 survey 或 case_review"]}},
        )
    unit = org_service.get_unit(body.unit_id)
    from app.auth import ensure_in_scope

    ensure_in_scope(unit)
    officer = org_service.get_officer(body.officer_id) if body.officer_id else None
    if officer is not None and officer.unit_id != unit.id:
        raise ApiError(
            422,
            "validation_error",
            "该人员不属于此单位",
            {"fields": {"officer_id": ["该人员不属于此单位"]}},
        )
    clue = service.file_clue(
        source=body.source,
        category=body.category,
        unit=unit,
        officer=officer,
        description=body.description,
        reporter=service.ReporterIn(None, "anonymous"),
    )
    db.session.commit()
    return clue_body(clue, current_staff())


# ---------------------------------------------------------------- staff: actions


def _action(
    name: str,
    schema: type[BaseModel] | None,
    roles: tuple[Role, ...],
    perform: Callable[[Clue, StaffAccount, Any], object],
    summary: str,
) -> None:
    """Register POST /clues/{id}/{name}: lock the clue, act, commit, answer the clue."""

    def view(clue_id: int, body: Any = None):
        staff = current_staff()
        clue = service.get_clue(clue_id, for_update=True)
        perform(clue, staff, body)
        db.session.commit()
        return clue_body(clue, staff)

    view.__name__ = f"clue_{name}"
    view.__doc__ = summary
    decorated = view
    if schema is not None:
        decorated = bp.input(schema, arg_name="body")(decorated)
    decorated = bp.output(ClueOut)(decorated)
    responses = {404: "线索或所指的对象不存在", 409: "当前状态不能执行该操作"}
    decorated = bp.doc(responses=responses)(decorated)
    decorated = staff_required(*roles, scope=_visible_clue)(decorated)
    bp.post(f"/clues/<int:clue_id>/{name}")(decorated)


def _master(body: MergeIn) -> Clue:
    return service.get_clue(body.master_id)


def _assign(clue: Clue, staff: StaffAccount, body: AssignIn) -> object:
    assignee = org_service.get_staff(body.assignee_id) if body.assignee_id else None
    return service.assign_clue(
        clue,
        staff=staff,
        unit=org_service.get_unit(body.unit_id),
        days=body.days,
        assignee=assignee,
        note=body.note,
    )


def _refer(clue: Clue, staff: StaffAccount, body: NoteIn) -> object:
    from clues.referrals import refer_clue

    return refer_clue(clue, staff=staff, note=body.note)


SCREENER, VERIFIER, SUPERIOR = (Role.SCREENER,), (Role.VERIFIER,), (Role.SUPERIOR,)
_action(
    "accept", NoteIn, SCREENER, lambda c, s, b: service.accept_clue(c, staff=s, note=b.note), "受理"
)
_action(
    "reject",
    RejectIn,
    SCREENER,
    lambda c, s, b: service.reject_clue(c, staff=s, reason=b.reason, message=b.message),
    "不予受理（附理由，告知反映人）",
)
_action(
    "merge",
    MergeIn,
    SCREENER,
    lambda c, s, b: service.merge_clue(c, staff=s, master=_master(b), note=b.note),
    "并案：反映人改为跟随主线索",
)
_action(
    "forward_12345",
    NoteIn,
    SCREENER,
    lambda c, s, b: service.forward_clue(c, staff=s, note=b.note),
    "民生类诉求转 12345",
)
_action("assign", AssignIn, SCREENER, _assign, "交办核查单位（期限按工作日计）")
_action(
    "start",
    NoteIn,
    VERIFIER,
    lambda c, s, b: service.start_verification(c, staff=s, note=b.note),
    "开始核查",
)
_action(
    "submit_report",
    ReportIn,
    VERIFIER,
    lambda c, s, b: service.submit_report(c, staff=s, **b.model_dump()),
    "提交核查报告",
)
_action(
    "approve",
    NoteIn,
    SUPERIOR,
    lambda c, s, b: service.approve_report(c, staff=s, note=b.note),
    "审核通过并办结（邀请反映人回评）",
)
_action(
    "return",
    ReturnIn,
    SUPERIOR,
    lambda c, s, b: service.return_report(c, staff=s, reason=b.reason),
    "退回重查",
)
_action(
    "request_extension",
    ExtensionIn,
    VERIFIER,
    lambda c, s, b: service.request_extension(c, staff=s, days=b.days, reason=b.reason),
    "申请延期",
)
_action(
    "approve_extension",
    NoteIn,
    SUPERIOR,
    lambda c, s, b: service.decide_extension(c, staff=s, approve=True, note=b.note),
    "批准延期（期限顺延）",
)
_action(
    "deny_extension",
    NoteIn,
    SUPERIOR,
    lambda c, s, b: service.decide_extension(c, staff=s, approve=False, note=b.note),
    "不批准延期",
)
_action(
    "reopen",
    NoteIn,
    SUPERIOR,
    lambda c, s, b: service.reopen_clue(c, staff=s, note=b.note),
    "复核：重新核查",
)
_action(
    "uphold",
    UpholdIn,
    SUPERIOR,
    lambda c, s, b: service.uphold_clue(c, staff=s, note=b.note),
    "复核：维持原结论",
)
_action("refer", NoteIn, (Role.SCREENER, Role.SUPERIOR), _refer, "移交纪检（查实且涉及违纪违规）")


# ---------------------------------------------------------------- residents


def my_clue_body(clue: Clue, resident_id: int) -> dict[str, Any]:
    """A resident's view: public notes only, the promised date, the outcome once closed."""
    followed = clue.master if clue.status is ClueStatus.MERGED and clue.master else clue
    events = db.session.scalars(
        sa.select(ClueEvent)
        .where(ClueEvent.clue_id.in_({clue.id, followed.id}), ClueEvent.public_note != "")
        .order_by(ClueEvent.created_at, ClueEvent.id)
    )
    stage = service.current_stage(followed)
    invitation = service.invitation_for(followed, resident_id)
    appealable = service.appeal_refusal(followed, invitation, utcnow()) is None
    closed = followed.status is ClueStatus.CLOSED
    return {
        "tracking_no": clue.tracking_no,
        "status": followed.status,
        "status_label": followed.status.label,
        "category_label": clue.category.label,
        "unit_name": clue.unit.name,
        "description": clue.description,
        "submitted_at": clue.submitted_at,
        "due_at": followed.due_at,
        "stage_label": stage.stage.label if stage else None,
        "outcome_label": followed.outcome.label if closed and followed.outcome else None,
        "reply": followed.reporter_message if closed or clue.status is ClueStatus.REJECTED else "",
        "master_tracking_no": followed.tracking_no if followed is not clue else None,
        "timeline": [
            {
                "at": e.created_at,
                "status": e.to_status,
                "status_label": ClueStatus(e.to_status).label,
                "note": e.public_note,
            }
            for e in events
        ],
        "rerating": {
            "status": invitation.status,
            "expires_at": invitation.expires_at,
            "level": invitation.level,
            "resolved": invitation.resolved,
        }
        if invitation
        else None,
        "can_appeal": appealable,
    }


def _followed(tracking_no: str) -> Clue:
    clue = service.resident_clue(tracking_no, current_resident().id)
    if clue.status is ClueStatus.MERGED and clue.master_id:
        return service.get_clue(clue.master_id, for_update=True)
    return service.get_clue(clue.id, for_update=True)


@bp.get("/me/clues")
@resident_required
@bp.output(MyClueList)
def my_clues():
    """我反映的问题"""
    resident_id = current_resident().id
    clues = db.session.scalars(
        sa.select(Clue)
        .join(ClueReporter, ClueReporter.clue_id == Clue.id)
        .where(ClueReporter.resident_id == resident_id)
        .order_by(Clue.id.desc())
    )
    return {"items": [my_clue_body(c, resident_id) for c in clues]}


@bp.get("/me/clues/<tracking_no>")
@resident_required
@bp.output(MyClueOut)
@bp.doc(responses={404: "没有这条线索（别人的线索也是 404）"})
def my_clue(tracking_no: str):
    """我反映的一条问题：进度、承诺时间、结论（别人的线索一律 404）"""
    resident_id = current_resident().id
    return my_clue_body(service.resident_clue(tracking_no, resident_id), resident_id)


@bp.post("/me/clues")
@resident_required
@bp.input(DirectReportIn, arg_name="body")
@bp.output(ClueSummaryOut, status_code=201)
@bp.doc(responses={404: "二维码不存在", 410: "二维码已停用"})
def report_directly(body: DirectReportIn):
    """不评价，直接反映问题（扫到的二维码即被反映的单位）"""
    clue = file_clue_for_code(resident=current_resident(), qr_token=body.qr_token, clue=body)
    db.session.commit()
    return service.public_summary(clue)


@bp.post("/me/clues/<tracking_no>/rerating")
@resident_required
@bp.input(ReratingIn, arg_name="body")
@bp.output(MyClueOut)
@bp.doc(responses={404: "没有这条线索", 409: "尚未办结、已回评过或回评期限已过"})
def rerate(tracking_no: str, body: ReratingIn):
    """回评已办结的问题（办结后 7 天内，每次办结一次）"""
    resident_id = current_resident().id
    service.rerate_clue(
        _followed(tracking_no),
        resident_id=resident_id,
        level=body.level,
        resolved=body.resolved,
        comment=body.comment,
    )
    db.session.commit()
    return my_clue_body(service.resident_clue(tracking_no, resident_id), resident_id)


@bp.post("/me/clues/<tracking_no>/appeal")
@resident_required
@bp.input(AppealIn, arg_name="body")
@bp.output(MyClueOut)
@bp.doc(responses={404: "没有这条线索", 409: "不能申请复核（未办结、已过期限或已申请过）"})
def appeal(tracking_no: str, body: AppealIn):
    """对办理结果不满意，申请上级复核（办结后 7 天内）"""
    resident_id = current_resident().id
    service.appeal_clue(_followed(tracking_no), resident_id=resident_id, reason=body.reason)
    db.session.commit()
    return my_clue_body(service.resident_clue(tracking_no, resident_id), resident_id)
