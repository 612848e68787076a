"""Registry and sign-in endpoints. Thin: parse, call one service, commit once, serialize."""

from __future__ import annotations

import sqlalchemy as sa
from apiflask import APIBlueprint
from flask import current_app

from app.auth import current_staff, ensure_in_scope, staff_required, staff_token
from app.crypto import hash_identity
from app.errors import DomainError
from app.extensions import db
from app.org import service
from app.org.models import Officer, Role, StaffAccount, Unit, subtree_ids
from app.org.schemas import (
    OfficerIn,
    OfficerOut,
    OfficerPage,
    OfficerPatch,
    OfficerQuery,
    PasswordChange,
    PasswordReset,
    SessionIn,
    SessionOut,
    StaffIn,
    StaffOut,
    StaffPage,
    StaffPatch,
    StaffQuery,
    UnitIn,
    UnitOut,
    UnitPage,
    UnitPatch,
    UnitQuery,
    WeChatBindIn,
)
from app.ratelimit import address_key, client_network, configured, limiter
from app.schemas import paginate
from app.wechat.login import openid_for_code

bp = APIBlueprint("org", __name__, url_prefix="/api/v1", tag="组织与账号")


def _unit_of_unit(unit_id: int, **_: object) -> Unit:
    return service.get_unit(unit_id)


def _unit_of_officer(officer_id: int, **_: object) -> Unit:
    return service.get_officer(officer_id).unit


def _unit_of_staff(staff_id: int, **_: object) -> Unit:
    return service.get_staff(staff_id).unit


def _scoped_unit(unit_id: int) -> Unit:
    unit = service.get_unit(unit_id)
    ensure_in_scope(unit)
    return unit


# ---------------------------------------------------------------- units


@bp.get("/units")
@staff_required()
@bp.input(UnitQuery, location="query", arg_name="query")
@bp.output(UnitPage)
def list_units(query: UnitQuery):
    """单位列表（本人管辖范围内）"""
    stmt = sa.select(Unit).where(Unit.id.in_(subtree_ids(current_staff().unit)))
    if query.parent_id is not None:
        stmt = stmt.where(Unit.parent_id == query.parent_id)
    if query.kind is not None:
        stmt = stmt.where(Unit.kind == query.kind)
    if query.is_active is not None:
        stmt = stmt.where(Unit.is_active == query.is_active)
    if query.q:
        pattern = f"%{query.q}%"
        stmt = stmt.where(sa.or_(Unit.name.like(pattern), Unit.code.like(pattern)))
    return paginate(stmt.order_by(Unit.path), query, UnitOut)


@bp.post("/units")
@staff_required(Role.ADMIN)
@bp.input(UnitIn, arg_name="body")
@bp.output(UnitOut, status_code=201)
@bp.doc(responses={404: "上级单位不存在", 409: "编码重复，或上级单位已停用"})
def create_unit(body: UnitIn):
    """新增单位"""
    unit = service.create_unit(
        code=body.code,
        name=body.name,
        kind=body.kind,
        parent=_scoped_unit(body.parent_id),
        region=body.region,
        address=body.address,
    )
    db.session.commit()
    return unit


@bp.get("/units/<int:unit_id>")
@staff_required(scope=_unit_of_unit)
@bp.output(UnitOut)
def get_unit(unit_id: int):
    """单位详情"""
    return service.get_unit(unit_id)


@bp.patch("/units/<int:unit_id>")
@staff_required(Role.ADMIN, scope=_unit_of_unit)
@bp.input(UnitPatch, arg_name="body")
@bp.output(UnitOut)
@bp.doc(
    responses={
        404: "单位或新的上级单位不存在",
        409: "编码重复，移到自己的下级之下，或改类别后有账号不符合角色设置",
    }
)
def update_unit(unit_id: int, body: UnitPatch):
    """修改单位（可调整上级单位，下级随之移动）"""
    changes = body.model_dump(exclude_unset=True)
    new_parent = _scoped_unit(changes["parent_id"]) if "parent_id" in changes else None
    unit = service.update_unit(service.get_unit(unit_id), changes=changes, new_parent=new_parent)
    db.session.commit()
    return unit


@bp.post("/units/<int:unit_id>/deactivate")
@staff_required(Role.ADMIN, scope=_unit_of_unit)
@bp.output(UnitOut)
@bp.doc(responses={409: "还有启用中的下级单位"})
def deactivate_unit(unit_id: int):
    """停用单位（不删除）"""
    unit = service.deactivate_unit(service.get_unit(unit_id))
    db.session.commit()
    return unit


@bp.post("/units/<int:unit_id>/activate")
@staff_required(Role.ADMIN, scope=_unit_of_unit)
@bp.output(UnitOut)
@bp.doc(responses={409: "上级单位已停用"})
def activate_unit(unit_id: int):
    """重新启用单位"""
    unit = service.activate_unit(service.get_unit(unit_id))
    db.session.commit()
    return unit


