"""The clue workflow: one verb-named function per action. Each checks the transition table,
stamps `<status>_at`, appends an immutable event and emits `clue_transitioned`; services
flush, the routes commit once."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app import signals
from app.audit import record_audit
from app.auth import current_actor
from app.clock import local_date, utcnow
from app.crypto import decrypt_text, encrypt_text
from app.db import upsert_insert
from app.errors import Conflict, DomainError, Invalid, NotFound, NotPermitted, OutOfScope
from app.extensions import db
from app.org.models import Officer, Role, StaffAccount, Unit, ancestor_ids
from app.workdays import load_calendar
from clues.models import (
    Appeal,
    Clue,
    ClueEvent,
    ClueReporter,
    ClueSource,
    ClueStage,
    ExtensionRequest,
    Outcome,
    RejectReason,
    ReratingInvitation,
    Stage,
    TrackingCounter,
    VerificationReport,
)
from clues.states import Action, Actor, ClueStatus, Transition, next_status
from clues.tracking import issue_tracking, tracking_url
from evaluations.questionnaire import ClueCategory

ROLE_ACTORS = {
    Role.SCREENER: Actor.SCREENER,
    Role.VERIFIER: Actor.VERIFIER,
    Role.SUPERIOR: Actor.SUPERIOR,
}


def _conflict(code: str, message: str, **details: Any) -> Conflict:
    return Conflict(message, code=code, details=details)


def ensure(refusal: DomainError | None) -> None:
    """Raise the refusal a guard found, if any."""
    if refusal is not None:
        raise refusal


# ---------------------------------------------------------------- loading and seeing


def get_clue(clue_id: int, *, for_update: bool = False) -> Clue:
    """The clue, locked for the rest of the transaction when it is about to change.

    PostgreSQL: SELECT … FOR UPDATE, so of two screeners acting at once one waits and then
    finds the status changed (409). SQLite: write transactions are serial anyway.
    populate_existing: the scope check may have loaded the clue before the lock was granted;
    the identity map must not hand back that stale copy.
    """
    stmt = sa.select(Clue).where(Clue.id == clue_id)
    if for_update:
        stmt = stmt.with_for_update(of=Clue).execution_options(populate_existing=True)
    clue = db.session.scalar(stmt)
    if clue is None:
        raise NotFound("线索不存在", details={"id": clue_id})
    return clue


def visible_to(staff: StaffAccount) -> sa.ColumnElement[bool] | None:
    """SQL filter of the clues a staff member may see; None for roles that see none."""
    from app.org.models import subtree_ids

    subtree = subtree_ids(staff.unit)
    if staff.role in (Role.SCREENER, Role.ADMIN):
        in_scope = Clue.unit_id.in_(subtree)
    elif staff.role is Role.VERIFIER:
        in_scope = Clue.assigned_unit_id.in_(subtree)
    elif staff.role is Role.SUPERIOR:
        in_scope = sa.func.coalesce(Clue.assigned_unit_id, Clue.unit_id).in_(subtree)
    elif staff.role is Role.LIAISON:
        from clues.models import Referral

        referred = Clue.id.in_(sa.select(Referral.clue_id))
        above_every_screener = Clue.unit_id.in_(units_above_every_screener())
        in_scope = sa.and_(Clue.unit_id.in_(subtree), referred | above_every_screener)
    else:
        return None
    if staff.officer_id is None:
        return in_scope
    # The accused officer never sees the clue about them, whatever their role: a screener or
    # an admin could otherwise read who reported them.
    return sa.and_(in_scope, Clue.officer_id.is_(None) | (Clue.officer_id != staff.officer_id))


def scope_refusal(staff: StaffAccount, clue: Clue) -> OutOfScope | None:
    """Why the staff member may not see this clue, or None when they may."""
    condition = visible_to(staff)
    visible = condition is not None and db.session.scalar(
        sa.select(sa.literal(True)).where(Clue.id == clue.id, condition)
    )
    if visible:
        return None
    return OutOfScope("该线索不在您的办理范围内", details={"clue_id": clue.id})


def ensure_visible(staff: StaffAccount, clue: Clue) -> None:
    """Refuse (out of scope) unless the staff member may see this clue."""
    ensure(scope_refusal(staff, clue))


# ---------------------------------------------------------------- who may learn who reported


def units_above_every_screener() -> list[int]:
    """Units whose subtree holds every active screener: a clue about one of them has nobody
    outside it to screen its reporter, so it goes to the liaison (e.g. the city committee)."""
    paths = db.session.scalars(
        sa.select(Unit.path)
        .join(StaffAccount, StaffAccount.unit_id == Unit.id)
        .where(StaffAccount.role == Role.SCREENER, StaffAccount.is_active)
        .distinct()
    ).all()
    if not paths:
        return []
    ancestry = [ancestor_ids(path) for path in paths]
    return list(os.path.commonprefix(ancestry))


def sits_in_reported_unit(clue: Clue, staff: StaffAccount) -> bool:
    """The staff member works in the reported unit or below it: an interested party."""
    return clue.unit.contains(staff.unit)


def conflicted(clue: Clue, staff: StaffAccount) -> bool:
    """An interested party to `clue`'s reporter and referral dossier: staff working in the
    reported unit or below it — except the liaison for a unit above every screener, whom the
    rule names as the reader because nobody stands outside that unit."""
    if not sits_in_reported_unit(clue, staff):
        return False
    return not (staff.role is Role.LIAISON and clue.unit_id in units_above_every_screener())


def unconflicted(staff: StaffAccount) -> sa.ColumnElement[bool]:
    """SQL over Clue: the clues `staff` is not `conflicted` about."""
    outside = Clue.unit_id.not_in(ancestor_ids(staff.unit.path))
    if staff.role is Role.LIAISON:
        return outside | Clue.unit_id.in_(units_above_every_screener())
    return outside


def reporter_refusal(clue: Clue, staff: StaffAccount) -> NotPermitted | None:
    """Why `staff` may not learn who reported `clue`, or None when they may.

    Screeners and admins outside the reported unit's subtree; the liaison (outside it too) for
    referred clues and for clues no screener stands outside of; never the accused officer.
    """
    refusal = recusal_refusal(clue, staff)
    if refusal is not None:
        return refusal
    if staff.role in (Role.SCREENER, Role.ADMIN, Role.LIAISON) and conflicted(clue, staff):
        return NotPermitted(
            "您所在单位是被反映单位或其下级，不能查看反映人信息", code="reporter_conflict"
        )
    if staff.role in (Role.SCREENER, Role.ADMIN):
        return None
    if staff.role is Role.LIAISON:
        from clues.models import Referral

        referred = db.session.scalar(sa.select(Referral.id).where(Referral.clue_id == clue.id))
        if referred is not None or clue.unit_id in units_above_every_screener():
            return None
        return NotPermitted(
            "纪检联络员只能查看已移交纪检线索的反映人", code="reporter_not_referred"
        )
    return NotPermitted("您的角色不能查看反映人信息", code="forbidden")


# ---------------------------------------------------------------- numbers and deadlines


def next_tracking_no(now: datetime | None = None) -> str:
    """XQ<yyyymmdd>-<nnnn>, counted per local day, safe under concurrent filing."""
    day = local_date(now)
    statement = (
        upsert_insert(TrackingCounter)
        .values(day=day, last=1)
        .on_conflict_do_update(index_elements=["day"], set_={"last": TrackingCounter.last + 1})
        .returning(TrackingCounter.last)
    )
    number = db.session.execute(statement).scalar_one()
    return f"XQ{day:%Y%m%d}-{number:04d}"


def stage_days(stage: Stage, category: ClueCategory) -> int:
    config = current_app.config
    if stage is Stage.VERIFICATION and category.value in config["CLUE_VERIFICATION_DAYS"]:
        return int(config["CLUE_VERIFICATION_DAYS"][category.value])
    return int(config["CLUE_DEADLINE_DAYS"][stage.value])


def current_stage(clue: Clue) -> ClueStage | None:
    return db.session.scalar(
        sa.select(ClueStage)
        .where(ClueStage.clue_id == clue.id, ClueStage.finished_at.is_(None))
        .order_by(ClueStage.id.desc())
    )


def nearest_unit_with(unit: Unit, role: Role) -> int:
    """The unit at or above `unit` nearest to it where an active staff member of `role` sits
    (the root of its tree when none does): who must act on a stage the role handles."""
    chain = ancestor_ids(unit.path)
    seated = set(
        db.session.scalars(
            sa.select(StaffAccount.unit_id).where(
                StaffAccount.role == role, StaffAccount.is_active, StaffAccount.unit_id.in_(chain)
            )
        )
    )
    return next((unit_id for unit_id in reversed(chain) if unit_id in seated), chain[0])


def _superiors_of(clue: Clue) -> int:
    """Where the superior who reviews this clue's verification sits."""
    return nearest_unit_with(clue.assigned_unit or clue.unit, Role.SUPERIOR)


