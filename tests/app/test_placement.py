"""Confidentiality by construction: where roles may sit, and an account's link to its officer
record (recusal)."""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa

from app.audit import AuditLog
from app.extensions import db
from app.org.models import Role, StaffAccount, Unit, UnitKind
from config import Config
from tests.app.test_errors import assert_error_shape
from tests.factories import PASSWORD, bearer, make_city, make_officer, make_staff

_serial = itertools.count(1)


def _new_staff(client, headers, role: str, unit_id: int, **extra):
    return client.post(
        "/api/v1/staff",
        headers=headers,
        json={
            "username": f"placed{next(_serial)}",
            "password": "Placed2026",
            "display_name": "新账号",
            "role": role,
            "unit_id": unit_id,
            **extra,
        },
    )


def _staff_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(StaffAccount))


def _links(app, account_id: int) -> list[tuple[int | None, int | None]]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(AuditLog)
            .where(AuditLog.action == "staff.officer_link", AuditLog.object_id == str(account_id))
            .order_by(AuditLog.id)
        )
        return [(row.details["before"], row.details["after"]) for row in rows]


# ---------------------------------------------------------------- where roles may sit


def test_the_default_rules_place_every_role():
    """A role the setting does not name could sit nowhere: each has a deliberate entry."""
    assert Config.STAFF_PLACEMENT == {
        "screener": ["committee"],
        "superior": ["committee"],
        "liaison": ["committee"],
        "analyst": ["committee"],
        "admin": ["committee"],
        "verifier": None,
    }
    assert set(Config.STAFF_PLACEMENT) == {role.value for role in Role}


@pytest.mark.parametrize("place", ["district_a", "station_a"])
@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_each_role_at_a_committee_and_at_a_police_station(app, client, role, place):
    city = make_city(app)
    headers = bearer(app, make_staff(app, Role.ADMIN, city["city"]))
    before = _staff_count(app)
    response = _new_staff(client, headers, role.value, city[place].id)
    allowed = place == "district_a" or role is Role.VERIFIER
    if allowed:
        assert response.status_code == 201, response.json
        assert _staff_count(app) == before + 1
        return
    body = assert_error_shape(response, 422, "placement")
    (message,) = body["details"]["fields"]["unit_id"]
    assert message == f"「{role.label}」账号只能设在政法委单位，甲区派出所是公安单位"
    assert body["message"] == message
    assert _staff_count(app) == before


def test_role_and_unit_changes_keep_to_the_rules(app, client):
    city = make_city(app)
    headers = bearer(app, make_staff(app, Role.ADMIN, city["city"]))
    verifier = make_staff(app, Role.VERIFIER, city["station_a"])
    screener = make_staff(app, Role.SCREENER, city["district_a"])

    promoted = client.patch(
        f"/api/v1/staff/{verifier.id}", headers=headers, json={"role": "superior"}
    )
    body = assert_error_shape(promoted, 422, "placement")
    assert body["details"]["fields"]["role"] == [
        "「上级审核」账号只能设在政法委单位，甲区派出所是公安单位"
    ]
    moved = client.patch(
        f"/api/v1/staff/{screener.id}", headers=headers, json={"unit_id": city["court_a"].id}
    )
    body = assert_error_shape(moved, 422, "placement")
    assert body["details"]["fields"]["unit_id"] == [
        "「审核交办」账号只能设在政法委单位，甲区人民法院是法院单位"
    ]
    with app.app_context():
        assert db.session.get(StaffAccount, verifier.id).role is Role.VERIFIER
        assert db.session.get(StaffAccount, screener.id).unit_id == city["district_a"].id

    # Both together into a place the rules allow; a verifier may go anywhere.
    both = client.patch(
        f"/api/v1/staff/{verifier.id}",
        headers=headers,
        json={"role": "superior", "unit_id": city["district_b"].id},
    )
    assert both.status_code == 200 and both.json["role"] == "superior"
    down = client.patch(
        f"/api/v1/staff/{screener.id}",
        headers=headers,
        json={"role": "verifier", "unit_id": city["court_a"].id},
    )
    assert down.status_code == 200 and down.json["unit_id"] == city["court_a"].id


