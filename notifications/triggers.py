"""What each workflow event tells whom. Receivers of the clue signals, running inside the
transaction of the change: staff inbox items directly, messages to residents and to the
12345 platform through the outbox."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.org.models import Role, Unit
from clues.models import Clue, ClueReporter, Referral, ReratingInvitation
from clues.states import Action, Transition
from evaluations.identity import Channel as ResidentChannel
from evaluations.identity import Resident
from notifications.inbox import notify_staff
from notifications.models import Channel
from notifications.outbox import enqueue

# Messages to the reporter, by the action that causes them.
RESIDENT_MESSAGES = {
    Action.ACCEPT: "clue_accepted",
    Action.REJECT: "clue_result",
    Action.APPROVE: "clue_result",
    Action.CLOSE_12345: "clue_result",
    Action.REOPEN: "appeal_decision",
    Action.UPHOLD: "appeal_decision",
}

# Inbox messages to staff: action → (roles, whose unit: "assigned" or "clue", title).
STAFF_MESSAGES: dict[Action, tuple[tuple[Role, ...], str, str]] = {
    Action.ASSIGN: ((Role.VERIFIER,), "assigned", "新交办线索 {no}，请按期核查"),
    Action.SUBMIT_REPORT: ((Role.SUPERIOR,), "assigned", "线索 {no} 的核查报告待审核"),
    Action.REQUEST_EXTENSION: ((Role.SUPERIOR,), "assigned", "线索 {no} 申请延期，待审批"),
    Action.APPROVE_EXTENSION: ((Role.VERIFIER,), "assigned", "线索 {no} 的延期申请已批准"),
    Action.DENY_EXTENSION: ((Role.VERIFIER,), "assigned", "线索 {no} 的延期申请未获批准"),
    Action.RETURN: ((Role.VERIFIER,), "assigned", "线索 {no} 被退回重查"),
    Action.APPEAL: ((Role.SUPERIOR,), "assigned", "线索 {no} 的反映人申请复核"),
    Action.REOPEN: ((Role.VERIFIER,), "assigned", "线索 {no} 经复核需重新核查"),
    Action.APPROVE: ((Role.VERIFIER,), "assigned", "线索 {no} 已审核通过办结"),
}


def resident_message(kind: str, clue: Clue) -> dict[str, Any]:
    """The facts a resident's message is made of; the WeChat channel fits them to a template."""
    return {
        "tracking_no": clue.tracking_no,
        "unit_name": clue.unit.name,
        "status_label": clue.status.label,
        "outcome_label": clue.outcome.label if clue.outcome else "",
        "message": clue.reporter_message,
        "page": f"pages/clue/detail?no={clue.tracking_no}",
    }


def wechat_reporters(resident_ids: list[int]) -> list[int]:
    """Only residents who came through WeChat can be sent subscribe messages."""
    if not resident_ids:
        return []
    return list(
        db.session.scalars(
            sa.select(Resident.id).where(
                Resident.id.in_(resident_ids), Resident.channel == ResidentChannel.WECHAT
            )
        )
    )


def _followers(clue: Clue, include_merged: bool) -> list[int]:
    condition = Clue.id == clue.id
    if include_merged:
        condition = sa.or_(condition, Clue.master_id == clue.id)
    return list(
        db.session.scalars(
            sa.select(ClueReporter.resident_id)
            .join(Clue, Clue.id == ClueReporter.clue_id)
            .where(condition, ClueReporter.resident_id.is_not(None))
            .distinct()
        )
    )


def on_clue_transitioned(clue: Clue, *, transition: Transition, event: Any, **_: Any) -> None:
    action = transition.action
    if action in RESIDENT_MESSAGES:
        kind = RESIDENT_MESSAGES[action]
        closing = action in (Action.APPROVE, Action.CLOSE_12345)
        for resident_id in wechat_reporters(_followers(clue, include_merged=closing)):
            enqueue(
                channel=Channel.WECHAT,
                kind=kind,
                payload=resident_message(kind, clue),
                event_id=f"clue-event:{event.id}:{kind}:{resident_id}",
                resident_id=resident_id,
                clue_id=clue.id,
            )
    if action is Action.FORWARD_12345:
        enqueue(
            channel=Channel.HOTLINE,
            kind="forward",
            clue_id=clue.id,
            event_id=f"pingyi-forward-{clue.tracking_no}",
            payload={
                "tracking_no": clue.tracking_no,
                "category": clue.category.value,
                "category_label": clue.category.label,
                "unit_name": clue.unit.name,
                "description": clue.description,
                "submitted_at": clue.submitted_at.isoformat(),
            },
        )
    if action in STAFF_MESSAGES:
        roles, whose, title = STAFF_MESSAGES[action]
        unit = clue.assigned_unit if whose == "assigned" and clue.assigned_unit else clue.unit
        notify_staff(
            roles=roles,
            unit=unit,
            kind=f"clue_{action.value}",
            title=title.format(no=clue.tracking_no),
            body=event.note or "",
            clue_id=clue.id,
            dedupe_key=f"clue-event:{event.id}",
        )


def on_clue_filed(clue: Clue, *, warnings: list[Any], **_: Any) -> None:
    title = f"新线索 {clue.tracking_no} 待审核"
    if warnings:
        title += "（高频线索预警）"
    notify_staff(
        roles=(Role.SCREENER,),
        unit=clue.unit,
        kind="clue_filed",
        title=title,
        body=clue.description[:200],
        clue_id=clue.id,
        dedupe_key=f"clue-filed:{clue.id}",
    )


def on_rerating_invited(invitation: ReratingInvitation, **_: Any) -> None:
    clue = db.session.get(Clue, invitation.clue_id)
    if clue is None or not wechat_reporters([invitation.resident_id]):
        return
    payload = {
        **resident_message("rerating_invite", clue),
        "expires_at": invitation.expires_at.isoformat(),
    }
    enqueue(
        channel=Channel.WECHAT,
        kind="rerating_invite",
        payload=payload,
        event_id=f"rerating-invite:{invitation.id}",
        resident_id=invitation.resident_id,
        clue_id=clue.id,
    )


def on_referral_changed(referral: Referral, *, action: str, **_: Any) -> None:
    if action != "referred":
        return
    unit = db.session.get(Unit, referral.clue.unit_id)
    notify_staff(
        roles=(Role.LIAISON,),
        unit=unit,
        kind="referral",
        title=f"线索 {referral.clue.tracking_no} 移交纪检，请签收",
        referral_id=referral.id,
        clue_id=referral.clue_id,
        dedupe_key=f"referral:{referral.id}",
    )
