"""Clue endpoints: staff queues and actions; residents' own clues, re-rating and appeals."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint

from app.auth import current_staff, staff_required
from app.errors import Invalid
from app.extensions import db
from app.org import service as org_service
from app.org.models import Role
from app.ratelimit import bearer_key, configured, limiter, network_key
from clues import queries, service
from clues.actions import CATALOGUE, ClueAction, perform
from clues.intake import file_clue_for_code
from clues.models import Clue, ClueSource
from clues.schemas import (
    AppealIn,
    ClueOut,
    CluePage,
    ClueQuery,
    ClueRegisterIn,
    ClueSummaryOut,
    DirectReportIn,
    DuplicateList,
    EventList,
    MyClueList,
    MyClueOut,
    ReporterOut,
    ReporterQuery,
    ReratingIn,
    WithdrawIn,
)
from evaluations.identity import current_resident, resident_id_from_token, resident_required

bp = APIBlueprint("clues", __name__, url_prefix="/api/v1", tag="问题线索")

HANDLING_ROLES = (Role.SCREENER, Role.VERIFIER, Role.SUPERIOR, Role.LIAISON, Role.ADMIN)
REPORTER_ROLES = (Role.SCREENER, Role.LIAISON, Role.ADMIN)


def _visible_clue(clue_id: int, **_: object) -> None:
    """Scope check for /clues/{id}: which clues a staff member sees depends on their role."""
    service.ensure_visible(current_staff(), service.get_clue(clue_id))


# ---------------------------------------------------------------- staff: reading


@bp.get("/clues")
@staff_required(*HANDLING_ROLES)
@bp.input(ClueQuery, location="query", arg_name="query")
@bp.output(CluePage)
@bp.doc(responses={404: "单位不存在"})
def list_clues(query: ClueQuery):
    """线索列表：按角色只列出本人办理范围内的线索"""
    staff = current_staff()
    wanted = queries.ClueFilter(
        status=query.status,
        unit=org_service.get_unit(query.unit_id) if query.unit_id is not None else None,
        overdue=query.overdue,
        tracking_no=query.tracking_no or "",
        text=query.q or "",
        category=query.category,
        source=query.source,
        since=query.from_,
        until=query.to,
    )
    page = db.paginate(
        queries.clue_list(staff, wanted),
        page=query.page,
        per_page=query.per_page,
        error_out=False,
    )
    return {
        "items": queries.staff_views(page.items, staff),
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
    }


@bp.get("/clues/<int:clue_id>")
@staff_required(*HANDLING_ROLES, scope=_visible_clue)
@bp.output(ClueOut)
def get_clue(clue_id: int):
    """线索详情（不含反映人信息），附当前用户可执行的操作及不可执行的原因"""
    return queries.staff_detail(service.get_clue(clue_id), current_staff())


@bp.get("/clues/<int:clue_id>/events")
@staff_required(*HANDLING_ROLES, scope=_visible_clue)
@bp.output(EventList)
def clue_events(clue_id: int):
    """线索的全部流转记录（不可更改）；核查人员看到的群众操作只到日期"""
    return {"items": queries.staff_events(service.get_clue(clue_id), current_staff())}


@bp.get("/clues/<int:clue_id>/reporter")
@staff_required(*REPORTER_ROLES, scope=_visible_clue)
@bp.input(ReporterQuery, location="query", arg_name="query")
@bp.output(ReporterOut)
@bp.doc(responses={403: "所在单位是被反映单位或其下级、被反映人本人，或联络员查看未移交的线索"})
def clue_reporter(clue_id: int, query: ReporterQuery):
    """反映人身份（审核交办、管理员须不在被反映单位及其下级；纪检联络员限已移交的线索；
    须说明查看理由，每次查看都记入审计日志）"""
    view = service.read_reporter(
        service.get_clue(clue_id), staff=current_staff(), reason=query.reason
    )
    db.session.commit()
    return view


@bp.get("/clues/<int:clue_id>/duplicates")
@staff_required(Role.SCREENER, Role.ADMIN, scope=_visible_clue)
@bp.output(DuplicateList)
def clue_duplicates(clue_id: int):
    """疑似重复：近 30 天同一人员或单位、内容相近的未办结线索"""
    from clues.duplicates import duplicate_suggestions

    clue = service.get_clue(clue_id)
    staff = current_staff()
    return {
        "items": [
            {
                **{c: getattr(other, c) for c in ("id", "tracking_no", "status", "description")},
                "submitted_at": queries.filing_moment(other.submitted_at, staff, other),
                "score": round(score, 3),
                "same_officer": other.officer_id is not None
                and other.officer_id == clue.officer_id,
            }
            for other, score in duplicate_suggestions(clue, staff)
        ]
    }


@bp.post("/clues")
@staff_required(Role.SCREENER)
@bp.input(ClueRegisterIn, arg_name="body")
@bp.output(ClueOut, status_code=201)
@bp.doc(responses={404: "单位或人员不存在"})
def register_clue(body: ClueRegisterIn):
    """登记民意测评、案件评查、信访、网格员等来源的线索（留有手机号的，办结后回访）"""
    if body.source in (ClueSource.EVALUATION, ClueSource.DIRECT):
        raise Invalid(
            {"source": "只能是 survey、case_review、petition 或 grid"},
            "群众反映的线索由群众自己提交",
        )
    unit = org_service.get_unit(body.unit_id)
    from app.auth import ensure_in_scope

    ensure_in_scope(unit)
    officer = org_service.get_officer(body.officer_id) if body.officer_id else None
    if officer is not None and officer.unit_id != unit.id:
        raise Invalid({"officer_id": "该人员不属于此单位"}, "该人员不属于此单位")
    clue = service.file_clue(
        source=body.source,
        category=body.category,
        unit=unit,
        officer=officer,
        description=body.description,
        reporter=service.ReporterIn(
            None, "confidential" if body.phone else "anonymous", body.phone, body.sms_consent
        ),
    )
    db.session.commit()
    return queries.staff_detail(clue, current_staff())


# ---------------------------------------------------------------- staff: actions


def _register_action(entry: ClueAction) -> None:
    """POST /clues/{id}/{action} from the catalogue: check, act, commit once, answer the clue."""

    def view(clue_id: int, body: Any):
        staff = current_staff()
        clue = perform(entry.action, clue_id, staff, body)
        db.session.commit()
        return queries.staff_detail(clue, staff)

    view.__name__ = f"clue_{entry.action.value}"
    view.__doc__ = f"{entry.label}\n\n{entry.help}"
    decorated = bp.input(entry.schema, arg_name="body")(view)
    decorated = bp.output(ClueOut)(decorated)
    responses = {404: "线索或所指的对象不存在", 409: "当前状态不能执行该操作"}
    decorated = bp.doc(responses=responses)(decorated)
    decorated = staff_required(*entry.roles, scope=_visible_clue)(decorated)
    bp.post(f"/clues/<int:clue_id>/{entry.action.value}")(decorated)


for _entry in CATALOGUE.values():
    _register_action(_entry)


# ---------------------------------------------------------------- residents


def _followed(tracking_no: str) -> Clue:
    clue = queries.followed_clue(service.resident_clue(tracking_no, current_resident().id))
    return service.get_clue(clue.id, for_update=True)


@bp.get("/me/clues")
@resident_required
@bp.output(MyClueList)
def my_clues():
    """我反映的问题"""
    resident_id = current_resident().id
    clues = queries.residents_clues(resident_id)
    return {"items": [queries.resident_view(c, resident_id) for c in clues]}


@bp.get("/me/clues/<tracking_no>")
@resident_required
@bp.output(MyClueOut)
@bp.doc(responses={404: "没有这条线索（别人的线索也是 404）"})
def my_clue(tracking_no: str):
    """我反映的一条问题：进度、承诺时间、结论（别人的线索一律 404）"""
    resident_id = current_resident().id
    return queries.resident_view(service.resident_clue(tracking_no, resident_id), resident_id)


@bp.post("/me/clues")
@limiter.limit(configured("RATE_LIMIT_CLUE_NETWORK"), key_func=network_key, scope="clue-network")
@limiter.limit(
    configured("RATE_LIMIT_CLUE_RESIDENT"),
    key_func=bearer_key(resident_id_from_token),
    scope="clue-resident",
)
@resident_required
@bp.input(DirectReportIn, arg_name="body")
@bp.output(ClueSummaryOut, status_code=201)
@bp.doc(responses={404: "二维码不存在", 410: "二维码已停用", 429: "反映过于频繁"})
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
    return queries.resident_view(service.resident_clue(tracking_no, resident_id), resident_id)


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
    return queries.resident_view(service.resident_clue(tracking_no, resident_id), resident_id)


@bp.post("/me/clues/<tracking_no>/withdraw")
@resident_required
@bp.input(WithdrawIn, arg_name="body")
@bp.output(MyClueOut)
@bp.doc(responses={404: "没有这条线索", 409: "已开始审核，不能撤回"})
def withdraw(tracking_no: str, body: WithdrawIn):
    """撤回自己反映的问题（审核前）"""
    resident_id = current_resident().id
    clue = service.get_clue(service.resident_clue(tracking_no, resident_id).id, for_update=True)
    service.withdraw_clue(clue, resident_id=resident_id, reason=body.reason)
    db.session.commit()
    return queries.resident_view(service.resident_clue(tracking_no, resident_id), resident_id)