def test_the_rules_are_configuration(app, client):
    city = make_city(app)
    headers = bearer(app, make_staff(app, Role.ADMIN, city["city"]))
    app.config["STAFF_PLACEMENT"] = {**app.config["STAFF_PLACEMENT"], "analyst": None}
    assert _new_staff(client, headers, "analyst", city["station_a"].id).status_code == 201
    app.config["STAFF_PLACEMENT"] = {
        **app.config["STAFF_PLACEMENT"],
        "verifier": ["police", "court"],
        "liaison": [],
    }
    refused = _new_staff(client, headers, "verifier", city["district_a"].id)
    assert assert_error_shape(refused, 422, "placement")["details"]["fields"]["unit_id"] == [
        "「核查」账号只能设在公安、法院单位，甲区委政法委是政法委单位"
    ]
    nowhere = _new_staff(client, headers, "liaison", city["city"].id)
    assert assert_error_shape(nowhere, 422, "placement")["message"] == (
        "按当前配置，「纪检联络员」账号不能设在任何单位"
    )


def test_a_unit_keeps_its_kind_while_accounts_there_need_it(app, client):
    city = make_city(app)
    headers = bearer(app, make_staff(app, Role.ADMIN, city["city"]))
    screener = make_staff(app, Role.SCREENER, city["district_b"], username="zhoumin")
    make_staff(app, Role.VERIFIER, city["district_b"])
    refused = client.patch(
        f"/api/v1/units/{city['district_b'].id}", headers=headers, json={"kind": "police"}
    )
    body = assert_error_shape(refused, 409, "placement")
    assert body["details"]["accounts"] == [
        {"id": screener.id, "username": "zhoumin", "role": "screener"}
    ]
    assert "zhoumin（审核交办）" in body["message"]
    with app.app_context():
        assert db.session.get(Unit, city["district_b"].id).kind is UnitKind.COMMITTEE
    # Only verifiers at the station: its kind may change.
    make_staff(app, Role.VERIFIER, city["station_b"])
    changed = client.patch(
        f"/api/v1/units/{city['station_b'].id}", headers=headers, json={"kind": "justice"}
    )
    assert changed.status_code == 200 and changed.json["kind"] == "justice"


def test_check_placement_lists_the_accounts_that_break_the_rules(app, runner):
    city = make_city(app)
    make_staff(app, Role.ADMIN, city["city"])
    make_staff(app, Role.VERIFIER, city["station_a"])
    clean = runner.invoke(args=["staff", "check-placement"])
    assert clean.exit_code == 0, clean.output
    assert "所有账号都符合角色设置" in clean.output

    # Written before the rules existed (or under other rules): straight into the table.
    with app.app_context():
        for username, role, unit, active in (
            ("old-screener", Role.SCREENER, city["station_a"], True),
            ("old-admin", Role.ADMIN, city["court_a"], False),
        ):
            db.session.add(
                StaffAccount(
                    username=username,
                    password_hash="x",
                    display_name=username,
                    role=role,
                    unit_id=unit.id,
                    is_active=active,
                )
            )
        db.session.commit()
    found = runner.invoke(args=["staff", "check-placement"])
    assert found.exit_code == 1
    lines = found.stdout.strip().splitlines()
    assert lines == [
        "old-admin（已停用）\tadmin 系统管理员\t甲区人民法院（"
        f"{city['court_a'].code}）\t「系统管理员」账号只能设在政法委单位，"
        "甲区人民法院是法院单位",
        "old-screener\tscreener 审核交办\t甲区派出所（"
        f"{city['station_a'].code}）\t「审核交办」账号只能设在政法委单位，"
        "甲区派出所是公安单位",
    ]
    assert "共 2 个账号不符合角色设置" in found.stderr


def test_check_placement_says_it_exits_non_zero(runner):
    help_text = runner.invoke(args=["staff", "check-placement", "--help"]).output
    assert "以状态 1 退出" in " ".join(help_text.split())


def test_the_demo_city_keeps_to_the_rules(app, runner):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    result = runner.invoke(args=["staff", "check-placement"])
    assert result.exit_code == 0, result.output


# ---------------------------------------------------------------- officer link