# ---------------------------------------------------------------- officers


@bp.get("/units/<int:unit_id>/officers")
@staff_required(scope=_unit_of_unit)
@bp.input(OfficerQuery, location="query", arg_name="query")
@bp.output(OfficerPage)
def list_officers(unit_id: int, query: OfficerQuery):
    """单位人员列表"""
    stmt = sa.select(Officer).where(Officer.unit_id == unit_id)
    if query.is_active is not None:
        stmt = stmt.where(Officer.is_active == query.is_active)
    return paginate(stmt.order_by(Officer.staff_no), query, OfficerOut)


@bp.post("/units/<int:unit_id>/officers")
@staff_required(Role.ADMIN, scope=_unit_of_unit)
@bp.input(OfficerIn, arg_name="body")
@bp.output(OfficerOut, status_code=201)
@bp.doc(responses={409: "警号重复，或单位已停用"})
def create_officer(unit_id: int, body: OfficerIn):
    """新增人员"""
    officer = service.create_officer(
        unit=service.get_unit(unit_id),
        name=body.name,
        staff_no=body.staff_no,
        position=body.position,
    )
    db.session.commit()
    return officer


@bp.get("/officers/<int:officer_id>")
@staff_required(scope=_unit_of_officer)
@bp.output(OfficerOut)
def get_officer(officer_id: int):
    """人员详情"""
    return service.get_officer(officer_id)


@bp.patch("/officers/<int:officer_id>")
@staff_required(Role.ADMIN, scope=_unit_of_officer)
@bp.input(OfficerPatch, arg_name="body")
@bp.output(OfficerOut)
@bp.doc(responses={404: "人员或调往的单位不存在", 409: "警号重复"})
def update_officer(officer_id: int, body: OfficerPatch):
    """修改人员信息或调动单位"""
    changes = body.model_dump(exclude_unset=True)
    new_unit = _scoped_unit(changes["unit_id"]) if "unit_id" in changes else None
    officer = service.update_officer(
        service.get_officer(officer_id), changes=changes, new_unit=new_unit
    )
    db.session.commit()
    return officer


@bp.post("/officers/<int:officer_id>/deactivate")
@staff_required(Role.ADMIN, scope=_unit_of_officer)
@bp.output(OfficerOut)
def deactivate_officer(officer_id: int):
    """停用人员（不删除）"""
    officer = service.set_officer_active(service.get_officer(officer_id), False)
    db.session.commit()
    return officer


@bp.post("/officers/<int:officer_id>/activate")
@staff_required(Role.ADMIN, scope=_unit_of_officer)
@bp.output(OfficerOut)
def activate_officer(officer_id: int):
    """重新启用人员"""
    officer = service.set_officer_active(service.get_officer(officer_id), True)
    db.session.commit()
    return officer


# ---------------------------------------------------------------- staff accounts


@bp.get("/staff")
@staff_required(Role.ADMIN)
@bp.input(StaffQuery, location="query", arg_name="query")
@bp.output(StaffPage)
def list_staff(query: StaffQuery):
    """工作人员账号列表（本人管辖范围内）"""
    stmt = sa.select(StaffAccount).where(
        StaffAccount.unit_id.in_(subtree_ids(current_staff().unit))
    )
    if query.role is not None:
        stmt = stmt.where(StaffAccount.role == query.role)
    if query.unit_id is not None:
        stmt = stmt.where(StaffAccount.unit_id == query.unit_id)
    if query.is_active is not None:
        stmt = stmt.where(StaffAccount.is_active == query.is_active)
    return paginate(stmt.order_by(StaffAccount.username), query, StaffOut)


@bp.post("/staff")
@staff_required(Role.ADMIN)
@bp.input(StaffIn, arg_name="body")
@bp.output(StaffOut, status_code=201)
@bp.doc(
    responses={
        404: "单位或人员不存在",
        409: "用户名重复，单位已停用，或人员已停用、已关联其他账号",
        422: "该角色不能设在这类单位，或人员不属于该单位及其下级单位",
    }
)
def create_staff(body: StaffIn):
    """新增工作人员账号（可关联本人的人员记录）"""
    account = service.create_staff(
        username=body.username,
        password=body.password,
        display_name=body.display_name,
        role=body.role,
        unit=_scoped_unit(body.unit_id),
        officer=service.get_officer(body.officer_id) if body.officer_id else None,
    )
    db.session.commit()
    return account


@bp.get("/staff/me")
@staff_required()
@bp.output(StaffOut)
def get_me():
    """当前登录的工作人员"""
    return current_staff()


@bp.post("/staff/me/password")
@staff_required()
@bp.input(PasswordChange, arg_name="body")
@bp.output(SessionOut)
@bp.doc(responses={403: "原密码不正确", 423: "原密码错误次数过多，请稍后再试"})
def change_my_password(body: PasswordChange):
    """修改本人密码：此前签发的令牌全部失效，返回新令牌"""
    account = current_staff()
    try:
        service.verify_current_password(account, body.current_password, network=client_network())
    except DomainError:
        db.session.commit()  # the wrong guess is counted whatever the answer
        raise
    service.set_password(account, new_password=body.new_password, by_admin=False)
    db.session.commit()
    return _session_body(account)


