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
from notifications.channels import sms
from notifications.inbox import notify_staff
from notifications.models import Channel
from notifications.outbox import enqueue
from notifications.wording import render

# Messages to the reporter, by the action that causes them.
RESIDENT_MESSAGES = {
    Action.ACCEPT: "clue_accepted",
    Action.REJECT: "clue_result",
    Action.APPROVE: "clue_result",
    Action.CLOSE_12345: "clue_result",
    Action.REOPEN: "appeal_decision",
    Action.UPHOLD: "appeal_decision",
}

# SMS to consenting confidential reporters, by the action; the closure's SMS goes out with the
# re-rating invitation (on_rerating_invited), one message carrying both.
SMS_MESSAGES = {
    Action.ACCEPT: "clue_accepted",
    Action.MERGE: "clue_accepted",  # taken up together with the same matter: accepted too
    Action.REJECT: "clue_result",
    Action.REOPEN: "appeal_decision",
    Action.UPHOLD: "appeal_decision",
}

# Inbox messages to staff: action → (roles, whose unit: "assigned" or "clue"); the title is
# the template inbox/clue_<action>.txt.
STAFF_MESSAGES: dict[Action, tuple[tuple[Role, ...], str]] = {
    Action.ASSIGN: ((Role.VERIFIER,), "assigned"),
    Action.REASSIGN: ((Role.VERIFIER,), "assigned"),
    Action.SEND_BACK: ((Role.SCREENER,), "clue"),
    Action.SUBMIT_REPORT: ((Role.SUPERIOR,), "assigned"),
    Action.REQUEST_EXTENSION: ((Role.SUPERIOR,), "assigned"),
    Action.APPROVE_EXTENSION: ((Role.VERIFIER,), "assigned"),
    Action.DENY_EXTENSION: ((Role.VERIFIER,), "assigned"),
    Action.RETURN: ((Role.VERIFIER,), "assigned"),
    Action.APPEAL: ((Role.SUPERIOR,), "assigned"),
    Action.REOPEN: ((Role.VERIFIER,), "assigned"),
    Action.APPROVE: ((Role.VERIFIER,), "assigned"),
}


def resident_message(kind: str, clue: Clue) -> dict[str, Any]:
    """The facts a resident's message is made of; the WeChat channel fits them to a template."""
    return {
        "tracking_no": clue.tracking_no,
        "unit_name": clue.unit.name,
        "status_label": clue.status.label,
        "outcome_label": clue.outcome.resident_label if clue.outcome else "",
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
    if action in SMS_MESSAGES:
        kind = SMS_MESSAGES[action]
        for clue_id, resident_id in sms.recipients(kind, clue):
            sms.queue_sms(
                kind=kind,
                clue_id=clue_id,
                resident_id=resident_id,
                payload=resident_message(kind, clue),
                event_id=f"clue-event:{event.id}:{kind}:sms:{resident_id}",
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
        roles, whose = STAFF_MESSAGES[action]
        unit = clue.assigned_unit if whose == "assigned" and clue.assigned_unit else clue.unit
        notify_staff(
            roles=roles,
            unit=unit,
            kind=f"clue_{action.value}",
            title=render(f"inbox/clue_{action.value}.txt", tracking_no=clue.tracking_no),
            body=event.note or "",
            clue_id=clue.id,
            dedupe_key=f"clue-event:{event.id}",
        )


def on_clue_filed(clue: Clue, *, warnings: list[Any], **_: Any) -> None:
    notify_staff(
        roles=(Role.SCREENER,),
        unit=clue.unit,
        kind="clue_filed",
        title=render("inbox/clue_filed.txt", tracking_no=clue.tracking_no, warned=bool(warnings)),
        body=clue.description[:200],
        clue_id=clue.id,
        dedupe_key=f"clue-filed:{clue.id}",
    )


def on_rerating_invited(invitation: ReratingInvitation, **_: Any) -> None:
    clue = db.session.get(Clue, invitation.clue_id)
    if clue is None:
        return
    payload = {
        **resident_message("rerating_invite", clue),
        "expires_at": invitation.expires_at.isoformat(),
    }
    own_clue = sms.consenting_follower(clue, invitation.resident_id)
    if own_clue is not None:
        sms.queue_sms(
            kind="rerating_invite",
            clue_id=own_clue,
            resident_id=invitation.resident_id,
            payload=payload,
            event_id=f"rerating-invite:{invitation.id}:sms",
        )
    if not wechat_reporters([invitation.resident_id]):
        return
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
        title=render("inbox/referral.txt", tracking_no=referral.clue.tracking_no),
        referral_id=referral.id,
        clue_id=referral.clue_id,
        dedupe_key=f"referral:{referral.id}",
    )
