"""Clue statuses, actions and the one transition table: (status, action, role) → status.

Every state change in the product goes through `next_status()`; anything not in the table is
refused (IllegalTransition for a known action in the wrong status, NotPermitted for a role
the action never serves).
The table is data: `flask --app run clues states` prints it, and the tests walk all of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.enums import LabelledEnum
from app.errors import DomainError, IllegalTransition, NotPermitted
from app.org.models import Role


class ClueStatus(LabelledEnum):
    SUBMITTED = "submitted", "待审核"
    ACCEPTED = "accepted", "已受理"
    ASSIGNED = "assigned", "已交办"
    VERIFYING = "verifying", "核查中"
    REVIEWING = "reviewing", "待上级审核"
    CLOSED = "closed", "已办结"
    APPEALED = "appealed", "复核申请中"
    REJECTED = "rejected", "不予受理"
    MERGED = "merged", "已并案"
    FORWARDED = "forwarded", "已转 12345"
    WITHDRAWN = "withdrawn", "已撤回"


# Statuses in which the clue is still being handled (deadlines run, sweeps look at them).
OPEN_STATUSES = frozenset(
    {
        ClueStatus.SUBMITTED,
        ClueStatus.ACCEPTED,
        ClueStatus.ASSIGNED,
        ClueStatus.VERIFYING,
        ClueStatus.REVIEWING,
        ClueStatus.APPEALED,
        ClueStatus.FORWARDED,
    }
)


class Action(LabelledEnum):
    ACCEPT = "accept", "受理"
    REJECT = "reject", "不予受理"
    MERGE = "merge", "并案"
    FORWARD_12345 = "forward_12345", "转 12345"
    ASSIGN = "assign", "交办"
    REASSIGN = "reassign", "改派"
    SEND_BACK = "send_back", "退回交办"
    START = "start", "开始核查"
    SUBMIT_REPORT = "submit_report", "提交核查报告"
    APPROVE = "approve", "审核通过"
    RETURN = "return", "退回重查"
    REQUEST_EXTENSION = "request_extension", "申请延期"
    APPROVE_EXTENSION = "approve_extension", "批准延期"
    DENY_EXTENSION = "deny_extension", "不批准延期"
    REOPEN = "reopen", "重新核查"
    UPHOLD = "uphold", "维持原结论"
    REFER = "refer", "移交纪检"
    APPEAL = "appeal", "群众申请复核"
    CLOSE_12345 = "close_12345", "12345 办结"
    WITHDRAW = "withdraw", "群众撤回"


class Actor(LabelledEnum):
    """Who may take an action: the staff roles, the reporter, and the 12345 platform."""

    SCREENER = "screener", Role.SCREENER.label
    VERIFIER = "verifier", Role.VERIFIER.label
    SUPERIOR = "superior", Role.SUPERIOR.label
    RESIDENT = "resident", "群众"
    PLATFORM = "platform", "12345 平台"


# Who a trail entry names besides the actors above: staff of any role, and the system's jobs.
SYSTEM_ROLE_LABEL = "系统"


def role_label(role: str) -> str:
    """The Chinese name of the role a clue event or audit row records (itself if unknown)."""
    if role == "system":
        return SYSTEM_ROLE_LABEL
    return Actor.label_of(role) or Role.label_of(role) or role


S, A, R = ClueStatus, Action, Actor

TRANSITIONS: dict[tuple[ClueStatus, Action, Actor], ClueStatus] = {
    (S.SUBMITTED, A.ACCEPT, R.SCREENER): S.ACCEPTED,
    (S.SUBMITTED, A.REJECT, R.SCREENER): S.REJECTED,
    (S.SUBMITTED, A.MERGE, R.SCREENER): S.MERGED,
    (S.SUBMITTED, A.FORWARD_12345, R.SCREENER): S.FORWARDED,
    (S.SUBMITTED, A.WITHDRAW, R.RESIDENT): S.WITHDRAWN,
    (S.ACCEPTED, A.REJECT, R.SCREENER): S.REJECTED,
    (S.ACCEPTED, A.ASSIGN, R.SCREENER): S.ASSIGNED,
    (S.ASSIGNED, A.REASSIGN, R.SCREENER): S.ASSIGNED,
    (S.VERIFYING, A.REASSIGN, R.SCREENER): S.ASSIGNED,
    (S.ASSIGNED, A.SEND_BACK, R.VERIFIER): S.ACCEPTED,
    (S.VERIFYING, A.SEND_BACK, R.VERIFIER): S.ACCEPTED,
    (S.ASSIGNED, A.START, R.VERIFIER): S.VERIFYING,
    (S.VERIFYING, A.SUBMIT_REPORT, R.VERIFIER): S.REVIEWING,
    (S.VERIFYING, A.REQUEST_EXTENSION, R.VERIFIER): S.VERIFYING,
    (S.VERIFYING, A.APPROVE_EXTENSION, R.SUPERIOR): S.VERIFYING,
    (S.VERIFYING, A.DENY_EXTENSION, R.SUPERIOR): S.VERIFYING,
    (S.REVIEWING, A.APPROVE, R.SUPERIOR): S.CLOSED,
    (S.REVIEWING, A.RETURN, R.SUPERIOR): S.VERIFYING,
    (S.CLOSED, A.APPEAL, R.RESIDENT): S.APPEALED,
    (S.APPEALED, A.REOPEN, R.SUPERIOR): S.VERIFYING,
    (S.APPEALED, A.UPHOLD, R.SUPERIOR): S.CLOSED,
    (S.CLOSED, A.REFER, R.SCREENER): S.CLOSED,
    (S.CLOSED, A.REFER, R.SUPERIOR): S.CLOSED,
    (S.FORWARDED, A.CLOSE_12345, R.PLATFORM): S.CLOSED,
}

# Which actors each action serves at all (a role outside this set is a 403, not a 409).
ACTORS_OF: dict[Action, frozenset[Actor]] = {
    action: frozenset(actor for (_, a, actor) in TRANSITIONS if a == action) for action in Action
}


@dataclass(frozen=True)
class Transition:
    action: Action
    actor: Actor
    from_status: ClueStatus
    to_status: ClueStatus


def transition_refusal(status: ClueStatus, action: Action, actor: Actor) -> DomainError | None:
    """Why the table refuses `action` by `actor` from `status`, or None when it allows it."""
    if actor not in ACTORS_OF[action]:
        return NotPermitted(
            f"该角色不能执行“{action.label}”",
            code="forbidden",
            details={"action": action.value, "actor": actor.value},
        )
    if (status, action, actor) not in TRANSITIONS:
        allowed = sorted(s.value for (s, a, r) in TRANSITIONS if a == action and r == actor)
        return IllegalTransition(
            f"线索当前状态为“{status.label}”，不能执行“{action.label}”",
            details={"status": status.value, "action": action.value, "allowed_from": allowed},
        )
    return None


def next_status(status: ClueStatus, action: Action, actor: Actor) -> Transition:
    """The transition for `action` by `actor` from `status`, or the refusal raised."""
    refusal = transition_refusal(status, action, actor)
    if refusal is not None:
        raise refusal
    return Transition(action, actor, status, TRANSITIONS[(status, action, actor)])


def table_rows() -> list[tuple[str, str, str, str]]:
    """The transition table as printable rows: from, action, actor, to."""
    return [
        (f"{s.value}（{s.label}）", f"{a.value}（{a.label}）", r.value, f"{t.value}（{t.label}）")
        for (s, a, r), t in TRANSITIONS.items()
    ]