def test_admin_links_relinks_and_unlinks_an_accounts_officer(app, client):
    city = make_city(app)
    headers = bearer(app, make_staff(app, Role.ADMIN, city["city"]))
    first = make_officer(app, city["station_a"], name="刘洋")
    second = make_officer(app, city["station_a"], name="刘洋（新警号）")

    created = _new_staff(client, headers, "verifier", city["station_a"].id, officer_id=first.id)
    assert created.status_code == 201, created.json
    assert created.json["officer_id"] == first.id
    account_id = created.json["id"]
    relinked = client.patch(
        f"/api/v1/staff/{account_id}", headers=headers, json={"officer_id": second.id}
    )
    assert relinked.status_code == 200 and relinked.json["officer_id"] == second.id
    unlinked = client.patch(
        f"/api/v1/staff/{account_id}", headers=headers, json={"officer_id": None}
    )
    assert unlinked.status_code == 200 and unlinked.json["officer_id"] is None
    # Naming the officer it already has, or nothing about the link, changes no link.
    client.patch(f"/api/v1/staff/{account_id}", headers=headers, json={"display_name": "刘洋"})
    client.patch(f"/api/v1/staff/{account_id}", headers=headers, json={"officer_id": None})

    assert _links(app, account_id) == [(None, first.id), (first.id, second.id), (second.id, None)]
    shown = client.get(f"/api/v1/staff/{account_id}", headers=headers).json
    assert shown["officer_id"] is None


def test_an_account_may_link_an_officer_of_its_subtree_only(app, client):
    city = make_city(app)
    headers = bearer(app, make_staff(app, Role.ADMIN, city["city"]))
    below = make_officer(app, city["station_a"])
    elsewhere = make_officer(app, city["station_b"])

    superior = _new_staff(client, headers, "superior", city["district_a"].id, officer_id=below.id)
    assert superior.status_code == 201 and superior.json["officer_id"] == below.id

    verifier = make_staff(app, Role.VERIFIER, city["station_a"])
    refused = client.patch(
        f"/api/v1/staff/{verifier.id}", headers=headers, json={"officer_id": elsewhere.id}
    )
    body = assert_error_shape(refused, 422, "validation_error")
    assert body["details"]["fields"]["officer_id"] == [
        "该人员（乙区派出所）不属于账号所在的甲区派出所及其下级单位"
    ]
    before = _staff_count(app)
    created = _new_staff(client, headers, "verifier", city["station_a"].id, officer_id=elsewhere.id)
    assert_error_shape(created, 422, "validation_error")
    assert _staff_count(app) == before
    assert _links(app, verifier.id) == []


def test_one_officer_one_account_and_only_active_officers(app, client):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["city"])
    headers = bearer(app, admin)
    officer = make_officer(app, city["station_a"])
    retired = make_officer(app, city["station_a"])
    holder = make_staff(app, Role.VERIFIER, city["station_a"], officer=officer)
    other = make_staff(app, Role.VERIFIER, city["station_a"])

    taken = client.patch(
        f"/api/v1/staff/{other.id}", headers=headers, json={"officer_id": officer.id}
    )
    assert assert_error_shape(taken, 409, "duplicate")["details"]["value"] == officer.id
    client.post(f"/api/v1/officers/{retired.id}/deactivate", headers=headers)
    inactive = client.patch(
        f"/api/v1/staff/{other.id}", headers=headers, json={"officer_id": retired.id}
    )
    assert_error_shape(inactive, 409, "officer_inactive")
    missing = client.patch(
        f"/api/v1/staff/{other.id}", headers=headers, json={"officer_id": 999999}
    )
    assert_error_shape(missing, 404, "not_found")
    # The holder naming its own officer again is no conflict.
    same = client.patch(
        f"/api/v1/staff/{holder.id}", headers=headers, json={"officer_id": officer.id}
    )
    assert same.status_code == 200
    assert _links(app, other.id) == []
    assert _links(app, holder.id) == [(None, officer.id)]


def test_moving_a_linked_account_away_from_its_officer_is_refused(app, client):
    city = make_city(app)
    headers = bearer(app, make_staff(app, Role.ADMIN, city["city"]))
    officer = make_officer(app, city["station_a"])
    account = make_staff(app, Role.SUPERIOR, city["district_a"], officer=officer)
    away = client.patch(
        f"/api/v1/staff/{account.id}", headers=headers, json={"unit_id": city["district_b"].id}
    )
    assert "officer_id" in assert_error_shape(away, 422, "validation_error")["details"]["fields"]
    # Up the tree the officer is still below the account; or unlink in the same request.
    up = client.patch(
        f"/api/v1/staff/{account.id}", headers=headers, json={"unit_id": city["city"].id}
    )
    assert up.status_code == 200 and up.json["officer_id"] == officer.id
    unlinked_away = client.patch(
        f"/api/v1/staff/{account.id}",
        headers=headers,
        json={"unit_id": city["district_b"].id, "officer_id": None},
    )
    assert unlinked_away.status_code == 200 and unlinked_away.json["officer_id"] is None