@bp.post("/staff/me/wechat")
@staff_required()
@bp.input(WeChatBindIn, arg_name="body")
@bp.output(StaffOut)
@bp.doc(
    responses={
        401: "未登录，或微信登录凭证无效",
        409: "该微信已绑定到另一个账号",
        502: "微信接口出错",
        503: "微信繁忙或未配置",
    }
)
def bind_my_wechat(body: WeChatBindIn):
    """绑定本人微信：绑定后不能用该微信评价本单位及下级单位"""
    account = current_staff()
    service.bind_wechat(account, identity_hash=hash_identity("wechat", openid_for_code(body.code)))
    db.session.commit()
    return account


@bp.get("/staff/<int:staff_id>")
@staff_required(Role.ADMIN, scope=_unit_of_staff)
@bp.output(StaffOut)
def get_staff(staff_id: int):
    """工作人员账号详情"""
    return service.get_staff(staff_id)


@bp.patch("/staff/<int:staff_id>")
@staff_required(Role.ADMIN, scope=_unit_of_staff)
@bp.input(StaffPatch, arg_name="body")
@bp.output(StaffOut)
@bp.doc(
    responses={
        404: "账号、单位或人员不存在",
        409: "人员已停用，或已关联其他账号",
        422: "该角色不能设在这类单位，或人员不属于账号所在单位及其下级单位",
    }
)
def update_staff(staff_id: int, body: StaffPatch):
    """修改工作人员账号（改角色或单位会使其令牌失效；officer_id 关联或解除本人的人员记录）"""
    changes = body.model_dump(exclude_unset=True)
    new_unit = _scoped_unit(changes["unit_id"]) if "unit_id" in changes else None
    officer_id = changes.get("officer_id")
    account = service.update_staff(
        service.get_staff(staff_id),
        changes=changes,
        new_unit=new_unit,
        new_officer=service.get_officer(officer_id) if officer_id else None,
    )
    db.session.commit()
    return account


@bp.post("/staff/<int:staff_id>/deactivate")
@staff_required(Role.ADMIN, scope=_unit_of_staff)
@bp.output(StaffOut)
@bp.doc(responses={409: "不能停用自己的账号"})
def deactivate_staff(staff_id: int):
    """停用工作人员账号（不删除，立即失效）"""
    account = service.set_staff_active(
        service.get_staff(staff_id), False, actor_id=current_staff().id
    )
    db.session.commit()
    return account


@bp.post("/staff/<int:staff_id>/activate")
@staff_required(Role.ADMIN, scope=_unit_of_staff)
@bp.output(StaffOut)
def activate_staff(staff_id: int):
    """重新启用工作人员账号"""
    account = service.set_staff_active(
        service.get_staff(staff_id), True, actor_id=current_staff().id
    )
    db.session.commit()
    return account


@bp.post("/staff/<int:staff_id>/password")
@staff_required(Role.ADMIN, scope=_unit_of_staff)
@bp.input(PasswordReset, arg_name="body")
@bp.output(StaffOut)
def reset_staff_password(staff_id: int, body: PasswordReset):
    """管理员重置密码（解除锁定，原令牌失效）"""
    account = service.set_password(
        service.get_staff(staff_id), new_password=body.new_password, by_admin=True
    )
    db.session.commit()
    return account


# ---------------------------------------------------------------- sign-in


def _session_body(account: StaffAccount) -> dict:
    return {
        "token": staff_token(account),
        "expires_in": current_app.config["STAFF_TOKEN_TTL_SECONDS"],
        "role": account.role,
        "unit": account.unit,
        "display_name": account.display_name,
    }


@bp.post("/staff/session")
@limiter.limit(configured("RATE_LIMIT_SIGN_IN"), key_func=address_key, scope="sign-in")
@bp.input(SessionIn, arg_name="body")
@bp.output(SessionOut)
@bp.doc(
    responses={
        401: "用户名或密码错误（所在网络尝试过多时同样如此，不区分账号是否存在）",
        429: "登录过于频繁",
    }
)
def sign_in(body: SessionIn):
    """工作人员登录：返回有时效的令牌；同一网络连续 5 次密码错误即暂停 15 分钟"""
    result = service.authenticate_staff(
        username=body.username, password=body.password, network=client_network()
    )
    db.session.commit()  # failure counts must persist too
    if result.error is not None:
        raise result.error
    assert result.account is not None
    return _session_body(result.account)


@bp.delete("/staff/session")
@staff_required()
@bp.output({}, status_code=204)
def sign_out():
    """退出登录：本账号的所有令牌失效"""
    service.end_sessions(current_staff())
    db.session.commit()
    return ""
