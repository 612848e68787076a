"""The administrator's registry pages: units as a tree, officers (one by one or from an Excel
sheet), staff accounts (role, unit, officer link, password reset, deactivation, import).

Every change goes through app.org.service — the same functions, placement rules, officer
link checks and audit rows as the API; the forms validate with the API's schemas. A change
that is refused comes back as a message on the same page.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Response, flash, request, url_for
from openpyxl import load_workbook
from werkzeug.datastructures import MultiDict

from app.errors import DomainError, Invalid, OutOfScope
from app.extensions import db
from app.org import service, staff_import
from app.org.models import Officer, Role, StaffAccount, Unit, UnitKind, subtree_ids
from app.org.schemas import OfficerIn, PasswordReset, StaffIn, StaffPatch, UnitIn
from console.forms import FormError, describe, parse
from console.web import bp, console_view, current_staff, page, page_number, see_other

PER_PAGE = 50
MAX_IMPORT_ROWS = 20_000
OFFICER_COLUMNS = {"姓名": "name", "警号/工号": "staff_no", "警号": "staff_no", "职务": "position"}
LABELS = {
    "code": "单位编码",
    "name": "名称",
    "kind": "类别",
    "parent_id": "上级单位",
    "staff_no": "警号/工号",
    "position": "职务",
    "username": "用户名",
    "password": "初始密码",
    "display_name": "姓名",
    "role": "角色",
    "new_password": "新密码",
    "file": "文件",
}


def _int(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdecimal() else None


def _scoped_unit(unit_id: int | None) -> Unit:
    """A unit in the administrator's subtree (else the API's refusals)."""
    unit = service.get_unit(unit_id or 0)
    if not current_staff().unit.contains(unit):
        raise OutOfScope("该单位不在您的管辖范围内", details={"unit_id": unit.id})
    return unit


def _done(message: str, target: str) -> Response:
    db.session.commit()
    flash(message, "ok")
    return see_other(target)


def _refused(error: DomainError | FormError, target: str) -> Response:
    db.session.rollback()
    errors = error.errors if isinstance(error, FormError) else _fields(error)
    flash("；".join(describe(errors, LABELS)), "error")
    return see_other(target)


def _fields(error: DomainError) -> dict[str, str]:
    fields = error.details.get("fields") if isinstance(error.details, dict) else None
    if isinstance(fields, dict) and fields:
        return {k: (v[0] if isinstance(v, list) and v else str(v)) for k, v in fields.items()}
    return {"form": error.message}


def scope_units() -> list[Unit]:
    return list(
        db.session.scalars(
            sa.select(Unit)
            .where(Unit.id.in_(subtree_ids(current_staff().unit)))
            .order_by(Unit.path)
        )
    )


# ---------------------------------------------------------------- units


@bp.get("/admin/units")
@console_view(Role.ADMIN)
def admin_units() -> Response:
    """Every unit in scope as a tree, with its people and accounts counted."""
    units = scope_units()
    ids = [u.id for u in units]
    officers = dict(
        db.session.execute(
            sa.select(Officer.unit_id, sa.func.count())
            .where(Officer.unit_id.in_(ids), Officer.is_active)
            .group_by(Officer.unit_id)
        ).all()
    )
    accounts = dict(
        db.session.execute(
            sa.select(StaffAccount.unit_id, sa.func.count())
            .where(StaffAccount.unit_id.in_(ids), StaffAccount.is_active)
            .group_by(StaffAccount.unit_id)
        ).all()
    )
    return page(
        "admin_units.html",
        units=units,
        officers=officers,
        accounts=accounts,
        kinds=list(UnitKind),
        base_depth=current_staff().unit.depth,
    )


@bp.post("/admin/units")
@console_view(Role.ADMIN)
def admin_unit_create() -> Response:
    back = url_for("console.admin_units")
    try:
        body = parse(UnitIn, request.form, {"parent_id": _int(request.form.get("parent_id"))})
        unit = service.create_unit(
            code=body.code,
            name=body.name,
            kind=body.kind,
            parent=_scoped_unit(body.parent_id),
            region=body.region,
            address=body.address,
        )
    except (DomainError, FormError) as error:
        return _refused(error, back)
    return _done(f"已新增单位：{unit.name}。", back)


@bp.post("/admin/units/<int:unit_id>/<any(deactivate, activate):change>")
@console_view(Role.ADMIN)
def admin_unit_state(unit_id: int, change: str) -> Response:
    back = url_for("console.admin_unit", unit_id=unit_id)
    try:
        unit = _scoped_unit(unit_id)
        (service.deactivate_unit if change == "deactivate" else service.activate_unit)(unit)
    except DomainError as error:
        return _refused(error, back)
    return _done(f"已{'停用' if change == 'deactivate' else '启用'}：{unit.name}。", back)


@bp.get("/admin/units/<int:unit_id>")
@console_view(Role.ADMIN)
def admin_unit(unit_id: int) -> Response:
    """One unit: its officers (add, import from Excel, deactivate) and its accounts."""
    unit = _scoped_unit(unit_id)
    officers = db.paginate(
        sa.select(Officer).where(Officer.unit_id == unit.id).order_by(Officer.staff_no),
        page=page_number(),
        per_page=PER_PAGE * 2,
        error_out=False,
    )
    staff = db.session.scalars(
        sa.select(StaffAccount)
        .where(StaffAccount.unit_id == unit.id)
        .order_by(StaffAccount.username)
    ).all()
    return page("admin_unit.html", unit=unit, officers=officers, accounts=staff)


@bp.post("/admin/units/<int:unit_id>/officers")
@console_view(Role.ADMIN)
def admin_officer_create(unit_id: int) -> Response:
    back = url_for("console.admin_unit", unit_id=unit_id)
    try:
        body = parse(OfficerIn, request.form)
        officer = service.create_officer(
            unit=_scoped_unit(unit_id),
            name=body.name,
            staff_no=body.staff_no,
            position=body.position,
        )
    except (DomainError, FormError) as error:
        return _refused(error, back)
    return _done(f"已新增人员：{officer.name}（{officer.staff_no}）。", back)


def officer_rows(data: bytes) -> list[tuple[int, dict[str, str]]]:
    """(row number, fields) of an .xlsx sheet whose first row names 姓名, 警号/工号, 职务."""
    try:
        with tempfile.NamedTemporaryFile(suffix=".xlsx") as handle:
            handle.write(data)
            handle.flush()
            sheet = load_workbook(Path(handle.name), read_only=True).worksheets[0]
            table = [
                ["" if cell is None else str(cell).strip() for cell in row]
                for _, row in zip(
                    range(MAX_IMPORT_ROWS + 1), sheet.iter_rows(values_only=True), strict=False
                )
            ]
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise Invalid({"file": "不是有效的 Excel（.xlsx）文件"}, "不是有效的 Excel 文件") from exc
    if not table:
        raise Invalid({"file": "文件是空的"}, "文件是空的")
    header = [OFFICER_COLUMNS.get(name) for name in table[0]]
    if "name" not in header or "staff_no" not in header:
        raise Invalid({"file": "第一行须有“姓名”和“警号/工号”两列"}, "缺少列")
    return [
        (line, {k: v for k, v in zip(header, cells, strict=False) if k})
        for line, cells in enumerate(table[1:], start=2)
        if any(cells)
    ]


def import_officers(unit: Unit, rows: list[tuple[int, dict[str, str]]]) -> tuple[int, int]:
    """Create the new officers and update the names and positions of known staff numbers,
    through the registry service; all or nothing (Invalid naming each bad row)."""
    created = updated = 0
    problems = []
    for line, row in rows:
        savepoint = db.session.begin_nested()
        try:
            body = parse(OfficerIn, row)  # type: ignore[arg-type]
            known = service.find_officer_by_staff_no(unit, body.staff_no)
            if known is None:
                service.create_officer(
                    unit=unit, name=body.name, staff_no=body.staff_no, position=body.position
                )
                created += 1
            else:
                service.update_officer(
                    known, changes={"name": body.name, "position": body.position}, new_unit=None
                )
                updated += 1
        except (DomainError, FormError) as error:
            savepoint.rollback()
            detail = (
                error.message
                if isinstance(error, DomainError)
                else "；".join(describe(error.errors, LABELS))
            )
            problems.append(f"第 {line} 行：{detail}")
            continue
        savepoint.commit()
    if problems:
        raise Invalid({"file": "；".join(problems[:20])}, "；".join(problems[:20]))
    return created, updated


@bp.post("/admin/units/<int:unit_id>/officers/import")
@console_view(Role.ADMIN)
def admin_officer_import(unit_id: int) -> Response:
    back = url_for("console.admin_unit", unit_id=unit_id)
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise FormError({"file": "请选择要导入的 Excel 文件"})
        created, updated = import_officers(
            _scoped_unit(unit_id),
            [(line, MultiDict(row)) for line, row in officer_rows(upload.read())],
        )
    except (DomainError, FormError) as error:
        return _refused(error, back)
    return _done(f"导入完成：新增 {created} 人，更新 {updated} 人。", back)


@bp.post("/admin/officers/<int:officer_id>/<any(deactivate, activate):change>")
@console_view(Role.ADMIN)
def admin_officer_state(officer_id: int, change: str) -> Response:
    officer = service.get_officer(officer_id)
    back = url_for("console.admin_unit", unit_id=officer.unit_id)
    try:
        _scoped_unit(officer.unit_id)
        service.set_officer_active(officer, change == "activate")
    except DomainError as error:
        return _refused(error, back)
    return _done(f"已{'启用' if change == 'activate' else '停用'}：{officer.name}。", back)


# ---------------------------------------------------------------- staff accounts


@bp.get("/admin/staff")
@console_view(Role.ADMIN)
def admin_staff() -> Response:
    """Accounts in scope by role and unit, the form for a new one and the import."""
    stmt = sa.select(StaffAccount).where(
        StaffAccount.unit_id.in_(subtree_ids(current_staff().unit))
    )
    role = request.args.get("role", "")
    if role in {r.value for r in Role}:
        stmt = stmt.where(StaffAccount.role == Role(role))
    unit_id = _int(request.args.get("unit"))
    if unit_id is not None:
        stmt = stmt.where(StaffAccount.unit_id == unit_id)
    if request.args.get("inactive") != "1":
        stmt = stmt.where(StaffAccount.is_active)
    listing = db.paginate(
        stmt.order_by(StaffAccount.username), page=page_number(), per_page=PER_PAGE, error_out=False
    )
    return page(
        "admin_staff.html",
        listing=listing,
        roles=list(Role),
        units=scope_units(),
        base_depth=current_staff().unit.depth,
        wanted={
            "role": role,
            "unit": str(unit_id or ""),
            "inactive": request.args.get("inactive", ""),
        },
    )


def _officer_of(form: Any, unit: Unit | None) -> Officer | None:
    """The officer named by staff number in the account's unit (or its subtree), if any."""
    number = (form.get("officer_staff_no") or "").strip()
    if not number or unit is None:
        return None
    found = db.session.scalar(
        sa.select(Officer).where(Officer.staff_no == number, Officer.unit_id.in_(subtree_ids(unit)))
    )
    if found is None:
        raise FormError(
            {"officer_staff_no": f"{unit.name}及下级单位没有警号/工号为 {number} 的人员"}
        )
    return found


