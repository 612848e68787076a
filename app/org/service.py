"""Registry services: units, officers, staff accounts, sign-in. They flush, never commit."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from app import signals
from app.audit import record_audit
from app.auth import in_service, set_actor, staff_actor
from app.clock import utcnow
from app.errors import (
    Conflict,
    DomainError,
    Invalid,
    Locked,
    NotFound,
    NotPermitted,
    Unauthenticated,
)
from app.extensions import db
from app.org import lockout
from app.org.models import Officer, Role, StaffAccount, Unit, UnitKind, subtree_filter


@functools.cache
def _dummy_hash(method: str) -> str:
    """Checked against when the username is unknown, so a miss costs as much as a hit."""
    return generate_password_hash("pingyi-timing-equaliser", method=method)


def _hash(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def _not_found(what: str, ident: object) -> NotFound:
    return NotFound(f"{what}不存在", details={"id": ident})


def _duplicate(field: str, value: object, what: str) -> Conflict:
    return Conflict(
        f"{what}已存在：{value}", code="duplicate", details={"field": field, "value": value}
    )


# ---------------------------------------------------------------- units


def get_unit(unit_id: int) -> Unit:
    """The unit with this id, or 404."""
    unit = db.session.get(Unit, unit_id)
    if unit is None:
        raise _not_found("单位", unit_id)
    return unit


def find_unit_by_code(code: str) -> Unit | None:
    return db.session.scalar(sa.select(Unit).where(Unit.code == code))


def _set_path(unit: Unit, parent: Unit | None) -> None:
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    unit.depth = parent.depth + 1 if parent else 0


def create_unit(
    *,
    code: str,
    name: str,
    kind: UnitKind,
    parent: Unit | None,
    region: str = "",
    address: str = "",
) -> Unit:
    """Register a unit under `parent` (None makes a root)."""
    if find_unit_by_code(code) is not None:
        raise _duplicate("code", code, "单位编码")
    if parent is not None and not parent.is_active:
        raise Conflict("上级单位已停用，不能在其下新增单位", code="parent_inactive")
    unit = Unit(code=code, name=name, kind=kind, parent=parent, region=region, address=address)
    db.session.add(unit)
    db.session.flush()
    _set_path(unit, parent)
    record_audit(
        "unit.create",
        object_type="unit",
        object_id=unit.id,
        unit_id=unit.id,
        details={"code": code, "name": name, "parent_id": unit.parent_id},
    )
    return unit


def update_unit(unit: Unit, *, changes: dict[str, Any], new_parent: Unit | None = None) -> Unit:
    """Change a unit's attributes; moving it (`parent_id` in changes) moves its subtree."""
    before = {key: _plain(getattr(unit, key)) for key in changes}
    if "code" in changes and changes["code"] != unit.code:
        if find_unit_by_code(changes["code"]) is not None:
            raise _duplicate("code", changes["code"], "单位编码")
    if "kind" in changes and changes["kind"] != unit.kind:
        _refuse_stranding(unit, changes["kind"])
    if new_parent is not None and new_parent.id != unit.parent_id:
        _move_subtree(unit, new_parent)
    for key, value in changes.items():
        if key != "parent_id":
            setattr(unit, key, value)
    db.session.flush()
    record_audit(
        "unit.update",
        object_type="unit",
        object_id=unit.id,
        unit_id=unit.id,
        details={"before": before, "after": {k: _plain(v) for k, v in changes.items()}},
    )
    return unit


def _refuse_stranding(unit: Unit, kind: UnitKind) -> None:
    """A unit keeps its kind while accounts sit there that the new kind would not take."""
    accounts = db.session.scalars(
        sa.select(StaffAccount)
        .where(StaffAccount.unit_id == unit.id)
        .order_by(StaffAccount.username)
    )
    stranded = [a for a in accounts if placement_problem(a.role, unit, kind=kind) is not None]
    if stranded:
        names = "、".join(f"{a.username}（{a.role.label}）" for a in stranded)
        raise Conflict(
            f"{unit.name}改为{kind.label}单位后，这些账号将不符合角色设置：{names}；"
            "请先调整它们的角色或单位",
            code="placement",
            details={
                "accounts": [
                    {"id": a.id, "username": a.username, "role": a.role.value} for a in stranded
                ]
            },
        )