def _start_stage(
    clue: Clue, stage: Stage, *, unit_id: int | None, days: int | None = None, now: datetime
) -> ClueStage:
    _finish_stage(clue, now)
    due = load_calendar().deadline(
        now, days if days is not None else stage_days(stage, clue.category)
    )
    row = ClueStage(clue_id=clue.id, stage=stage, unit_id=unit_id, started_at=now, due_at=due)
    db.session.add(row)
    clue.due_at = due
    return row


def _finish_stage(clue: Clue, now: datetime) -> None:
    open_stage = current_stage(clue)
    if open_stage is not None:
        open_stage.finished_at = now
        open_stage.on_time = now <= open_stage.due_at
        # A request to extend a stage that has ended is moot: it must neither move a later
        # stage's deadline nor block a new request.
        db.session.execute(
            sa.update(ExtensionRequest)
            .where(ExtensionRequest.stage_id == open_stage.id, PENDING_EXTENSION)
            .values(status="lapsed")
        )
    clue.due_at = None


# ---------------------------------------------------------------- the one way to change state


def apply_transition(
    clue: Clue,
    action: Action,
    actor: Actor,
    *,
    note: str = "",
    public_note: str = "",
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> ClueEvent:
    """Take `action` through the table: new status, its stamp, the event, the signal."""
    transition: Transition = next_status(clue.status, action, actor)
    now = now or utcnow()
    clue.status = transition.to_status
    if transition.to_status != transition.from_status:
        setattr(clue, f"{transition.to_status.value}_at", now)
    who = current_actor()
    event = ClueEvent(
        clue_id=clue.id,
        created_at=now,
        actor_type=who.type,
        actor_id=who.id,
        actor_name=who.name,
        role=actor.value,
        action=action.value,
        from_status=transition.from_status.value,
        to_status=transition.to_status.value,
        note=note,
        public_note=public_note,
        details=details or {},
    )
    db.session.add(event)
    db.session.flush()
    signals.clue_transitioned.send(clue, transition=transition, event=event)
    return event


def actor_of(staff: StaffAccount, clue: Clue) -> Actor:
    """The workflow actor a staff member is for this clue; never the officer it accuses."""
    actor = ROLE_ACTORS.get(staff.role)
    if actor is None:
        raise NotPermitted(
            "您的角色不办理线索", code="forbidden", details={"role": staff.role.value}
        )
    ensure(recusal_refusal(clue, staff))
    return actor


def check_state(clue: Clue, action: Action, actor: Actor) -> None:
    """The current state first: a pair the table refuses is a 409 before any other guard
    (which may assume the state, e.g. that a report is pending)."""
    next_status(clue.status, action, actor)


def recusal_refusal(clue: Clue, staff: StaffAccount) -> NotPermitted | None:
    """The accused officer never handles the clue about them."""
    if clue.officer_id is not None and staff.officer_id == clue.officer_id:
        return NotPermitted("被反映的人员不能办理反映自己的线索", code="accused_officer")
    return None


# ---------------------------------------------------------------- filing


@dataclass(frozen=True)
class ReporterIn:
    resident_id: int | None
    identity: str  # anonymous | confidential
    phone: str | None = None
    sms_consent: bool = False  # the separate consent to SMS on that phone


def file_clue(
    *,
    source: ClueSource,
    category: ClueCategory,
    unit: Unit,
    officer: Officer | None,
    description: str,
    reporter: ReporterIn,
    evaluation_id: int | None = None,
    now: datetime | None = None,
) -> Clue:
    """Register a clue: tracking number, reporter apart, screening deadline, warnings."""
    now = now or utcnow()
    clue = Clue(
        tracking_no=next_tracking_no(now),
        source=source,
        category=category,
        unit_id=unit.id,
        officer_id=officer.id if officer else None,
        description=description,
        evaluation_id=evaluation_id,
        submitted_at=now,
        status=ClueStatus.SUBMITTED,
    )
    db.session.add(clue)
    db.session.flush()
    db.session.add(
        ClueReporter(
            clue_id=clue.id,
            resident_id=reporter.resident_id,
            identity=reporter.identity,
            phone_encrypted=encrypt_text(reporter.phone) if reporter.phone else None,
            sms_consent=bool(reporter.phone and reporter.sms_consent),
        )
    )
    issue_tracking(clue)
    who = current_actor()
    db.session.add(
        ClueEvent(
            clue_id=clue.id,
            created_at=now,
            actor_type=who.type,
            actor_id=who.id,
            actor_name=who.name,
            role=who.role,
            action="file",
            from_status=None,
            to_status=ClueStatus.SUBMITTED.value,
            public_note="您反映的问题已收到，将在规定期限内完成审核。",
            details={"source": source.value},
        )
    )
    _start_stage(clue, Stage.SCREENING, unit_id=nearest_unit_with(unit, Role.SCREENER), now=now)
    db.session.flush()
    from clues.warnings import raise_warnings

    warnings = raise_warnings(clue, reporter_resident_id=reporter.resident_id, now=now)
    signals.clue_filed.send(clue, warnings=warnings)
    return clue


def public_summary(clue: Clue) -> dict[str, Any]:
    """What a reporter gets back when filing: JSON-safe."""
    return {
        "tracking_no": clue.tracking_no,
        "status": clue.status.value,
        "due_at": clue.due_at.isoformat() if clue.due_at else None,
        "tracking_url": tracking_url(clue),
    }


# ---------------------------------------------------------------- screening


def accept_clue(clue: Clue, *, staff: StaffAccount, note: str = "") -> Clue:
    """受理：the clue will be assigned for verification."""
    now = utcnow()
    # The screening deadline runs on until the clue is assigned (审核交办 is one stage).
    apply_transition(
        clue,
        Action.ACCEPT,
        actor_of(staff, clue),
        note=note,
        now=now,
        public_note="您反映的问题已受理，将交有关单位核查。",
    )
    return clue


def reject_clue(clue: Clue, *, staff: StaffAccount, reason: RejectReason, message: str) -> Clue:
    """不予受理 with a reason code and a message the reporter reads."""
    check_state(clue, Action.REJECT, actor_of(staff, clue))
    now = utcnow()
    clue.reject_reason = reason
    clue.reporter_message = message
    apply_transition(
        clue,
        Action.REJECT,
        actor_of(staff, clue),
        now=now,
        public_note=f"不予受理：{reason.label}。{message}",
        details={"reason": reason.value},
    )
    _finish_stage(clue, now)
    return clue


def merge_clue(clue: Clue, *, staff: StaffAccount, master: Clue, note: str = "") -> Clue:
    """并案: the reporter follows the master clue and is invited to re-rate it."""
    check_state(clue, Action.MERGE, actor_of(staff, clue))
    # Scope first: a master out of scope must not reveal its status through a 409.
    ensure_visible(staff, master)
    if master.id == clue.id:
        raise _conflict("merge_into_self", "不能并入线索本身")
    if master.status in (ClueStatus.MERGED, ClueStatus.REJECTED):
        raise _conflict(
            "bad_master", "不能并入已并案或不予受理的线索", master_status=master.status.value
        )
    now = utcnow()
    clue.master_id = master.id
    apply_transition(
        clue,
        Action.MERGE,
        actor_of(staff, clue),
        note=note,
        now=now,
        public_note=f"您反映的问题与编号 {master.tracking_no} 的线索为同一事项，已合并办理。",
        details={"master_id": master.id, "master_tracking_no": master.tracking_no},
    )
    _finish_stage(clue, now)
    if master.status is ClueStatus.CLOSED:
        # The master's outcome is already known: the newcomer may re-rate it straight away.
        rounds = (
            db.session.scalar(
                sa.select(sa.func.max(ReratingInvitation.round)).where(
                    ReratingInvitation.clue_id == master.id
                )
            )
            or 1
        )
        reporters = db.session.scalars(
            sa.select(ClueReporter.resident_id).where(
                ClueReporter.clue_id == clue.id, ClueReporter.resident_id.is_not(None)
            )
        ).all()
        _invite(master, list(reporters), round_=rounds, now=now)
    return clue


def forward_clue(clue: Clue, *, staff: StaffAccount, note: str = "") -> Clue:
    """转 12345: livelihood requests go to the city platform, whose callback closes them."""
    check_state(clue, Action.FORWARD_12345, actor_of(staff, clue))
    ensure(forward_refusal(clue))
    now = utcnow()
    apply_transition(
        clue,
        Action.FORWARD_12345,
        actor_of(staff, clue),
        note=note,
        now=now,
        public_note="您的诉求属于民生类，已转交 12345 政务服务便民热线办理。",
    )
    # The forwarding unit owns the case until the platform's result comes back.
    _start_stage(clue, Stage.FORWARDED, unit_id=staff.unit_id, now=now)
    return clue


def forward_refusal(clue: Clue) -> Conflict | None:
    """Only livelihood requests go to 12345."""
    if clue.category is ClueCategory.LIVELIHOOD:
        return None
    return _conflict("not_livelihood", "只有民生类诉求可以转 12345", category=clue.category.value)


def close_forwarded(clue: Clue, *, result: str, now: datetime | None = None) -> Clue:
    """The 12345 platform's result closes a forwarded clue and invites re-rating."""
    check_state(clue, Action.CLOSE_12345, Actor.PLATFORM)
    now = now or utcnow()
    clue.reporter_message = result
    apply_transition(
        clue, Action.CLOSE_12345, Actor.PLATFORM, now=now, public_note=f"12345 办理结果：{result}"
    )
    _finish_stage(clue, now)
    _open_rerating(clue, now)
    return clue


# ---------------------------------------------------------------- assignment and verification


def assign_clue(
    clue: Clue,
    *,
    staff: StaffAccount,
    unit: Unit,
    days: int | None = None,
    assignee: StaffAccount | None = None,
    note: str = "",
    self_verification_reason: str = "",
    action: Action = Action.ASSIGN,
) -> Clue:
    """交办 (or 改派, `action`) to a verifying unit in the screener's scope, with a deadline
    in working days.

    A misconduct clue goes to a unit above the reported one; to the reported unit itself or
    below only with a recorded reason (no self-verification by default)."""
    check_state(clue, action, actor_of(staff, clue))
    _ensure_assignable(staff, unit)
    reason = self_verification_reason.strip()
    self_verifying = is_misconduct(clue) and clue.unit.contains(unit)
    if self_verifying and not reason:
        raise Invalid(
            {"self_verification_reason": "交被反映单位（或其下级）自查，须说明理由"},
            f"“{clue.category.label}”类线索应交被反映单位的上级核查；交其自查须说明理由",
            code="self_verification",
        )
    if assignee is not None:
        if assignee.role is not Role.VERIFIER or not unit.contains(assignee.unit):
            raise Invalid(
                {"assignee_id": "承办人须是该单位的核查人员"}, "承办人须是该单位的核查人员"
            )
        ensure(recusal_refusal(clue, assignee))
    now = utcnow()
    before = clue.assigned_unit_id
    clue.assigned_unit_id = unit.id
    clue.assignee_id = assignee.id if assignee else None
    clue.self_verification_reason = reason if self_verifying else ""
    apply_transition(
        clue,
        action,
        actor_of(staff, clue),
        note=note,
        now=now,
        public_note="已交有关单位核查。" if action is Action.ASSIGN else "",
        details={
            "from_unit_id": before,
            "unit_id": unit.id,
            "assignee_id": clue.assignee_id,
            "self_verification_reason": clue.self_verification_reason,
        },
    )
    _start_stage(clue, Stage.VERIFICATION, unit_id=unit.id, days=days, now=now)
    return clue


def reassign_clue(
    clue: Clue,
    *,
    staff: StaffAccount,
    unit: Unit,
    reason: str,
    days: int | None = None,
    assignee: StaffAccount | None = None,
    self_verification_reason: str = "",
) -> Clue:
    """改派: the screener moves an assigned clue (or one under verification) to another unit
    or verifier, with the reason on record; verification starts afresh with a new deadline."""
    check_state(clue, Action.REASSIGN, actor_of(staff, clue))
    same_assignee = (assignee.id if assignee else None) == clue.assignee_id
    if unit.id == clue.assigned_unit_id and same_assignee:
        raise Invalid({"unit_id": "改派须换一个核查单位或承办人"}, "改派须换一个核查单位或承办人")
    return assign_clue(
        clue,
        staff=staff,
        unit=unit,
        days=days,
        assignee=assignee,
        note=reason,
        self_verification_reason=self_verification_reason,
        action=Action.REASSIGN,
    )


def send_back_clue(clue: Clue, *, staff: StaffAccount, reason: str) -> Clue:
    """退回交办: the verifying unit says the clue is not theirs; it goes back to the
    screeners (with the reason) to assign again, under a fresh screening deadline."""
    check_state(clue, Action.SEND_BACK, actor_of(staff, clue))
    _ensure_verifier(clue, staff)
    now = utcnow()
    unit_id = clue.assigned_unit_id
    clue.assigned_unit, clue.assignee_id, clue.self_verification_reason = None, None, ""
    apply_transition(
        clue,
        Action.SEND_BACK,
        actor_of(staff, clue),
        note=reason,
        now=now,
        details={"from_unit_id": unit_id},
    )
    _start_stage(
        clue, Stage.SCREENING, unit_id=nearest_unit_with(clue.unit, Role.SCREENER), now=now
    )
    return clue


def withdraw_clue(clue: Clue, *, resident_id: int, reason: str = "") -> Clue:
    """群众撤回 a clue nobody has screened yet; the trail keeps it, nothing else happens."""
    check_state(clue, Action.WITHDRAW, Actor.RESIDENT)
    now = utcnow()
    apply_transition(
        clue,
        Action.WITHDRAW,
        Actor.RESIDENT,
        note=reason,
        now=now,
        details={"resident_id": resident_id},
        public_note="您已撤回这条反映。",
    )
    _finish_stage(clue, now)
    return clue


def _ensure_assignable(staff: StaffAccount, unit: Unit) -> None:
    """A clue goes only to an active unit in the acting staff member's scope."""
    if not staff.unit.contains(unit):
        raise OutOfScope("只能交办给您管辖范围内的单位", details={"unit_id": unit.id})
    if not unit.is_active:
        raise _conflict("unit_inactive", "该单位已停用")


def verifier_refusal(clue: Clue, staff: StaffAccount) -> NotPermitted | None:
    """A verifier acts only on clues not about them and not assigned to a colleague."""
    refusal = recusal_refusal(clue, staff)
    if refusal is None and clue.assignee_id is not None and clue.assignee_id != staff.id:
        refusal = NotPermitted("该线索已指定其他承办人", code="not_assignee")
    return refusal


def is_misconduct(clue: Clue) -> bool:
    """作风、廉洁、执法不公 (configurable): the kinds a unit must not verify about itself."""
    return clue.category.value in current_app.config["MISCONDUCT_CATEGORIES"]


def suggested_unit(clue: Clue) -> Unit:
    """Where a screener would assign the clue: the reported unit, or for misconduct the unit
    above it (when there is one)."""
    if is_misconduct(clue) and clue.unit.parent is not None:
        return clue.unit.parent
    return clue.unit


def _ensure_verifier(clue: Clue, staff: StaffAccount) -> None:
    ensure(verifier_refusal(clue, staff))


def start_verification(clue: Clue, *, staff: StaffAccount, note: str = "") -> Clue:
    check_state(clue, Action.START, actor_of(staff, clue))
    _ensure_verifier(clue, staff)
    apply_transition(
        clue, Action.START, actor_of(staff, clue), note=note, public_note="核查单位已开始核查。"
    )
    return clue


def request_extension(
    clue: Clue, *, staff: StaffAccount, days: int, reason: str
) -> ExtensionRequest:
    """申请延期: the due date moves only if the superior approves."""
    check_state(clue, Action.REQUEST_EXTENSION, actor_of(staff, clue))
    _ensure_verifier(clue, staff)
    limit = current_app.config["CLUE_EXTENSION_MAX_DAYS"]
    if days > limit:
        raise Invalid({"days": f"最多 {limit} 个工作日"}, "延期天数超过上限")
    ensure(extension_request_refusal(clue))
    stage = current_stage(clue)
    assert stage is not None
    request = ExtensionRequest(
        clue_id=clue.id, stage_id=stage.id, requested_by=staff.id, days=days, reason=reason
    )
    db.session.add(request)
    db.session.flush()
    apply_transition(
        clue,
        Action.REQUEST_EXTENSION,
        actor_of(staff, clue),
        note=reason,
        details={"request_id": request.id, "days": days},
    )
    return request


PENDING_EXTENSION = ExtensionRequest.status == "pending"


def pending_extension(clue: Clue) -> ExtensionRequest | None:
    """The extension request of this clue awaiting the superior's decision, if any."""
    return db.session.scalar(
        sa.select(ExtensionRequest).where(ExtensionRequest.clue_id == clue.id, PENDING_EXTENSION)
    )


def extension_request_refusal(clue: Clue) -> Conflict | None:
    """One pending request at a time."""
    pending = pending_extension(clue)
    if pending is None:
        return None
    return _conflict("extension_pending", "已有待审批的延期申请", request_id=pending.id)


def extension_decision_refusal(clue: Clue) -> Conflict | None:
    """Nothing to decide without a pending request."""
    if pending_extension(clue) is None:
        return _conflict("no_extension_request", "没有待审批的延期申请")
    return None


def _pending_extension(clue: Clue) -> ExtensionRequest:
    ensure(extension_decision_refusal(clue))
    request = pending_extension(clue)
    assert request is not None
    return request


def decide_extension(
    clue: Clue, *, staff: StaffAccount, approve: bool, note: str = ""
) -> ExtensionRequest:
    """批准或不批准延期; only approval moves the due date (by working days)."""
    action = Action.APPROVE_EXTENSION if approve else Action.DENY_EXTENSION
    check_state(clue, action, actor_of(staff, clue))
    request = _pending_extension(clue)
    now = utcnow()
    details: dict[str, Any] = {"request_id": request.id, "days": request.days}
    if approve:
        stage = db.session.get(ClueStage, request.stage_id)
        assert stage is not None and stage.finished_at is None
        stage.due_at = load_calendar().deadline(stage.due_at, request.days)
        stage.extended_days += request.days
        clue.due_at = stage.due_at
        details["new_due_at"] = stage.due_at.isoformat()
    request.status = "approved" if approve else "denied"
    request.decided_by, request.decided_at, request.decision_note = staff.id, now, note
    apply_transition(
        clue,
        action,
        actor_of(staff, clue),
        note=note,
        now=now,
        details=details,
        public_note="核查期限已依规延长。" if approve else "",
    )
    return request


def submit_report(
    clue: Clue,
    *,
    staff: StaffAccount,
    outcome: Outcome,
    findings: str,
    measures: str = "",
    persons_handled: int = 0,
    involves_misconduct: bool = False,
    reply_to_reporter: str = "",
) -> VerificationReport:
    """提交核查报告 for the superior's review."""
    check_state(clue, Action.SUBMIT_REPORT, actor_of(staff, clue))
    _ensure_verifier(clue, staff)
    if involves_misconduct and outcome is Outcome.UNFOUNDED:
        raise Invalid({"involves_misconduct": "查否时不能为是"}, "查否的线索不能认定违纪违规")
    now = utcnow()
    report = VerificationReport(
        clue_id=clue.id,
        submitted_by=staff.id,
        submitted_at=now,
        outcome=outcome,
        findings=findings,
        measures=measures,
        persons_handled=persons_handled,
        involves_misconduct=involves_misconduct,
        reply_to_reporter=reply_to_reporter,
    )
    db.session.add(report)
    db.session.flush()
    apply_transition(
        clue,
        Action.SUBMIT_REPORT,
        actor_of(staff, clue),
        now=now,
        details={"report_id": report.id, "outcome": outcome.value},
        public_note="核查单位已提交核查结果，正在上级审核。",
    )
    _start_stage(clue, Stage.REVIEW, unit_id=_superiors_of(clue), now=now)
    return report


def latest_report(clue: Clue) -> VerificationReport | None:
    return db.session.scalar(
        sa.select(VerificationReport)
        .where(VerificationReport.clue_id == clue.id)
        .order_by(VerificationReport.id.desc())
    )


def _pending_report(clue: Clue) -> VerificationReport:
    report = latest_report(clue)
    assert report is not None and report.decision is None
    return report


def approve_report(clue: Clue, *, staff: StaffAccount, note: str = "") -> Clue:
    """审核通过: the clue closes with the report's outcome; the reporter is invited to re-rate."""
    check_state(clue, Action.APPROVE, actor_of(staff, clue))
    report = _pending_report(clue)
    now = utcnow()
    report.decision, report.decided_by, report.decided_at = "approved", staff.id, now
    clue.outcome = report.outcome
    clue.persons_handled = report.persons_handled
    clue.involves_misconduct = report.involves_misconduct
    clue.reporter_message = report.reply_to_reporter
    reply = f"{report.reply_to_reporter}" if report.reply_to_reporter else ""
    apply_transition(
        clue,
        Action.APPROVE,
        actor_of(staff, clue),
        note=note,
        now=now,
        details={"report_id": report.id, "outcome": report.outcome.value},
        public_note=f"已办结，核查结论：{report.outcome.resident_label}。{reply}".strip(),
    )
    _finish_stage(clue, now)
    _open_rerating(clue, now)
    return clue


def return_report(clue: Clue, *, staff: StaffAccount, reason: str) -> Clue:
    """退回重查 with a reason; verification starts again with a fresh deadline."""
    check_state(clue, Action.RETURN, actor_of(staff, clue))
    report = _pending_report(clue)
    now = utcnow()
    report.decision, report.decided_by, report.decided_at = "returned", staff.id, now
    report.return_reason = reason
    apply_transition(
        clue,
        Action.RETURN,
        actor_of(staff, clue),
        note=reason,
        now=now,
        details={"report_id": report.id},
        public_note="上级要求补充核查。",
    )
    _start_stage(clue, Stage.VERIFICATION, unit_id=clue.assigned_unit_id, now=now)
    return clue


# ---------------------------------------------------------------- re-rating and appeal


def reporters_following(clue: Clue) -> list[int]:
    """Residents who reported this clue or a clue merged into it."""
    return list(
        db.session.scalars(
            sa.select(ClueReporter.resident_id)
            .join(Clue, Clue.id == ClueReporter.clue_id)
            .where(
                sa.or_(Clue.id == clue.id, Clue.master_id == clue.id),
                ClueReporter.resident_id.is_not(None),
            )
            .distinct()
        )
    )


def _open_rerating(clue: Clue, now: datetime) -> None:
    """Invite every reporter following the clue to re-rate it within the window."""
    window = timedelta(days=current_app.config["CLUE_RERATING_WINDOW_DAYS"])
    clue.rerating_due_at = now + window
    rounds = (
        db.session.scalar(
            sa.select(sa.func.max(ReratingInvitation.round)).where(
                ReratingInvitation.clue_id == clue.id
            )
        )
        or 0
    )
    # An earlier round nobody answered is superseded by this closure.
    db.session.execute(
        sa.update(ReratingInvitation)
        .where(ReratingInvitation.clue_id == clue.id, ReratingInvitation.status == "pending")
        .values(status="superseded")
    )
    _invite(clue, reporters_following(clue), round_=rounds + 1, now=now)


def _invite(clue: Clue, resident_ids: list[int], *, round_: int, now: datetime) -> None:
    window = timedelta(days=current_app.config["CLUE_RERATING_WINDOW_DAYS"])
    for resident_id in resident_ids:
        invitation = ReratingInvitation(
            clue_id=clue.id,
            resident_id=resident_id,
            round=round_,
            invited_at=now,
            expires_at=now + window,
        )
        db.session.add(invitation)
        db.session.flush()
        signals.rerating_invited.send(invitation)


def invitation_for(clue: Clue, resident_id: int) -> ReratingInvitation | None:
    return db.session.scalar(
        sa.select(ReratingInvitation)
        .where(ReratingInvitation.clue_id == clue.id, ReratingInvitation.resident_id == resident_id)
        .order_by(ReratingInvitation.round.desc())
    )


def rerating_refusal(
    clue: Clue, invitation: ReratingInvitation | None, now: datetime
) -> Conflict | None:
    """Why the reporter may not re-rate now, or None when they may (the resident's pages show
    the re-rating form by the same rules)."""
    if invitation is None or clue.status is not ClueStatus.CLOSED:
        return _conflict("not_invited", "该线索尚未办结，暂不能回评")
    if invitation.status == "rated":
        return _conflict("already_rerated", "您已回评过")
    if invitation.status != "pending" or now > invitation.expires_at:
        return _conflict("rerating_closed", "回评期限已过")
    return None


def rerate_clue(
    clue: Clue, *, resident_id: int, level: int, resolved: bool, comment: str = ""
) -> ReratingInvitation:
    """群众回评 of a closed clue, once per closure, within the window."""
    invitation = invitation_for(clue, resident_id)
    now = utcnow()
    ensure(rerating_refusal(clue, invitation, now))
    assert invitation is not None
    invitation.status, invitation.rated_at = "rated", now
    invitation.level, invitation.resolved, invitation.comment = level, resolved, comment
    who = current_actor()
    db.session.add(
        ClueEvent(
            clue_id=clue.id,
            created_at=now,
            actor_type=who.type,
            actor_id=who.id,
            role=Actor.RESIDENT.value,
            action="rerate",
            from_status=clue.status.value,
            to_status=clue.status.value,
            public_note="您已完成回评，感谢监督。",
            details={"level": level, "resolved": resolved},
        )
    )
    db.session.flush()
    return invitation


def appeal_refusal(
    clue: Clue, invitation: ReratingInvitation | None, now: datetime
) -> Conflict | None:
    """Why the reporter may not appeal now, or None when they may (the resident's view shows
    the appeal button by the same rules)."""
    if clue.status is not ClueStatus.CLOSED or invitation is None:
        return _conflict("cannot_appeal", "只有已办结的线索可以申请复核")
    window = timedelta(days=current_app.config["CLUE_APPEAL_WINDOW_DAYS"])
    if clue.closed_at is None or now > clue.closed_at + window:
        return _conflict("appeal_window_closed", "复核申请期限已过")
    if invitation.status == "rated" and invitation.is_satisfied:
        return _conflict("satisfied", "您的回评为满意，不能再申请复核")
    appealed = db.session.scalar(
        sa.select(Appeal.id).where(
            Appeal.clue_id == clue.id,
            Appeal.resident_id == invitation.resident_id,
            Appeal.created_at >= invitation.invited_at,
        )
    )
    if appealed is not None:
        # An upheld appeal closes the matter; only a fresh closure (after a reopen) reopens it.
        return _conflict("already_appealed", "您已就这次办理结果申请过复核")
    return None


def appeal_clue(clue: Clue, *, resident_id: int, reason: str) -> Appeal:
    """群众不满意，在期限内申请复核：the superior reopens or upholds."""
    check_state(clue, Action.APPEAL, Actor.RESIDENT)
    now = utcnow()
    refusal = appeal_refusal(clue, invitation_for(clue, resident_id), now)
    if refusal is not None:
        raise refusal
    appeal = Appeal(clue_id=clue.id, resident_id=resident_id, reason=reason, created_at=now)
    db.session.add(appeal)
    db.session.flush()
    apply_transition(
        clue,
        Action.APPEAL,
        Actor.RESIDENT,
        now=now,
        details={"appeal_id": appeal.id},
        public_note="您的复核申请已提交，上级机关将作出决定。",
    )
    _start_stage(clue, Stage.APPEAL, unit_id=_superiors_of(clue), now=now)
    return appeal


def _pending_appeal(clue: Clue) -> Appeal:
    appeal = db.session.scalar(
        sa.select(Appeal)
        .where(Appeal.clue_id == clue.id, Appeal.decision.is_(None))
        .order_by(Appeal.id.desc())
    )
    assert appeal is not None
    return appeal


def reopen_clue(
    clue: Clue, *, staff: StaffAccount, note: str = "", unit: Unit | None = None
) -> Clue:
    """重新核查 after an appeal: back to verifying with a new deadline, by `unit` if named,
    else by the unit that verified it; a clue 12345 closed had none, so it goes to the unit
    a screener would have assigned it to."""
    check_state(clue, Action.REOPEN, actor_of(staff, clue))
    appeal = _pending_appeal(clue)
    if unit is not None:
        _ensure_assignable(staff, unit)
    unit = unit or clue.assigned_unit or suggested_unit(clue)
    now = utcnow()
    appeal.decision, appeal.decided_by, appeal.decided_at = "reopened", staff.id, now
    appeal.decision_note = note
    if unit.id != clue.assigned_unit_id:
        clue.assigned_unit, clue.assignee_id = unit, None
    apply_transition(
        clue,
        Action.REOPEN,
        actor_of(staff, clue),
        note=note,
        now=now,
        details={"appeal_id": appeal.id, "unit_id": unit.id},
        public_note="上级机关决定重新核查您反映的问题。",
    )
    _start_stage(clue, Stage.VERIFICATION, unit_id=clue.assigned_unit_id, now=now)
    return clue


def uphold_clue(clue: Clue, *, staff: StaffAccount, note: str) -> Clue:
    """维持原结论 after an appeal, with the reason told to the reporter."""
    check_state(clue, Action.UPHOLD, actor_of(staff, clue))
    appeal = _pending_appeal(clue)
    now = utcnow()
    appeal.decision, appeal.decided_by, appeal.decided_at = "upheld", staff.id, now
    appeal.decision_note = note
    apply_transition(
        clue,
        Action.UPHOLD,
        actor_of(staff, clue),
        note=note,
        now=now,
        details={"appeal_id": appeal.id},
        public_note=f"上级机关维持原核查结论：{note}",
    )
    _finish_stage(clue, now)
    return clue


def resident_clue(tracking_no: str, resident_id: int) -> Clue:
    """A resident's own clue by tracking number; anyone else's is a 404, never a 403."""
    clue = db.session.scalar(
        sa.select(Clue)
        .join(ClueReporter, ClueReporter.clue_id == Clue.id)
        .where(Clue.tracking_no == tracking_no, ClueReporter.resident_id == resident_id)
    )
    if clue is None:
        raise NotFound("没有找到这条线索", details={"tracking_no": tracking_no})
    return clue


@dataclass(frozen=True)
class ReporterView:
    clue_id: int
    identity: str
    phone: str | None
    channel: str | None


def read_reporter(clue: Clue, *, staff: StaffAccount, reason: str) -> ReporterView:
    """Who reported `clue`, for those the rule allows; every read is audited with the reason
    the reader gave, under the reader's unit (the reported unit's staff never see the row)."""
    ensure(reporter_refusal(clue, staff))
    reporter = db.session.get(ClueReporter, clue.id)
    if reporter is None:
        raise NotFound("该线索没有反映人记录")
    channel = None
    if reporter.resident_id is not None:
        from evaluations.identity import Resident

        resident = db.session.get(Resident, reporter.resident_id)
        channel = resident.channel.value if resident else None
    record_audit(
        "clue.reporter_read",
        object_type="clue",
        object_id=clue.id,
        unit_id=staff.unit_id,
        details={"tracking_no": clue.tracking_no, "reason": reason},
    )
    return ReporterView(
        clue_id=clue.id,
        identity=reporter.identity,
        phone=decrypt_text(reporter.phone_encrypted) if reporter.phone_encrypted else None,
        channel=channel,
    )
