"""Staff accounts from a spreadsheet (CSV or XLSX): who, role, unit and the officer link.

The first row names the columns: 用户名, 姓名, 角色, 单位编码 and, optionally, 警号/工号
(the account holder's own officer record in that unit: the link that recuses them from clues
about themselves; an empty cell on an existing account unlinks it). 角色 is the role's Chinese
name or its code (screener, verifier, …).

All or nothing: every row goes through the same service calls as `POST /staff` and
`PATCH /staff/{id}` (placement rules, officer link checks, audit rows); when any row fails,
nothing is written and every problem is reported with its row number. New accounts get a random
initial password, returned for the caller to hand over.
"""

from __future__ import annotations

import csv
import io
import secrets
import string
from dataclasses import dataclass, replace
from pathlib import Path

from app.errors import DomainError, Invalid
from app.extensions import db
from app.org import service
from app.org.models import Role

COLUMNS = {
    "用户名": "username",
    "姓名": "display_name",
    "角色": "role",
    "单位编码": "unit_code",
    "警号/工号": "officer_number",
}
REQUIRED = ("username", "display_name", "role", "unit_code")
ROLES = {role.label: role for role in Role} | {role.value: role for role in Role}


@dataclass(frozen=True)
class Imported:
    line: int
    username: str
    created: bool
    password: str | None  # the initial password of a new account
    officer: str | None  # "姓名（警号）" of the linked officer record


def read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(row number, {field: text}) for each non-empty row of a .csv (UTF-8) or .xlsx file."""
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook

        sheet = load_workbook(path, read_only=True).worksheets[0]
        table = [
            ["" if cell is None else str(cell).strip() for cell in row]
            for row in sheet.iter_rows(values_only=True)
        ]
    else:
        text = path.read_bytes().decode("utf-8-sig")
        table = [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text))]
    if not table:
        raise Invalid({"file": "文件是空的"}, "文件是空的")
    header = [COLUMNS.get(name) for name in table[0]]
    missing = [name for name, key in COLUMNS.items() if key in REQUIRED and key not in header]
    if missing:
        message = "缺少列：" + "、".join(missing)
        raise Invalid({"file": message}, message)
    rows = []
    for line, cells in enumerate(table[1:], start=2):
        if not any(cells):
            continue
        rows.append((line, {key: value for key, value in zip(header, cells, strict=False) if key}))
    return rows


def _password() -> str:
    letters, digits = string.ascii_letters, string.digits
    body = [secrets.choice(letters + digits) for _ in range(10)]
    return "".join(body) + secrets.choice(letters) + secrets.choice(digits)


def _apply(row: dict[str, str]) -> Imported:
    username = row.get("username", "").strip().lower()
    missing = [name for name, key in COLUMNS.items() if key in REQUIRED and not row.get(key)]
    if missing:
        raise Invalid({"row": "未填写：" + "、".join(missing)}, "未填写：" + "、".join(missing))
    role = ROLES.get(row["role"])
    if role is None:
        raise Invalid({"role": f"没有这个角色：{row['role']}"}, f"没有这个角色：{row['role']}")
    unit = service.find_unit_by_code(row["unit_code"])
    if unit is None:
        raise Invalid(
            {"unit": f"单位不存在：{row['unit_code']}"}, f"单位不存在：{row['unit_code']}"
        )
    number = row.get("officer_number", "").strip()
    officer = service.find_officer_by_staff_no(unit, number) if number else None
    if number and officer is None:
        message = f"{unit.name}没有警号/工号为 {number} 的人员"
        raise Invalid({"officer_number": message}, message)
    linked = f"{officer.name}（{officer.staff_no}）" if officer else None
    account = service.find_staff_by_username(username)
    if account is None:
        password = _password()
        service.create_staff(
            username=username,
            password=password,
            display_name=row["display_name"],
            role=role,
            unit=unit,
            officer=officer,
        )
        return Imported(0, username, True, password, linked)
    changes: dict[str, object] = {"display_name": row["display_name"], "role": role}
    if (officer.id if officer else None) != account.officer_id:
        changes["officer_id"] = officer.id if officer else None
    service.update_staff(
        account,
        changes=changes,
        new_unit=unit if unit.id != account.unit_id else None,
        new_officer=officer,
    )
    return Imported(0, username, False, None, linked)


def import_staff(rows: list[tuple[int, dict[str, str]]]) -> list[Imported]:
    """Create or update every row's account; Invalid naming each bad row, and nothing kept,
    when any row fails (the caller rolls back)."""
    done, problems = [], {}
    for line, row in rows:
        savepoint = db.session.begin_nested()
        try:
            result = _apply(row)
        except DomainError as error:
            savepoint.rollback()
            problems[str(line)] = error.message
            continue
        savepoint.commit()
        done.append(replace(result, line=line))
    if problems:
        lines = [f"第 {line} 行：{message}" for line, message in problems.items()]
        raise Invalid(
            {f"row {line}": message for line, message in problems.items()}, "\n".join(lines)
        )
    return done