def _move_subtree(unit: Unit, new_parent: Unit) -> None:
    if unit.contains(new_parent):
        raise Conflict(
            "不能把单位移到它自己的下级单位之下",
            code="cycle",
            details={"unit_id": unit.id, "parent_id": new_parent.id},
        )
    old_prefix, old_depth = unit.path, unit.depth
    subtree = db.session.scalars(sa.select(Unit).where(subtree_filter(old_prefix))).all()
    unit.parent = new_parent
    _set_path(unit, new_parent)
    for member in subtree:
        if member is not unit:
            member.path = unit.path + member.path[len(old_prefix) :]
            member.depth += unit.depth - old_depth


def deactivate_unit(unit: Unit) -> Unit:
    """Take a unit out of service (never deleted); its active children must go first."""
    if not unit.is_active:
        return unit
    active_children = db.session.scalar(
        sa.select(sa.func.count()).where(Unit.parent_id == unit.id, Unit.is_active)
    )
    if active_children:
        raise Conflict(
            "请先停用该单位的下级单位",
            code="has_active_children",
            details={"active_children": active_children},
        )
    unit.is_active = False
    db.session.flush()
    record_audit("unit.deactivate", object_type="unit", object_id=unit.id, unit_id=unit.id)
    signals.unit_deactivated.send(unit)
    return unit


def activate_unit(unit: Unit) -> Unit:
    """Put a unit back in service; its parent must be active."""
    if unit.is_active:
        return unit
    if unit.parent is not None and not unit.parent.is_active:
        raise Conflict("上级单位已停用，请先启用上级单位", code="parent_inactive")
    unit.is_active = True
    db.session.flush()
    record_audit("unit.activate", object_type="unit", object_id=unit.id, unit_id=unit.id)
    return unit


# ---------------------------------------------------------------- officers


def get_officer(officer_id: int) -> Officer:
    officer = db.session.get(Officer, officer_id)
    if officer is None:
        raise _not_found("人员", officer_id)
    return officer


def find_officer_by_staff_no(unit: Unit, staff_no: str) -> Officer | None:
    """The officer of `unit` (not of its subtree) with this number."""
    return db.session.scalar(
        sa.select(Officer).where(Officer.unit_id == unit.id, Officer.staff_no == staff_no)
    )


def _check_staff_no(unit_id: int, staff_no: str, exclude_id: int | None = None) -> None:
    stmt = sa.select(Officer.id).where(Officer.unit_id == unit_id, Officer.staff_no == staff_no)
    if exclude_id is not None:
        stmt = stmt.where(Officer.id != exclude_id)
    if db.session.scalar(stmt) is not None:
        raise _duplicate("staff_no", staff_no, "本单位的警号/工号")


def create_officer(*, unit: Unit, name: str, staff_no: str, position: str = "") -> Officer:
    """Register an officer of `unit`."""
    if not unit.is_active:
        raise Conflict("单位已停用，不能新增人员", code="unit_inactive")
    _check_staff_no(unit.id, staff_no)
    officer = Officer(unit=unit, name=name, staff_no=staff_no, position=position)
    db.session.add(officer)
    db.session.flush()
    record_audit(
        "officer.create",
        object_type="officer",
        object_id=officer.id,
        unit_id=unit.id,
        details={"name": name, "staff_no": staff_no},
    )
    return officer


def update_officer(officer: Officer, *, changes: dict[str, Any], new_unit: Unit | None) -> Officer:
    """Change an officer's attributes or move them to another unit."""
    before = {key: _plain(getattr(officer, key)) for key in changes}
    target_unit_id = new_unit.id if new_unit is not None else officer.unit_id
    if "staff_no" in changes or new_unit is not None:
        _check_staff_no(target_unit_id, changes.get("staff_no", officer.staff_no), officer.id)
    for key, value in changes.items():
        if key != "unit_id":
            setattr(officer, key, value)
    moved = new_unit is not None and new_unit.id != officer.unit_id
    if new_unit is not None:
        officer.unit = new_unit
    db.session.flush()
    if moved:
        signals.officer_transferred.send(officer)
    record_audit(
        "officer.update",
        object_type="officer",
        object_id=officer.id,
        unit_id=officer.unit_id,
        details={"before": before, "after": {k: _plain(v) for k, v in changes.items()}},
    )
    return officer


