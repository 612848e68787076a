"""Clue statuses, actions and the one transition table: (status, action, role) → status.

Every state change in the product goes through `next_status()`; anything not in the table is
refused (409 for a known action in the wrong status, 403 for a role the action never serves).
The table is data: `flask --app run clues states` prints it, and the tests walk all of it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from app.errors import ApiError


class ClueStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    ASSIGNED = "assigned"
    VERIFYING = "verifying"
    REVIEWING = "reviewing"
    CLOSED = "closed"
    APPEALED = "appealed"
    REJECTED = "rejected"
    MERGED = "merged"
    FORWARDED = "forwarded"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    ClueStatus.SUBMITTED: "待审核",
    ClueStatus.ACCEPTED: "已受理",
    ClueStatus.ASSIGNED: "已交办",
    ClueStatus.VERIFYING: "核查中",
    ClueStatus.REVIEWING: "待上级审核",
    ClueStatus.CLOSED: "已办结",
    ClueStatus.APPEALED: "复核申请中",
    ClueStatus.REJECTED: "不予受理",
    ClueStatus.MERGED: "已并案",
    ClueStatus.FORWARDED: "已转 12345",
}

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


class Action(enum.StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    MERGE = "merge"
    FORWARD_12345 = "forward_12345"
    ASSIGN = "assign"
    START = "start"
    SUBMIT_REPORT = "submit_report"
    APPROVE = "approve"
    RETURN = "return"
    REQUEST_EXTENSION = "request_extension"
    APPROVE_EXTENSION = "approve_extension"
    DENY_EXTENSION = "deny_extension"
    REOPEN = "reopen"
    UPHOLD = "uphold"
    REFER = "refer"
    APPEAL = "appeal"
    CLOSE_12345 = "close_12345"

    @property
    def label(self) -> str:
        return ACTION_LABELS[self]


ACTION_LABELS = {
    Action.ACCEPT: "受理",
    Action.REJECT: "不予受理",
    Action.MERGE: "并案",
    Action.FORWARD_12345: "转 12345",
    Action.ASSIGN: "交办",
    Action.START: "开始核查",
    Action.SUBMIT_REPORT: "提交核查报告",
    Action.APPROVE: "审核通过",
    Action.RETURN: "退回重查",
    Action.REQUEST_EXTENSION: "申请延期",
    Action.APPROVE_EXTENSION: "批准延期",
    Action.DENY_EXTENSION: "不批准延期",
    Action.REOPEN: "重新核查",
    Action.UPHOLD: "维持原结论",
    Action.REFER: "移交纪检",
    Action.APPEAL: "群众申请复核",
    Action.CLOSE_12345: "12345 办结",
}


class Actor(enum.StrEnum):
    """Who may take an action: the staff roles, the reporter, and the 12345 platform."""

    SCREENER = "screener"
    VERIFIER = "verifier"
    SUPERIOR = "superior"
    RESIDENT = "resident"
    PLATFORM = "platform"


S, A, R = ClueStatus, Action, Actor

TRANSITIONS: dict[tuple[ClueStatus, Action, Actor], ClueStatus] = {
    (S.SUBMITTED, A.ACCEPT, R.SCREENER): S.ACCEPTED,
    (S.SUBMITTED, A.REJECT, R.SCREENER): S.REJECTED,
    (S.SUBMITTED, A.MERGE, R.SCREENER): S.MERGED,
    (S.SUBMITTED, A.FORWARD_12345, R.SCREENER): S.FORWARDED,
    (S.ACCEPTED, A.ASSIGN, R.SCREENER): S.ASSIGNED,
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


def next_status(status: ClueStatus, action: Action, actor: Actor) -> Transition:
    """The transition for `action` by `actor` from `status`, or the refusal."""
    if actor not in ACTORS_OF[action]:
        raise ApiError(
            403,
            "forbidden",
            f"该角色不能执行“{action.label}”",
            {"action": action.value, "actor": actor.value},
        )
    target = TRANSITIONS.get((status, action, actor))
    if target is None:
        allowed = sorted(s.value for (s, a, r) in TRANSITIONS if a == action and r == actor)
        raise ApiError(
            409,
            "illegal_transition",
            f"线索当前状态为“{status.label}”，不能执行“{action.label}”",
            {"status": status.value, "action": action.value, "allowed_from": allowed},
        )
    return Transition(action, actor, status, target)


def table_rows() -> list[tuple[str, str, str, str]]:
    """The transition table as printable rows: from, action, actor, to."""
    return [
        (f"{s.value}（{s.label}）", f"{a.value}（{a.label}）", r.value, f"{t.value}（{t.label}）")
        for (s, a, r), t in TRANSITIONS.items()
    ]
