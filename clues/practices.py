"""The seed cities' practices around the loop, as services: 差评整改 of bad ratings that carry
no clue, return visits (回访) to reporters, 约谈 records and their follow-up, and the public
summary of a closed clue. Services flush, never commit.

The rectification of a bad rating and the follow-up of a 约谈 are deadline-bound stages like
a clue's: they are registered with the deadline sweep (app/deadlines.py) at the end of this
module, which reminds the unit before the due date and escalates up the unit tree after it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.audit import record_audit
from app.clock import local_date, local_day_end, utcnow
from app.deadlines import Audience, DeadlineKind, StageKind, register_stage
from app.errors import Conflict, Invalid, NotFound, NotPermitted, OutOfScope
from app.extensions import db
from app.org.models import Role, StaffAccount, Unit, subtree_ids
from app.workdays import load_calendar
from clues.models import Clue, ClueReporter, ReporterIdentity, ReratingInvitation
from clues.practice_models import (
    BadRatingRectification,
    CallbackResult,
    ClueCallback,
    Interview,
    PublicSummary,
    RectificationStatus,
)
from clues.service import ReporterView, read_reporter, reporter_refusal
from clues.states import ClueStatus
from evaluations.models import Evaluation
from evaluations.questionnaire import BAD_LEVELS

# ---------------------------------------------------------------- 差评整改


def _without_clue() -> sa.ColumnElement[bool]:
    return ~sa.exists().where(Clue.evaluation_id == Evaluation.id)


def open_rectifications(now: datetime | None = None, *, since: datetime | None = None) -> int:
    """Send every counted bad rating given by `now` (and since `since`) that carries no clue
    to its unit, with the deadline counted in working days from the rating (once per rating)."""
    now = now or utcnow()
    window = sa.true() if since is None else Evaluation.created_at >= since
    pending = db.session.execute(
        sa.select(Evaluation.id, Evaluation.unit_id, Evaluation.officer_id, Evaluation.created_at)
        .where(
            Evaluation.level.in_(BAD_LEVELS),
            sa.not_(Evaluation.is_excluded),
            Evaluation.created_at <= now,
            window,
            _without_clue(),
            ~sa.exists().where(BadRatingRectification.evaluation_id == Evaluation.id),
        )
        .order_by(Evaluation.id)
    ).all()
    if not pending:
        return 0
    calendar = load_calendar()
    days = current_app.config["BAD_RATING_RECTIFY_DAYS"]
    db.session.execute(
        sa.insert(BadRatingRectification),
        [
            {
                "evaluation_id": row.id,
                "unit_id": row.unit_id,
                "officer_id": row.officer_id,
                "status": RectificationStatus.OPEN,
                "opened_at": row.created_at,
                "due_at": calendar.deadline(row.created_at, days),
                "measures": "",
            }
            for row in pending
        ],
    )
    return len(pending)


def rectifications_visible_to(staff: StaffAccount) -> sa.ColumnElement[bool]:
    """Bad ratings of units in the staff member's subtree, less those naming their own
    officer record (nobody rectifies a bad rating of themselves)."""
    in_scope = BadRatingRectification.unit_id.in_(subtree_ids(staff.unit))
    if staff.officer_id is None:
        return in_scope
    return sa.and_(
        in_scope,
        BadRatingRectification.officer_id.is_(None)
        | (BadRatingRectification.officer_id != staff.officer_id),
    )


def rectification_list(
    staff: StaffAccount, *, status: RectificationStatus | None = None
) -> sa.Select[Any]:
    """The bad ratings a staff member sees, oldest deadline first."""
    stmt = sa.select(BadRatingRectification).where(rectifications_visible_to(staff))
    if status is not None:
        stmt = stmt.where(BadRatingRectification.status == status)
    return stmt.order_by(BadRatingRectification.due_at, BadRatingRectification.id)


def rectify(
    *, rectification_id: int, staff: StaffAccount, measures: str, callback_result: CallbackResult
) -> BadRatingRectification:
    """Record what the unit found and fixed and how the call back went; once."""
    row = db.session.scalar(
        sa.select(BadRatingRectification)
        .where(BadRatingRectification.id == rectification_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise NotFound("差评记录不存在", details={"id": rectification_id})
    visible = db.session.scalar(
        sa.select(sa.literal(True)).where(
            BadRatingRectification.id == row.id, rectifications_visible_to(staff)
        )
    )
    if not visible:
        raise OutOfScope("该差评不在您的管辖范围内", details={"id": row.id})
    if row.status is RectificationStatus.RECTIFIED:
        raise Conflict("该差评已整改", code="already_rectified", details={"id": row.id})
    now = utcnow()
    row.status = RectificationStatus.RECTIFIED
    row.measures = measures
    row.callback_result = callback_result
    row.rectified_by = staff.id
    row.rectified_at = now
    row.on_time = now <= row.due_at
    db.session.flush()
    return row


def _open_rectification_items(now: datetime) -> sa.Select[Any]:
    row = BadRatingRectification
    return sa.select(
        row.id.label("item_id"),
        row.unit_id.label("unit_id"),
        row.due_at.label("due_at"),
        sa.null().label("clue_id"),
        sa.literal("群众差评的核实整改和回访").label("subject"),
    ).where(row.opened_at <= now, sa.or_(row.rectified_at.is_(None), row.rectified_at > now))


# ---------------------------------------------------------------- 回访


def callback_due() -> sa.ColumnElement[bool]:
    """Closed clues whose reporter should get a return visit: a confidential reporter with a
    phone who has not re-rated, once the re-rating window is over, or at once when they had
    no way to re-rate (registered by staff, no resident identity, no SMS consent)."""
    now = utcnow()
    rated = sa.exists().where(
        ReratingInvitation.clue_id == Clue.id, ReratingInvitation.status == "rated"
    )
    cannot_rerate = sa.and_(ClueReporter.resident_id.is_(None), ~ClueReporter.sms_consent)
    window_over = sa.and_(Clue.rerating_due_at.is_not(None), Clue.rerating_due_at <= now)
    return sa.and_(
        Clue.status == ClueStatus.CLOSED,
        sa.exists().where(
            ClueReporter.clue_id == Clue.id,
            # Confidential reporters always gave a phone; not its presence, which the retention
            # sweep ends months later, so that the figure for a past period never changes.
            ClueReporter.identity == ReporterIdentity.CONFIDENTIAL,
            sa.or_(cannot_rerate, window_over),
        ),
        ~rated,
    )


def has_callback() -> sa.ColumnElement[bool]:
    return sa.exists().where(ClueCallback.clue_id == Clue.id)


def record_callback(
    clue: Clue, *, staff: StaffAccount, result: CallbackResult, note: str
) -> ClueCallback:
    """A return visit to the reporter of a closed clue (scope checked by the caller)."""
    if clue.status is not ClueStatus.CLOSED:
        raise Conflict(
            "线索办结后才能回访", code="not_closed", details={"status": clue.status.value}
        )
    callback = ClueCallback(clue_id=clue.id, staff_id=staff.id, result=result, note=note)
    db.session.add(callback)
    db.session.flush()
    return callback


def callbacks_of(clue: Clue) -> list[ClueCallback]:
    return list(
        db.session.scalars(
            sa.select(ClueCallback)
            .where(ClueCallback.clue_id == clue.id)
            .order_by(ClueCallback.called_at, ClueCallback.id)
        )
    )


def is_callback_due(clue: Clue) -> bool:
    return bool(
        db.session.scalar(sa.select(sa.literal(True)).where(Clue.id == clue.id, callback_due()))
    )


def reporter_for_callback(
    clue: Clue, *, staff: StaffAccount, reason: str | None
) -> tuple[ReporterView | None, bool]:
    """The reporter's contact for a return visit, only to those who may learn who reported
    and only when they give a reason (read_reporter audits it); and whether they may."""
    allowed = reporter_refusal(clue, staff) is None
    if not allowed or not reason:
        return None, allowed
    return read_reporter(clue, staff=staff, reason=reason), True


# ---------------------------------------------------------------- 约谈


def record_interview(
    *,
    staff: StaffAccount,
    unit: Unit,
    held_on: date,
    interviewer: str,
    interviewee: str,
    reason: str,
    commitments: str,
    follow_up_due_on: date | None,
) -> Interview:
    """Record a 约谈 of `unit` and when its commitments are to be followed up."""
    if not staff.unit.contains(unit):
        raise OutOfScope("该单位不在您的管辖范围内", details={"unit_id": unit.id})
    if held_on > local_date():
        raise Invalid({"held_on": "约谈日期不能晚于今天"}, "约谈日期不能晚于今天")
    if follow_up_due_on is None:
        due = load_calendar().deadline(
            local_day_end(held_on), current_app.config["INTERVIEW_FOLLOW_UP_DAYS"]
        )
    elif follow_up_due_on <= held_on:
        raise Invalid({"follow_up_due_on": "跟进期限须晚于约谈日期"}, "跟进期限须晚于约谈日期")
    else:
        due = local_day_end(follow_up_due_on)
    interview = Interview(
        unit_id=unit.id,
        held_on=held_on,
        interviewer=interviewer,
        interviewee=interviewee,
        reason=reason,
        commitments=commitments,
        follow_up_due_at=due,
        follow_up_note="",
        recorded_by=staff.id,
    )
    db.session.add(interview)
    db.session.flush()
    record_audit(
        "interview.recorded",
        object_type="interview",
        object_id=interview.id,
        unit_id=unit.id,
        details={"held_on": held_on.isoformat()},
    )
    return interview


def follow_up_interview(*, interview_id: int, staff: StaffAccount, note: str) -> Interview:
    """Record how the unit kept its commitments: the follow-up stage ends."""
    interview = db.session.get(Interview, interview_id, with_for_update=True)
    if interview is None:
        raise NotFound("约谈记录不存在", details={"id": interview_id})
    if not staff.unit.contains(interview.unit):
        raise OutOfScope("该约谈不在您的管辖范围内", details={"id": interview_id})
    if interview.followed_up_at is not None:
        raise Conflict("该约谈已跟进", code="already_followed_up", details={"id": interview_id})
    interview.followed_up_at = utcnow()
    interview.followed_up_by = staff.id
    interview.follow_up_note = note
    db.session.flush()
    return interview


def interviews_visible_to(staff: StaffAccount) -> sa.ColumnElement[bool]:
    return Interview.unit_id.in_(subtree_ids(staff.unit))


def _open_interview_items(now: datetime) -> sa.Select[Any]:
    return sa.select(
        Interview.id.label("item_id"),
        Interview.unit_id.label("unit_id"),
        Interview.follow_up_due_at.label("due_at"),
        sa.null().label("clue_id"),
        sa.literal("约谈承诺事项的整改落实").label("subject"),
    ).where(
        Interview.created_at <= now,
        sa.or_(Interview.followed_up_at.is_(None), Interview.followed_up_at > now),
    )


# ---------------------------------------------------------------- public summaries


def approve_public_summary(clue: Clue, *, staff: StaffAccount, text: str) -> PublicSummary:
    """A screener approves the text the public page may show for a closed clue; an empty
    text withdraws it (the page then shows the outcome without text)."""
    if clue.status is not ClueStatus.CLOSED:
        raise Conflict(
            "线索办结后才能公开", code="not_closed", details={"status": clue.status.value}
        )
    if staff.role is not Role.SCREENER:
        raise NotPermitted("只有审核交办人员可以审定公开摘要")
    summary = db.session.get(PublicSummary, clue.id)
    if summary is None:
        summary = PublicSummary(clue_id=clue.id, text=text, approved_by=staff.id)
        db.session.add(summary)
    summary.text, summary.approved_by, summary.approved_at = text, staff.id, utcnow()
    db.session.flush()
    record_audit(
        "clue.public_summary",
        object_type="clue",
        object_id=clue.id,
        unit_id=staff.unit_id,
        details={"tracking_no": clue.tracking_no, "length": len(text)},
    )
    return summary


register_stage(
    StageKind(
        kind=DeadlineKind.BAD_RATING,
        audience=Audience.LETTER,
        open_items=_open_rectification_items,
        roles=(Role.VERIFIER,),
    )
)
register_stage(
    StageKind(
        kind=DeadlineKind.INTERVIEW,
        audience=Audience.LETTER,
        open_items=_open_interview_items,
        roles=(Role.VERIFIER, Role.SUPERIOR),
    )
)