def set_officer_active(officer: Officer, active: bool) -> Officer:
    """Deactivate or reactivate an officer (never deleted)."""
    if officer.is_active != active:
        officer.is_active = active
        db.session.flush()
        record_audit(
            "officer.activate" if active else "officer.deactivate",
            object_type="officer",
            object_id=officer.id,
            unit_id=officer.unit_id,
        )
        if not active:
            signals.officer_deactivated.send(officer)
    return officer


# ---------------------------------------------------------------- staff accounts


def get_staff(staff_id: int) -> StaffAccount:
    account = db.session.get(StaffAccount, staff_id)
    if account is None:
        raise _not_found("工作人员账号", staff_id)
    return account


def find_staff_by_username(username: str) -> StaffAccount | None:
    return db.session.scalar(
        sa.select(StaffAccount).where(StaffAccount.username == username.strip().lower())
    )


def check_password_policy(password: str, field: str = "password") -> None:
    """At least 8 characters with both letters and digits."""
    if (
        len(password) < 8
        or not any(c.isalpha() for c in password)
        or not any(c.isdigit() for c in password)
    ):
        raise Invalid(
            {field: "密码至少 8 位，且须同时包含字母和数字"},
            "密码至少 8 位，且须同时包含字母和数字",
        )


def create_staff(
    *,
    username: str,
    password: str,
    display_name: str,
    role: Role,
    unit: Unit,
    officer: Officer | None = None,
) -> StaffAccount:
    """Create a staff account, linked to `officer` if given; the username is case-insensitive."""
    username = username.strip().lower()
    if find_staff_by_username(username) is not None:
        raise _duplicate("username", username, "用户名")
    if not unit.is_active:
        raise Conflict("单位已停用，不能新增账号", code="unit_inactive")
    check_placement(role, unit)
    if officer is not None:
        _check_officer_link(unit, officer, account_id=None)
    check_password_policy(password)
    account = StaffAccount(
        username=username,
        password_hash=_hash(password),
        display_name=display_name,
        role=role,
        unit=unit,
    )
    db.session.add(account)
    db.session.flush()
    record_audit(
        "staff.create",
        object_type="staff",
        object_id=account.id,
        unit_id=unit.id,
        details={"username": username, "role": role.value},
    )
    _link_officer(account, officer)
    return account


def update_staff(
    account: StaffAccount,
    *,
    changes: dict[str, Any],
    new_unit: Unit | None,
    new_officer: Officer | None = None,
) -> StaffAccount:
    """Change display name, role, unit or officer link (`officer_id` in `changes`: link to
    `new_officer`, None unlinks); a change of role or unit ends the account's tokens."""
    unit = new_unit if new_unit is not None else account.unit
    moved = new_unit is not None and new_unit.id != account.unit_id
    role = changes.get("role", account.role)
    if role != account.role or moved:
        check_placement(role, unit, field="unit_id" if moved else "role")
    relinking = "officer_id" in changes
    if relinking and new_officer is not None and new_officer.id != account.officer_id:
        _check_officer_link(unit, new_officer, account_id=account.id)
    elif moved and account.officer_id is not None:
        linked = new_officer if relinking else get_officer(account.officer_id)
        if linked is not None:
            _check_officer_in_unit(unit, linked)
    fields = {key: value for key, value in changes.items() if key != "officer_id"}
    before = {key: _plain(getattr(account, key)) for key in fields}
    for key, value in fields.items():
        if key != "unit_id":
            setattr(account, key, value)
    if new_unit is not None:
        account.unit = new_unit
    if ("role" in fields and before["role"] != _plain(account.role)) or new_unit is not None:
        account.token_version += 1
    db.session.flush()
    if fields or not relinking:
        record_audit(
            "staff.update",
            object_type="staff",
            object_id=account.id,
            unit_id=account.unit_id,
            details={"before": before, "after": {k: _plain(v) for k, v in fields.items()}},
        )
    if relinking:
        _link_officer(account, new_officer)
    return account