@bp.post("/admin/staff")
@console_view(Role.ADMIN)
def admin_staff_create() -> Response:
    back = url_for("console.admin_staff")
    form = request.form
    try:
        body = parse(StaffIn, form)
        unit = _scoped_unit(body.unit_id)
        account = service.create_staff(
            username=body.username,
            password=body.password,
            display_name=body.display_name,
            role=body.role,
            unit=unit,
            officer=_officer_of(form, unit),
        )
    except (DomainError, FormError) as error:
        return _refused(error, back)
    return _done(f"已新增账号：{account.username}（{account.role.label}）。", back)


def _scoped_staff(staff_id: int) -> StaffAccount:
    account = service.get_staff(staff_id)
    _scoped_unit(account.unit_id)
    return account


@bp.get("/admin/staff/<int:staff_id>")
@console_view(Role.ADMIN)
def admin_staff_account(staff_id: int) -> Response:
    account = _scoped_staff(staff_id)
    return page(
        "admin_staff_account.html",
        account=account,
        officer=db.session.get(Officer, account.officer_id) if account.officer_id else None,
        roles=list(Role),
        units=scope_units(),
        base_depth=current_staff().unit.depth,
    )


@bp.post("/admin/staff/<int:staff_id>")
@console_view(Role.ADMIN)
def admin_staff_update(staff_id: int) -> Response:
    """Role, unit, name and the officer link (by staff number; empty unlinks)."""
    back = url_for("console.admin_staff_account", staff_id=staff_id)
    form = request.form
    try:
        account = _scoped_staff(staff_id)
        body = parse(StaffPatch, form)
        changes = body.model_dump(exclude_unset=True)
        unit = _scoped_unit(body.unit_id) if "unit_id" in changes else account.unit
        officer = _officer_of(form, unit)
        if (officer.id if officer else None) != account.officer_id:
            changes["officer_id"] = officer.id if officer else None
        else:
            changes.pop("officer_id", None)
        service.update_staff(
            account,
            changes=changes,
            new_unit=unit if unit.id != account.unit_id else None,
            new_officer=officer,
        )
    except (DomainError, FormError) as error:
        return _refused(error, back)
    return _done("账号已修改；改了角色或单位的，其原有登录已失效。", back)


