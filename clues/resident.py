"""What the holder of a tracking link sees and may do: the read layer's resident view of the
link's own reporter, in plain words, with the re-rating and appeal offers decided by the same
service rules the API enforces. The JSON endpoint and the H5 page render this one dict."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.auth import Actor, set_actor
from app.clock import local_date, utcnow
from app.extensions import db
from app.org.models import Unit
from app.workdays import load_calendar
from clues import queries, service
from clues.models import Appeal, Clue, ClueReporter, ClueStage, Stage
from clues.states import ClueStatus
from clues.tracking import format_access_code, link_expires_at, tracking_of

# What happens next, per status of the followed clue, in the reporter's words.
NEXT_STEPS = {
    ClueStatus.SUBMITTED: "工作人员正在审核，决定是否受理；受理后交有关单位核查。",
    ClueStatus.ACCEPTED: "已受理，正在确定负责核查的单位。",
    ClueStatus.ASSIGNED: "已交给核查单位，核查单位将尽快开始核查。",
    ClueStatus.VERIFYING: "核查单位正在核查，结果经上级审核后告诉您。",
    ClueStatus.REVIEWING: "核查结果正在由上级审核，通过后告诉您办理结果。",
    ClueStatus.CLOSED: "已办结。请评价办理结果；如不满意，可以在期限内申请上级复核。",
    ClueStatus.APPEALED: "上级机关正在复核，将决定重新核查或维持原结论。",
    ClueStatus.REJECTED: "不予受理，原因见下方答复。如有新的情况，可以重新反映。",
    ClueStatus.FORWARDED: "已转 12345 政务服务便民热线办理，办理结果会显示在这里。",
    ClueStatus.WITHDRAWN: "您已撤回这条反映，不再办理。如有需要，可以重新反映。",
}
# Who acts in each deadline stage, for "which level is handling it".
STAGE_ACTORS = {
    Stage.SCREENING: "审核受理",
    Stage.VERIFICATION: "核查",
    Stage.REVIEW: "上级审核",
    Stage.APPEAL: "上级复核",
    Stage.FORWARDED: "12345 热线办理",
}


def link_resident_id(clue: Clue) -> int:
    """The resident whose link this is (0 for a clue staff registered for nobody)."""
    reporter = db.session.get(ClueReporter, clue.id)
    return reporter.resident_id if reporter and reporter.resident_id is not None else 0


def tracking_view(clue: Clue, *, now: datetime | None = None) -> dict[str, Any]:
    """The tracking page's content for the link of `clue`'s reporter (never the phone, never
    another reporter's reply)."""
    now = now or utcnow()
    resident_id = link_resident_id(clue)
    view = queries.resident_view(clue, resident_id, now=now)
    followed = queries.followed_clue(clue)
    stage = service.current_stage(followed)
    invitation = service.invitation_for(followed, resident_id)
    rerate = service.rerating_refusal(followed, invitation, now)
    appeal = service.appeal_refusal(followed, invitation, now)
    tracking = tracking_of(clue)
    expires = link_expires_at(clue)
    view.update(
        {
            "next_step": _next_step(followed, rerate is None, appeal is None),
            "promise": _promise(followed, stage),
            "handled_by": _handled_by(followed, stage),
            "hotline_case_no": followed.hotline_case_no,
            # The platform's answer is addressed to the forwarded clue's own reporter.
            "hotline_result": followed.reporter_message
            if followed is clue and clue.status is ClueStatus.CLOSED and _closed_by_hotline(clue)
            else "",
            "appeal": _appeal_state(followed, resident_id),
            "actions": [
                _offer("rerate", "回评", rerate),
                _offer("appeal", "申请复核", appeal),
            ],
            "access_code": format_access_code(tracking.access_code) if tracking else None,
            "link_expires_at": expires,
        }
    )
    return view


def _next_step(clue: Clue, may_rerate: bool, may_appeal: bool) -> str:
    """What happens next; once closed, it depends on what the reporter may still do."""
    if clue.status is not ClueStatus.CLOSED or may_rerate:
        return NEXT_STEPS.get(clue.status, "")
    if may_appeal:
        return "已办结。如对结果不满意，可以在期限内申请上级复核。"
    return "已办结，本事项办理完毕。感谢您的监督。"


def _offer(action: str, label: str, refusal: Exception | None) -> dict[str, Any]:
    return {
        "action": action,
        "label": label,
        "enabled": refusal is None,
        "reason": "" if refusal is None else str(getattr(refusal, "message", refusal)),
    }


def _promise(clue: Clue, stage: ClueStage | None) -> dict[str, Any] | None:
    """The current stage's promised date and its length in working days."""
    if stage is None or clue.status not in (
        ClueStatus.SUBMITTED,
        ClueStatus.ACCEPTED,
        ClueStatus.ASSIGNED,
        ClueStatus.VERIFYING,
        ClueStatus.REVIEWING,
        ClueStatus.APPEALED,
        ClueStatus.FORWARDED,
    ):
        return None
    days = load_calendar().working_days_between(
        local_date(stage.started_at), local_date(stage.due_at)
    )
    return {
        "stage_label": STAGE_ACTORS.get(stage.stage, stage.stage.label),
        "working_days": days,
        "due_at": stage.due_at,
        "extended_days": stage.extended_days,
    }


def _handled_by(clue: Clue, stage: ClueStage | None) -> str:
    """Which unit (level) has the case now, by name."""
    if clue.status is ClueStatus.FORWARDED:
        return "12345 政务服务便民热线"
    if stage is not None and stage.unit_id is not None:
        unit = db.session.get(Unit, stage.unit_id)
        if unit is not None:
            return unit.name
    if clue.status in (ClueStatus.ASSIGNED, ClueStatus.VERIFYING) and clue.assigned_unit:
        return clue.assigned_unit.name
    if clue.status in (ClueStatus.REVIEWING, ClueStatus.APPEALED):
        return "上级机关"
    if clue.status in (ClueStatus.SUBMITTED, ClueStatus.ACCEPTED):
        return "政法委群众监督受理部门"
    return ""


def _closed_by_hotline(clue: Clue) -> bool:
    return clue.forwarded_at is not None


def _appeal_state(clue: Clue, resident_id: int) -> dict[str, Any] | None:
    """The reporter's latest appeal of the followed clue and the superior's decision."""
    appeal = db.session.scalar(
        db.select(Appeal)
        .where(Appeal.clue_id == clue.id, Appeal.resident_id == resident_id)
        .order_by(Appeal.id.desc())
    )
    if appeal is None:
        return None
    return {
        "created_at": appeal.created_at,
        "reason": appeal.reason,
        "decision": appeal.decision,
        "decision_label": appeal.decision.label if appeal.decision else "待上级机关决定",
        "decided_at": appeal.decided_at,
        "decision_note": appeal.decision_note if appeal.decision else "",
    }


def clue_for_action(clue: Clue) -> Clue:
    """The clue a link's re-rating or appeal acts on (the master once merged), locked."""
    return service.get_clue(queries.followed_clue(clue).id, for_update=True)


def _act_as_reporter(clue: Clue) -> None:
    set_actor(Actor("resident", link_resident_id(clue) or None, "", "resident"))


def rerate_by_link(clue: Clue, *, level: int, resolved: bool, comment: str) -> None:
    """回评 through the tracking link, as its reporter, by the API's rules."""
    _act_as_reporter(clue)
    service.rerate_clue(
        clue_for_action(clue),
        resident_id=link_resident_id(clue),
        level=level,
        resolved=resolved,
        comment=comment,
    )


def appeal_by_link(clue: Clue, *, reason: str) -> None:
    """申请复核 through the tracking link, as its reporter, by the API's rules."""
    _act_as_reporter(clue)
    target, resident_id = clue_for_action(clue), link_resident_id(clue)
    # The reason the page's button gives, before the transition table's own wording.
    service.ensure(
        service.appeal_refusal(target, service.invitation_for(target, resident_id), utcnow())
    )
    service.appeal_clue(target, resident_id=resident_id, reason=reason)