def set_staff_active(account: StaffAccount, active: bool, *, actor_id: int | None) -> StaffAccount:
    """Deactivate (ending every session) or reactivate a staff account."""
    if not active and account.id == actor_id:
        raise Conflict("不能停用自己的账号", code="self_deactivation")
    if account.is_active != active:
        account.is_active = active
        account.token_version += 1
        db.session.flush()
        record_audit(
            "staff.activate" if active else "staff.deactivate",
            object_type="staff",
            object_id=account.id,
            unit_id=account.unit_id,
        )
    return account


def set_password(account: StaffAccount, *, new_password: str, by_admin: bool) -> StaffAccount:
    """Set a new password; every token issued before stops working."""
    check_password_policy(new_password, "new_password")
    account.password_hash = _hash(new_password)
    account.password_changed_at = utcnow()
    account.token_version += 1
    account.failed_login_count = 0
    account.locked_until = None
    lockout.forget_all(account)
    db.session.flush()
    record_audit(
        "staff.password_reset" if by_admin else "staff.password_change",
        object_type="staff",
        object_id=account.id,
        unit_id=account.unit_id,
    )
    return account


def verify_current_password(account: StaffAccount, password: str, *, network: str) -> None:
    """Refuse a wrong current password, counted like a wrong sign-in password from the same
    network; after too many the network is refused even the right one for a while.

    The caller commits a refusal too, so the count persists.
    """
    now = utcnow()
    # Serialises concurrent guesses on this account, as sign-in does.
    db.session.execute(
        sa.select(StaffAccount.id).where(StaffAccount.id == account.id).with_for_update()
    )
    matches = check_password_hash(account.password_hash, password)
    if lockout.is_refused(account, network=network, now=now):
        raise Locked(
            "原密码错误次数过多，请稍后再试",
            code="too_many_failures",
            details={"retry_after_minutes": current_app.config["LOGIN_LOCK_MINUTES"]},
        )
    if not matches:
        lockout.count_failure(account, network=network, now=now)
        raise NotPermitted(
            "原密码不正确",
            code="wrong_password",
            details={"fields": {"current_password": ["原密码不正确"]}},
        )
    lockout.forget(account, network=network)


def bind_wechat(account: StaffAccount, *, identity_hash: str) -> StaffAccount:
    """Record the staff member's WeChat (as a keyed hash): they may not rate their own unit."""
    holder = db.session.scalar(
        sa.select(StaffAccount).where(
            StaffAccount.openid_hash == identity_hash, StaffAccount.id != account.id
        )
    )
    if holder is not None:
        raise Conflict("该微信已绑定到另一个工作人员账号", code="duplicate")
    account.openid_hash = identity_hash
    db.session.flush()
    record_audit(
        "staff.bind_wechat", object_type="staff", object_id=account.id, unit_id=account.unit_id
    )
    return account


def end_sessions(account: StaffAccount) -> None:
    """Sign out everywhere: every token of this account stops working."""
    account.token_version += 1
    db.session.flush()
    record_audit("staff.logout", object_type="staff", object_id=account.id, unit_id=account.unit_id)


# ---------------------------------------------------------------- where roles may sit


def placement_problem(role: Role, unit: Unit, *, kind: UnitKind | None = None) -> str | None:
    """Why an account of `role` may not sit at `unit` (taken as of `kind`), or None.

    The rules are `STAFF_PLACEMENT`: role → unit kinds, None for anywhere; a role the setting
    does not name may sit nowhere, so a new role is placed by a decision, not by accident.
    """
    kind = kind or unit.kind
    allowed = current_app.config["STAFF_PLACEMENT"].get(role.value, [])
    if allowed is None or kind.value in allowed:
        return None
    if not allowed:
        return f"按当前配置，「{role.label}」账号不能设在任何单位"
    kinds = "、".join(UnitKind.label_of(value, value) for value in allowed)
    return f"「{role.label}」账号只能设在{kinds}单位，{unit.name}是{kind.label}单位"


def check_placement(role: Role, unit: Unit, *, field: str = "unit_id") -> None:
    """Refuse an account of `role` at `unit` where the placement rules do not allow it."""
    problem = placement_problem(role, unit)
    if problem is not None:
        raise Invalid({field: problem}, problem, code="placement")