def _create_staff(runner, username: str, role: str, unit_code: str, *extra: str):
    return runner.invoke(
        args=[
            "create-staff",
            *("--username", username, "--password", PASSWORD),
            *("--role", role, "--unit-code", unit_code),
            *extra,
        ]
    )


def test_create_staff_command_links_the_officer_by_number(app, runner, client):
    city = make_city(app)
    station = city["station_a"].code
    officer = make_officer(app, city["station_a"], name="刘洋", staff_no="031234")
    result = _create_staff(runner, "liuyang", "verifier", station, "--officer-number", "031234")
    assert result.exit_code == 0, result.output
    assert "关联人员 刘洋（031234）" in result.output
    with app.app_context():
        account = db.session.scalar(
            sa.select(StaffAccount).where(StaffAccount.username == "liuyang")
        )
        assert account.officer_id == officer.id
    assert _links(app, account.id) == [(None, officer.id)]

    unknown = _create_staff(runner, "nobody", "verifier", station, "--officer-number", "000000")
    assert unknown.exit_code != 0 and "没有警号/工号为 000000 的人员" in unknown.output
    misplaced = _create_staff(runner, "stationboss", "admin", station)
    assert misplaced.exit_code != 0
    assert "「系统管理员」账号只能设在政法委单位" in misplaced.output
    assert _staff_count(app) == 1


def _sheet(tmp_path, rows: list[list[str]], name: str = "staff.csv"):
    path = tmp_path / name
    if name.endswith(".xlsx"):
        from openpyxl import Workbook

        book = Workbook()
        for row in rows:
            book.active.append(row)
        book.save(path)
    else:
        path.write_text("\n".join(",".join(row) for row in rows), encoding="utf-8-sig")
    return path


def test_staff_import_creates_links_relinks_and_unlinks_all_or_nothing(app, runner, tmp_path):
    city = make_city(app)
    station = city["station_a"].code
    wang = make_officer(app, city["station_a"], name="王强", staff_no="032001")
    zhao = make_officer(app, city["station_a"], name="赵敏", staff_no="032002")
    header = ["用户名", "姓名", "角色", "单位编码", "警号/工号"]
    good = _sheet(
        tmp_path,
        [
            header,
            ["wangqiang", "王强", "核查", station, "032001"],
            ["screen1", "审核甲", "screener", city["city"].code, ""],
        ],
        "staff.xlsx",
    )
    out = tmp_path / "passwords.csv"
    result = runner.invoke(args=["staff", "import", str(good), "--passwords-out", str(out)])
    assert result.exit_code == 0, result.output
    assert "第 2 行 wangqiang：新增，关联人员 王强（032001）" in result.output
    assert "共新增 2 个、更新 0 个账号。" in result.output
    passwords = dict(line.split(",") for line in out.read_text(encoding="utf-8").splitlines()[1:])
    assert (
        set(passwords) == {"wangqiang", "screen1"} and passwords["wangqiang"] not in result.output
    )
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    with app.app_context():
        account = db.session.scalar(
            sa.select(StaffAccount).where(StaffAccount.username == "wangqiang")
        )
    assert account.officer_id == wang.id and _links(app, account.id) == [(None, wang.id)]

    # One bad row (an admin at a station, an unknown number): nothing changes, each row named.
    bad = _sheet(
        tmp_path,
        [
            header,
            ["wangqiang", "王强", "verifier", station, "032002"],
            ["boss", "站长", "admin", station, ""],
            ["ghost", "无名", "verifier", station, "099999"],
        ],
    )
    refused = runner.invoke(args=["staff", "import", str(bad)])
    assert refused.exit_code != 0
    assert "未导入任何账号" in refused.output
    assert "第 3 行：「系统管理员」账号只能设在政法委单位" in refused.output
    assert "第 4 行：甲区派出所没有警号/工号为 099999 的人员" in refused.output
    assert _staff_count(app) == 2 and _links(app, account.id) == [(None, wang.id)]

    # Relink, then unlink with an empty cell: each change is an audit row.
    for number, expected in (("032002", zhao.id), ("", None)):
        sheet = _sheet(tmp_path, [header, ["wangqiang", "王强", "verifier", station, number]])
        done = runner.invoke(args=["staff", "import", str(sheet)])
        assert done.exit_code == 0, done.output
        assert "更新" in done.output
        with app.app_context():
            assert db.session.get(StaffAccount, account.id).officer_id == expected
    assert _links(app, account.id) == [(None, wang.id), (wang.id, zhao.id), (zhao.id, None)]