@bp.post("/admin/staff/<int:staff_id>/password")
@console_view(Role.ADMIN)
def admin_staff_password(staff_id: int) -> Response:
    back = url_for("console.admin_staff_account", staff_id=staff_id)
    try:
        account = _scoped_staff(staff_id)
        body = parse(PasswordReset, request.form)
        service.set_password(account, new_password=body.new_password, by_admin=True)
    except (DomainError, FormError) as error:
        return _refused(error, back)
    return _done(f"已重置 {account.username} 的密码，其原有登录已失效。", back)


@bp.post("/admin/staff/<int:staff_id>/<any(deactivate, activate):change>")
@console_view(Role.ADMIN)
def admin_staff_state(staff_id: int, change: str) -> Response:
    back = url_for("console.admin_staff_account", staff_id=staff_id)
    try:
        account = _scoped_staff(staff_id)
        service.set_staff_active(account, change == "activate", actor_id=current_staff().id)
    except DomainError as error:
        return _refused(error, back)
    return _done(f"已{'启用' if change == 'activate' else '停用'}账号 {account.username}。", back)


@bp.post("/admin/staff/import")
@console_view(Role.ADMIN)
def admin_staff_import() -> Response:
    """Accounts from a spreadsheet through app.org.staff_import (all or nothing); the new
    accounts' initial passwords shown once."""
    back = url_for("console.admin_staff")
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise FormError({"file": "请选择要导入的文件"})
        suffix = ".xlsx" if upload.filename.lower().endswith(".xlsx") else ".csv"
        with tempfile.NamedTemporaryFile(suffix=suffix) as handle:
            handle.write(upload.read())
            handle.flush()
            rows = staff_import.read_rows(Path(handle.name))
        for _, row in rows:  # only into units of the administrator's subtree
            unit = service.find_unit_by_code(row.get("unit_code", ""))
            if unit is not None:
                _scoped_unit(unit.id)
        done = staff_import.import_staff(rows)
    except (DomainError, FormError) as error:
        return _refused(error, back)
    except Exception as exc:  # a file that is neither CSV nor a workbook
        db.session.rollback()
        flash(f"文件无法读取：{type(exc).__name__}", "error")
        return see_other(back)
    lines = [
        f"{d.username}：{'新建，初始密码 ' + d.password if d.created else '已更新'}" for d in done
    ]
    return _done(f"导入 {len(done)} 个账号。" + "；".join(lines), back)
