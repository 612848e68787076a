"""The action catalogue: every staff action on a clue, once.

Per action: the request schema, the wording (button, help, success message), the business
guard and the service call. `can()` is the one predicate every front door asks — role (from the
transition table), scope, recusal, the table itself, then the action's own guard — and
`perform()` is the one way to act. The JSON API registers `POST /clues/{id}/{action}` from this
catalogue, the console's forms post to the same entries, and `available_actions()` tells any
client which buttons to show and why a button is disabled.

Adding an action: a row in `clues/states.py`'s table, a verb function in `clues/service.py`,
an entry here (see docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.errors import DomainError, NotPermitted
from app.org import service as org_service
from app.org.models import Role, StaffAccount
from app.schemas import Schema
from clues import service
from clues.models import Clue
from clues.referrals import refer_clue, referral_refusal
from clues.schemas import (
    AssignIn,
    ExtensionIn,
    MergeIn,
    NoteIn,
    ReassignIn,
    RejectIn,
    ReopenIn,
    ReportIn,
    ReturnIn,
    SendBackIn,
    UpholdIn,
)
from clues.states import ACTORS_OF, TRANSITIONS, Action, transition_refusal

Guard = Callable[[Clue, StaffAccount], DomainError | None]
ROLE_ACTORS = service.ROLE_ACTORS


@dataclass(frozen=True)
class ClueAction:
    """One staff action: what it takes, what it says, what it checks, what it does."""

    action: Action
    schema: type[Schema]
    run: Callable[[Clue, StaffAccount, Any], object]
    help: str
    done: str
    guard: Guard | None = None

    @property
    def label(self) -> str:
        return self.action.label

    @property
    def roles(self) -> tuple[Role, ...]:
        """The staff roles the transition table lets take this action."""
        return tuple(role for role, actor in ROLE_ACTORS.items() if actor in ACTORS_OF[self.action])


def _merge(clue: Clue, staff: StaffAccount, body: MergeIn) -> object:
    master = service.get_clue(body.master_id)
    return service.merge_clue(clue, staff=staff, master=master, note=body.note)


def _assign(clue: Clue, staff: StaffAccount, body: AssignIn) -> object:
    assignee = org_service.get_staff(body.assignee_id) if body.assignee_id else None
    return service.assign_clue(
        clue,
        staff=staff,
        unit=org_service.get_unit(body.unit_id),
        days=body.days,
        assignee=assignee,
        note=body.note,
        self_verification_reason=body.self_verification_reason,
    )


def _reassign(clue: Clue, staff: StaffAccount, body: ReassignIn) -> object:
    assignee = org_service.get_staff(body.assignee_id) if body.assignee_id else None
    return service.reassign_clue(
        clue,
        staff=staff,
        unit=org_service.get_unit(body.unit_id),
        reason=body.reason,
        days=body.days,
        assignee=assignee,
        self_verification_reason=body.self_verification_reason,
    )


def _reopen(clue: Clue, staff: StaffAccount, body: ReopenIn) -> object:
    unit = org_service.get_unit(body.unit_id) if body.unit_id else None
    return service.reopen_clue(clue, staff=staff, note=body.note, unit=unit)


def _verifier_then(extra: Guard | None = None) -> Guard:
    """The verifier's guard (recusal, assignee), then the action's own."""

    def guard(clue: Clue, staff: StaffAccount) -> DomainError | None:
        refusal = service.verifier_refusal(clue, staff)
        return refusal if refusal is not None or extra is None else extra(clue, staff)

    return guard


def _entries() -> list[ClueAction]:
    s = service
    return [
        ClueAction(
            Action.ACCEPT,
            NoteIn,
            lambda c, st, b: s.accept_clue(c, staff=st, note=b.note),
            "受理后交办核查单位。",
            "已受理，请交办核查单位。",
        ),
        ClueAction(
            Action.REJECT,
            RejectIn,
            lambda c, st, b: s.reject_clue(c, staff=st, reason=b.reason, message=b.message),
            "不予受理将结束这条线索，理由和说明会告知反映人。",
            "已不予受理，理由将告知反映人。",
        ),
        ClueAction(
            Action.MERGE,
            MergeIn,
            _merge,
            "与已有线索是同一事项时并入主线索，反映人改为跟随主线索。",
            "已并案，反映人将跟随主线索的办理进度。",
        ),
        ClueAction(
            Action.FORWARD_12345,
            NoteIn,
            lambda c, st, b: s.forward_clue(c, staff=st, note=b.note),
            "民生类诉求转 12345 平台办理，结果回传后自动办结。",
            "已转 12345 办理。",
            guard=lambda c, st: s.forward_refusal(c),
        ),
        ClueAction(
            Action.ASSIGN,
            AssignIn,
            _assign,
            "期限按工作日计算；不填按问题类别的默认期限。",
            "已交办。",
        ),
        ClueAction(
            Action.REASSIGN,
            ReassignIn,
            _reassign,
            "改由另一个核查单位或承办人办理，须说明理由；核查期限重新计算。",
            "已改派。",
        ),
        ClueAction(
            Action.SEND_BACK,
            SendBackIn,
            lambda c, st, b: s.send_back_clue(c, staff=st, reason=b.reason),
            "不属于本单位核查的，说明理由退回审核交办人员重新交办。",
            "已退回审核交办人员重新交办。",
            guard=_verifier_then(),
        ),
        ClueAction(
            Action.START,
            NoteIn,
            lambda c, st, b: s.start_verification(c, staff=st, note=b.note),
            "确认已收到交办，开始核查。",
            "已开始核查。",
            guard=_verifier_then(),
        ),
        ClueAction(
            Action.SUBMIT_REPORT,
            ReportIn,
            lambda c, st, b: s.submit_report(c, staff=st, **b.model_dump()),
            "提交后由上级审核；审核通过即办结并邀请反映人回评。",
            "核查报告已提交上级审核。",
            guard=_verifier_then(),
        ),
        ClueAction(
            Action.REQUEST_EXTENSION,
            ExtensionIn,
            lambda c, st, b: s.request_extension(c, staff=st, days=b.days, reason=b.reason),
            "期限只在上级批准后顺延。",
            "延期申请已提交上级审批。",
            guard=_verifier_then(lambda c, st: s.extension_request_refusal(c)),
        ),
        ClueAction(
            Action.APPROVE,
            NoteIn,
            lambda c, st, b: s.approve_report(c, staff=st, note=b.note),
            "通过后线索按报告结论办结，邀请反映人回评。",
            "已审核通过，线索办结，已邀请反映人回评。",
        ),
        ClueAction(
            Action.RETURN,
            ReturnIn,
            lambda c, st, b: s.return_report(c, staff=st, reason=b.reason),
            "退回后核查期限重新计算。",
            "已退回重查。",
        ),
        ClueAction(
            Action.APPROVE_EXTENSION,
            NoteIn,
            lambda c, st, b: s.decide_extension(c, staff=st, approve=True, note=b.note),
            "批准后核查期限按申请的工作日顺延。",
            "已批准延期，期限已顺延。",
            guard=lambda c, st: s.extension_decision_refusal(c),
        ),
        ClueAction(
            Action.DENY_EXTENSION,
            NoteIn,
            lambda c, st, b: s.decide_extension(c, staff=st, approve=False, note=b.note),
            "不批准则期限不变。",
            "已不批准延期。",
            guard=lambda c, st: s.extension_decision_refusal(c),
        ),
        ClueAction(
            Action.REOPEN,
            ReopenIn,
            _reopen,
            "群众申请复核：决定重新核查，线索回到核查环节。",
            "已决定重新核查。",
        ),
        ClueAction(
            Action.UPHOLD,
            UpholdIn,
            lambda c, st, b: s.uphold_clue(c, staff=st, note=b.note),
            "群众申请复核：维持原结论，理由会告知反映人。",
            "已维持原结论，理由将告知反映人。",
        ),
        ClueAction(
            Action.REFER,
            NoteIn,
            lambda c, st, b: refer_clue(c, staff=st, note=b.note),
            "查实且涉及违纪违规的线索，连同封存的卷宗移交纪检联络员。",
            "已移交纪检联络员。",
            guard=lambda c, st: referral_refusal(c),
        ),
    ]


# Every action a staff member can take, in the order a clue meets them.
CATALOGUE: dict[Action, ClueAction] = {entry.action: entry for entry in _entries()}


def role_refusal(action: Action, staff: StaffAccount) -> NotPermitted | None:
    """A role the table never gives this action is refused before anything else."""
    actor = ROLE_ACTORS.get(staff.role)
    if actor is not None and actor in ACTORS_OF[action]:
        return None
    allowed = sorted(role.value for role in CATALOGUE[action].roles)
    return NotPermitted(
        f"该角色不能执行“{action.label}”",
        code="forbidden",
        details={"role": staff.role.value, "allowed_roles": allowed},
    )


def can(action: Action, clue: Clue, staff: StaffAccount) -> DomainError | None:
    """Why `staff` may not take `action` on `clue` now, or None when they may.

    Role, then scope (a clue out of scope reveals nothing else), recusal, the transition
    table, then the action's business guard. Input-dependent checks (the unit assigned to,
    the master clue) stay with the service function, which runs after this.
    """
    refusal = role_refusal(action, staff) or service.scope_refusal(staff, clue)
    if refusal is not None:
        return refusal
    actor = ROLE_ACTORS[staff.role]
    refusal = service.recusal_refusal(clue, staff) or transition_refusal(clue.status, action, actor)
    guard = CATALOGUE[action].guard
    return refusal if refusal is not None or guard is None else guard(clue, staff)


def perform(action: Action, clue_id: int, staff: StaffAccount, body: Any) -> Clue:
    """Lock the clue, check `can()`, run the action; the caller commits once."""
    clue = service.get_clue(clue_id, for_update=True)
    service.ensure(can(action, clue, staff))
    CATALOGUE[action].run(clue, staff, body)
    return clue


@dataclass(frozen=True)
class Offer:
    """A button a client shows: enabled, or disabled with the reason."""

    action: Action
    label: str
    enabled: bool
    reason: str


def available_actions(clue: Clue, staff: StaffAccount) -> list[Offer]:
    """The actions the table gives the caller's role in the clue's status, each enabled or
    refused with the same reason the action endpoint would answer."""
    actor = ROLE_ACTORS.get(staff.role)
    if actor is None:
        return []
    offers = []
    for entry in CATALOGUE.values():
        if (clue.status, entry.action, actor) not in TRANSITIONS:
            continue
        refusal = can(entry.action, clue, staff)
        offers.append(
            Offer(entry.action, entry.label, refusal is None, refusal.message if refusal else "")
        )
    return offers
