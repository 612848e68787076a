"""The administrator's registry in the console: units as a tree, officers one by one and
from Excel (all or nothing), staff accounts with role, unit, officer link, password reset and
deactivation, the calendar, questionnaire versions, the audit log — every change through the
registry's services (placement rules and audit rows included)."""

from __future__ import annotations

import io

import openpyxl
import sqlalchemy as sa

from app.audit import AuditLog
from app.extensions import db
from app.org.models import Officer, StaffAccount
from evaluations.questionnaire import Questionnaire
from tests.console.helpers import login_form, sign_in, text
from tests.factories import PASSWORD


def _xlsx(rows: list[list[str]]) -> io.BytesIO:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    data = io.BytesIO()
    book.save(data)
    data.seek(0)
    return data


def _upload(desk, path: str, rows: list[list[str]], name: str = "people.xlsx"):
    return desk.client.post(
        path,
        data={"csrf": desk.csrf, "file": (_xlsx(rows), name)},
        content_type="multipart/form-data",
    )


def test_units_tree_and_officers_with_an_excel_import(app, cast):
    admin = sign_in(app, cast.admin)
    tree = text(admin.get("/console/admin/units"))
    assert tree.index("测试市委政法委") < tree.index("甲区委政法委") < tree.index("甲区派出所")
    created = admin.post(
        "/console/admin/units",
        parent_id=str(cast.units["district_a"].id),
        code="NEW-01",
        name="甲区交警大队",
        kind="police",
    )
    assert created.status_code == 303 and "已新增单位" in text(
        admin.get(created.headers["Location"])
    )

    station = cast.units["station_a"].id
    bad = _upload(
        admin,
        f"/console/admin/units/{station}/officers/import",
        [["姓名", "警号/工号", "职务"], ["张三", "100001", "民警"], ["", "100002", ""]],
    )
    assert "第 3 行" in text(admin.get(bad.headers["Location"]))
    with app.app_context():  # all or nothing
        assert db.session.scalar(sa.select(Officer).where(Officer.staff_no == "100001")) is None
    good = _upload(
        admin,
        f"/console/admin/units/{station}/officers/import",
        [
            ["姓名", "警号/工号", "职务"],
            ["张三", "100001", "民警"],
            ["李四", "100002", "辅警"],
            [cast.officer.name, cast.officer.staff_no, "户籍内勤"],
        ],
    )
    assert "新增 2 人，更新 1 人" in text(admin.get(good.headers["Location"]))
    page = text(admin.get(f"/console/admin/units/{station}"))
    assert "张三" in page and "户籍内勤" in page
    not_excel = _upload(admin, f"/console/admin/units/{station}/officers/import", [], "x.xlsx")
    assert not_excel.status_code == 303


def test_staff_accounts_role_unit_officer_link_password_and_deactivation(app, cast):
    admin = sign_in(app, cast.admin)
    created = admin.post(
        "/console/admin/staff",
        username="new-verifier",
        display_name="新核查员",
        password="Start2026go",
        role="verifier",
        unit_id=str(cast.units["station_a"].id),
        officer_staff_no=cast.officer.staff_no,
    )
    assert "已新增账号" in text(admin.get(created.headers["Location"]))
    with app.app_context():
        account = db.session.scalars(
            sa.select(StaffAccount).where(StaffAccount.username == "new-verifier")
        ).one()
        account_id, officer_id = account.id, account.officer_id
    assert officer_id == cast.officer.id

    # The placement rule of the API: a screener may not sit at a police station.
    misplaced = admin.post(
        f"/console/admin/staff/{account_id}",
        display_name="新核查员",
        role="screener",
        unit_id=str(cast.units["station_a"].id),
        officer_staff_no=cast.officer.staff_no,
    )
    assert misplaced.status_code == 303
    assert "新核查员" in text(admin.get(misplaced.headers["Location"]))
    with app.app_context():
        assert db.session.get(StaffAccount, account_id).role.value == "verifier"
    unlinked = admin.post(
        f"/console/admin/staff/{account_id}",
        display_name="新核查员",
        role="verifier",
        unit_id=str(cast.units["station_a"].id),
        officer_staff_no="",
    )
    assert "账号已修改" in text(admin.get(unlinked.headers["Location"]))
    with app.app_context():
        assert db.session.get(StaffAccount, account_id).officer_id is None

    admin.post(f"/console/admin/staff/{account_id}/password", new_password="Reset2026ok")
    assert login_form(app.test_client(), "new-verifier", "Reset2026ok").status_code == 303
    admin.post(f"/console/admin/staff/{account_id}/deactivate")
    assert login_form(app.test_client(), "new-verifier", "Reset2026ok").status_code != 303
    refused = admin.post(f"/console/admin/staff/{cast.admin.id}/deactivate")
    assert "不能停用自己的账号" in text(admin.get(refused.headers["Location"]))
    assert login_form(app.test_client(), cast.admin.username, PASSWORD).status_code == 303


def test_calendar_questionnaires_and_audit_log(app, cast):
    admin = sign_in(app, cast.admin)
    calendar = text(admin.get("/console/admin/calendar?year=2026"))
    assert "全年工作日" in calendar
    assert "2026-10-01" in calendar or "尚未载入" in calendar

    form = {"kind": "police", "dimensions": "态度\n效率\n公正"}
    form |= {f"reasons_{level}": "等候太久\n态度生硬" for level in range(1, 6)}
    published = admin.post("/console/admin/questionnaires", **form)
    assert "已发布第 1 版问卷" in text(admin.get(published.headers["Location"]))
    with app.app_context():
        row = db.session.scalars(
            sa.select(Questionnaire).where(Questionnaire.unit_kind == "police")
        ).one()
        assert [d["label"] for d in row.dimensions] == ["态度", "效率", "公正"]
        assert row.dimensions[0]["key"] == "attitude"  # a kept label keeps its key
    empty = admin.post("/console/admin/questionnaires", kind="police", dimensions="")
    assert "评价维度" in text(admin.get(empty.headers["Location"]))

    audit = text(admin.get("/console/admin/audit?action=questionnaire.publish"))
    assert "questionnaire.publish" in audit and "共 1 条" in audit
    with app.app_context():
        total = db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog))
    assert total > 1 and f"共 {total} 条" in text(admin.get("/console/admin/audit"))
