"""Endpoints of the seed cities' practices: 差评整改, 回访, 约谈 records, public summaries."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from apiflask import APIBlueprint
from pydantic import Field, StringConstraints

from app.auth import current_staff, staff_required
from app.clock import local_date, utcnow
from app.extensions import db
from app.org import service as org_service
from app.org.models import Role, StaffAccount
from app.schemas import Day, Page, PageQuery, Schema, StrictId
from clues import practices, service
from clues.practice_models import (
    BadRatingRectification,
    CallbackResult,
    ClueCallback,
    Interview,
    RectificationStatus,
)
from evaluations.models import Evaluation

bp = APIBlueprint("practices", __name__, url_prefix="/api/v1", tag="整改、回访与约谈")

BAD_RATING_READERS = (Role.VERIFIER, Role.SUPERIOR, Role.SCREENER, Role.ADMIN)
RECTIFIERS = (Role.VERIFIER, Role.SUPERIOR)
CALLBACK_ROLES = (Role.SCREENER, Role.SUPERIOR)
INTERVIEW_ROLES = (Role.SUPERIOR, Role.ADMIN)

Note = Annotated[str, StringConstraints(max_length=2000)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=5000)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]


def _visible_clue(clue_id: int, **_: object) -> None:
    service.ensure_visible(current_staff(), service.get_clue(clue_id))


class Ref(Schema):
    id: int
    name: str


# ---------------------------------------------------------------- 差评整改


class BadRatingQuery(PageQuery):
    status: RectificationStatus | None = Field(None, description="open 待整改；rectified 已整改")


class BadRatingOut(Schema):
    id: int
    unit: Ref
    officer_id: int | None
    level: int
    reasons: list[str]
    comment: str
    rated_on: date = Field(description="评价日期（只到日期，不给出具体时刻）")
    status: RectificationStatus
    status_label: str
    due_at: datetime = Field(description="整改和回访的期限")
    is_overdue: bool
    measures: str
    callback_result: CallbackResult | None
    callback_result_label: str | None
    rectified_at: datetime | None
    on_time: bool | None


class BadRatingPage(Page):
    items: list[BadRatingOut]


class RectifyIn(Schema):
    measures: Text = Field(description="核实情况和整改措施")
    callback_result: CallbackResult = Field(
        description="回访结果：satisfied 满意、basically_satisfied 基本满意、"
        "unsatisfied 不满意、unreachable 联系不上"
    )


def _bad_rating(row: BadRatingRectification, rating: Evaluation) -> dict[str, Any]:
    return {
        "id": row.id,
        "unit": {"id": row.unit.id, "name": row.unit.name},
        "officer_id": row.officer_id,
        "level": rating.level,
        "reasons": rating.reasons,
        "comment": rating.comment,
        "rated_on": local_date(rating.created_at),
        "status": row.status,
        "status_label": row.status.label,
        "due_at": row.due_at,
        "is_overdue": row.status is RectificationStatus.OPEN and row.due_at < utcnow(),
        "measures": row.measures,
        "callback_result": row.callback_result,
        "callback_result_label": row.callback_result.label if row.callback_result else None,
        "rectified_at": row.rectified_at,
        "on_time": row.on_time,
    }


@bp.get("/bad-ratings")
@staff_required(*BAD_RATING_READERS)
@bp.input(BadRatingQuery, location="query", arg_name="query")
@bp.output(BadRatingPage)
def list_bad_ratings(query: BadRatingQuery):
    """差评整改：本人管辖范围内不带线索的差评，按整改期限排列"""
    stmt = practices.rectification_list(current_staff(), status=query.status)
    page = db.paginate(stmt, page=query.page, per_page=query.per_page, error_out=False)
    ratings = {
        rating.id: rating
        for rating in db.session.scalars(
            sa.select(Evaluation).where(Evaluation.id.in_([r.evaluation_id for r in page.items]))
        )
    }
    return {
        "items": [_bad_rating(row, ratings[row.evaluation_id]) for row in page.items],
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
    }


@bp.post("/bad-ratings/<int:rectification_id>/rectify")
@staff_required(*RECTIFIERS)
@bp.input(RectifyIn, arg_name="body")
@bp.output(BadRatingOut)
@bp.doc(responses={409: "已整改过"})
def rectify_bad_rating(rectification_id: int, body: RectifyIn):
    """登记差评的核实整改情况和回访结果（期限内完成计为按期整改）"""
    row = practices.rectify(
        rectification_id=rectification_id,
        staff=current_staff(),
        measures=body.measures,
        callback_result=body.callback_result,
    )
    db.session.commit()
    return _bad_rating(row, db.session.get(Evaluation, row.evaluation_id))


# ---------------------------------------------------------------- 回访


class CallbackIn(Schema):
    result: CallbackResult = Field(
        description="satisfied 满意、basically_satisfied 基本满意、unsatisfied 不满意、"
        "unreachable 联系不上"
    )
    note: Note = ""


class CallbackQuery(Schema):
    reason: Annotated[str, StringConstraints(min_length=2, max_length=200)] | None = Field(
        None, description="查看反映人电话的理由（如“回访”）；给出时才返回电话，并记入审计日志"
    )


class CallbackOut(Schema):
    id: int
    result: CallbackResult
    result_label: str
    note: str
    called_at: datetime
    staff: str


class CallbackList(Schema):
    items: list[CallbackOut]
    due: bool = Field(description="需要回访：实名保密的反映人未回评（或无法回评）")
    can_read_reporter: bool = Field(description="本人可否查看反映人电话")
    reporter_phone: str | None = Field(description="仅在可查看且给出理由时返回")


def _callback(row: ClueCallback, names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "result": row.result,
        "result_label": row.result.label,
        "note": row.note,
        "called_at": row.called_at,
        "staff": names.get(row.staff_id, ""),
    }


def _callbacks(clue_id: int, reason: str | None) -> dict[str, Any]:
    staff = current_staff()
    clue = service.get_clue(clue_id)
    reporter, allowed = practices.reporter_for_callback(clue, staff=staff, reason=reason)
    rows = practices.callbacks_of(clue)
    names = dict(
        db.session.execute(
            sa.select(StaffAccount.id, StaffAccount.display_name).where(
                StaffAccount.id.in_({r.staff_id for r in rows})
            )
        ).all()
    )
    return {
        "items": [_callback(row, names) for row in rows],
        "due": practices.is_callback_due(clue),
        "can_read_reporter": allowed,
        "reporter_phone": reporter.phone if reporter else None,
    }


@bp.get("/clues/<int:clue_id>/callbacks")
@staff_required(*CALLBACK_ROLES, scope=_visible_clue)
@bp.input(CallbackQuery, location="query", arg_name="query")
@bp.output(CallbackList)
@bp.doc(responses={403: "查看电话：所在单位是被反映单位或其下级，或角色不能查看反映人"})
def list_callbacks(clue_id: int, query: CallbackQuery):
    """回访记录；可查看反映人的审核交办人员给出理由时附反映人电话（记入审计日志）"""
    answer = _callbacks(clue_id, query.reason)
    db.session.commit()  # the audited read of the phone
    return answer


@bp.post("/clues/<int:clue_id>/callbacks")
@staff_required(*CALLBACK_ROLES, scope=_visible_clue)
@bp.input(CallbackIn, arg_name="body")
@bp.output(CallbackList, status_code=201)
@bp.doc(responses={409: "线索尚未办结"})
def add_callback(clue_id: int, body: CallbackIn):
    """登记一次回访（办结后）：满意、基本满意、不满意或联系不上"""
    practices.record_callback(
        service.get_clue(clue_id, for_update=True),
        staff=current_staff(),
        result=body.result,
        note=body.note,
    )
    db.session.commit()
    return _callbacks(clue_id, None), 201


# ---------------------------------------------------------------- public summary


class PublicSummaryIn(Schema):
    text: Annotated[str, StringConstraints(max_length=500)] = Field(
        description="公开页面显示的办理情况（不得含个人信息）；空字符串撤回"
    )


class PublicSummaryOut(Schema):
    clue_id: int
    text: str
    approved_at: datetime


@bp.put("/clues/<int:clue_id>/public-summary")
@staff_required(Role.SCREENER, scope=_visible_clue)
@bp.input(PublicSummaryIn, arg_name="body")
@bp.output(PublicSummaryOut)
@bp.doc(responses={409: "线索尚未办结"})
def put_public_summary(clue_id: int, body: PublicSummaryIn):
    """审定公开摘要：开启公开页面时，只有审定过的文字会显示"""
    summary = practices.approve_public_summary(
        service.get_clue(clue_id, for_update=True), staff=current_staff(), text=body.text
    )
    db.session.commit()
    return summary


# ---------------------------------------------------------------- 约谈


class InterviewQuery(PageQuery):
    open: bool | None = Field(None, description="true 只看尚未跟进的")


class InterviewIn(Schema):
    unit_id: StrictId
    held_on: Day = Field(description="约谈日期")
    interviewer: Name = Field(description="约谈人")
    interviewee: Name = Field(description="被约谈人（单位负责人）")
    reason: Note = Field("", description="约谈事由，如按期办结率低于 80%")
    commitments: Text = Field(description="整改承诺")
    follow_up_due_on: Day | None = Field(
        None, description="跟进期限；默认约谈后 INTERVIEW_FOLLOW_UP_DAYS 个工作日"
    )


class FollowUpIn(Schema):
    note: Text = Field(description="承诺事项的落实情况")


class InterviewOut(Schema):
    id: int
    unit: Ref
    held_on: date
    interviewer: str
    interviewee: str
    reason: str
    commitments: str
    follow_up_due_at: datetime
    followed_up_at: datetime | None
    follow_up_note: str
    is_overdue: bool


class InterviewPage(Page):
    items: list[InterviewOut]


def _interview(row: Interview) -> dict[str, Any]:
    return {
        **{
            key: getattr(row, key)
            for key in (
                "id",
                "held_on",
                "interviewer",
                "interviewee",
                "reason",
                "commitments",
                "follow_up_due_at",
                "followed_up_at",
                "follow_up_note",
            )
        },
        "unit": {"id": row.unit.id, "name": row.unit.name},
        "is_overdue": row.followed_up_at is None and row.follow_up_due_at < utcnow(),
    }


@bp.get("/interviews")
@staff_required(*INTERVIEW_ROLES)
@bp.input(InterviewQuery, location="query", arg_name="query")
@bp.output(InterviewPage)
def list_interviews(query: InterviewQuery):
    """约谈记录：本人管辖范围内单位的约谈及其跟进"""
    stmt = sa.select(Interview).where(practices.interviews_visible_to(current_staff()))
    if query.open is not None:
        pending = Interview.followed_up_at.is_(None)
        stmt = stmt.where(pending if query.open else ~pending)
    page = db.paginate(
        stmt.order_by(Interview.held_on.desc(), Interview.id.desc()),
        page=query.page,
        per_page=query.per_page,
        error_out=False,
    )
    return {
        "items": [_interview(row) for row in page.items],
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
    }


@bp.post("/interviews")
@staff_required(*INTERVIEW_ROLES)
@bp.input(InterviewIn, arg_name="body")
@bp.output(InterviewOut, status_code=201)
@bp.doc(responses={404: "单位不存在"})
def add_interview(body: InterviewIn):
    """登记一次约谈：约谈人、被约谈人、整改承诺和跟进期限（期限前提醒，逾期逐级督办）"""
    interview = practices.record_interview(
        staff=current_staff(),
        unit=org_service.get_unit(body.unit_id),
        held_on=body.held_on,
        interviewer=body.interviewer,
        interviewee=body.interviewee,
        reason=body.reason,
        commitments=body.commitments,
        follow_up_due_on=body.follow_up_due_on,
    )
    db.session.commit()
    return _interview(interview)


@bp.post("/interviews/<int:interview_id>/follow-up")
@staff_required(*INTERVIEW_ROLES)
@bp.input(FollowUpIn, arg_name="body")
@bp.output(InterviewOut)
@bp.doc(responses={409: "已跟进过"})
def follow_up(interview_id: int, body: FollowUpIn):
    """登记约谈承诺的落实情况（跟进环节结束）"""
    interview = practices.follow_up_interview(
        interview_id=interview_id, staff=current_staff(), note=body.note
    )
    db.session.commit()
    return _interview(interview)