def misplaced_staff() -> list[tuple[StaffAccount, str]]:
    """Every account, active or not, that breaks the placement rules, with why."""
    accounts = db.session.scalars(sa.select(StaffAccount).order_by(StaffAccount.username))
    return [
        (account, problem)
        for account in accounts
        if (problem := placement_problem(account.role, account.unit)) is not None
    ]


# ---------------------------------------------------------------- officer link (recusal)


def _check_officer_in_unit(unit: Unit, officer: Officer) -> None:
    if not unit.contains(officer.unit):
        message = f"该人员（{officer.unit.name}）不属于账号所在的{unit.name}及其下级单位"
        raise Invalid({"officer_id": message}, message)


def _check_officer_link(unit: Unit, officer: Officer, *, account_id: int | None) -> None:
    """An account of `unit` may be linked to an active officer of its subtree that no other
    account is linked to."""
    _check_officer_in_unit(unit, officer)
    if not officer.is_active:
        raise Conflict("该人员已停用，不能关联账号", code="officer_inactive")
    holder = sa.select(StaffAccount.id).where(StaffAccount.officer_id == officer.id)
    if account_id is not None:
        holder = holder.where(StaffAccount.id != account_id)
    if db.session.scalar(holder) is not None:
        raise Conflict(
            "该人员已关联到另一个工作人员账号",
            code="duplicate",
            details={"field": "officer_id", "value": officer.id},
        )


def _link_officer(account: StaffAccount, officer: Officer | None) -> None:
    """Link, relink or unlink the account's officer record; each change is audited."""
    before, after = account.officer_id, officer.id if officer is not None else None
    if before == after:
        return
    account.officer_id = after
    db.session.flush()
    record_audit(
        "staff.officer_link",
        object_type="staff",
        object_id=account.id,
        unit_id=account.unit_id,
        details={"before": before, "after": after},
    )


@dataclass
class SignIn:
    account: StaffAccount | None
    error: DomainError | None


def _wrong_credentials() -> Unauthenticated:
    # Unknown name, wrong password and a refused network answer alike: nobody can learn from
    # the answer whether a username exists or that its owner is being guessed at.
    return Unauthenticated("用户名或密码错误", code="invalid_credentials")


def authenticate_staff(*, username: str, password: str, network: str) -> SignIn:
    """Check a username and password from the client `network`, counting wrong passwords per
    account and network (app/org/lockout.py); the account itself is never locked.

    The caller commits whatever the outcome, so the counts persist.
    """
    now = utcnow()
    username = username.strip().lower()
    account = db.session.scalar(
        sa.select(StaffAccount)
        .where(StaffAccount.username == username)
        .with_for_update(of=StaffAccount)
    )
    if account is None or not in_service(account):
        check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
        _audit_failed_sign_in(account, reason="unknown_or_inactive")
        return SignIn(None, _wrong_credentials())
    # The hash is checked even for a refused network, so its answer takes as long as any other.
    matches = check_password_hash(account.password_hash, password)
    if lockout.is_refused(account, network=network, now=now):
        _audit_failed_sign_in(account, reason="locked")
        return SignIn(None, _wrong_credentials())
    if not matches:
        counted = lockout.count_failure(account, network=network, now=now)
        details: dict[str, Any] = {"failures": counted.failures}
        if counted.locked_until is not None and counted.locked_until > now:
            details["locked_until"] = counted.locked_until.isoformat()
        _audit_failed_sign_in(account, reason="wrong_password", **details)
        return SignIn(None, _wrong_credentials())
    lockout.forget(account, network=network)
    account.last_login_at = now
    db.session.flush()
    set_actor(staff_actor(account))
    record_audit("staff.login", object_type="staff", object_id=account.id, unit_id=account.unit_id)
    return SignIn(account, None)


def _audit_failed_sign_in(account: StaffAccount | None, *, reason: str, **details: Any) -> None:
    """A failed sign-in on the account it names; an unknown name leaves no trace of what was
    typed (it may be a password typed into the wrong field)."""
    record_audit(
        "staff.login_failed",
        object_type="staff",
        object_id=account.id if account is not None else "",
        unit_id=account.unit_id if account is not None else None,
        details={"reason": reason, **details},
    )


def _plain(value: Any) -> Any:
    return value.value if hasattr(value, "value") else value
