"""Command line: the demo city, create-unit, create-staff, jobs."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.org.models import Officer, StaffAccount, Unit, UnitKind
from demo.city import DEMO_PASSWORD, DEMO_STAFF


def _counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return tuple(
            db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Unit, Officer, StaffAccount)
        )


def test_seed_demo_builds_the_city_and_is_idempotent(app, runner, client):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    units, officers, staff = _counts(app)
    assert 38 <= units <= 50 and 250 <= officers <= 350 and staff == len(DEMO_STAFF)
    with app.app_context():
        kinds = set(db.session.scalars(sa.select(Unit.kind).distinct()))
        assert kinds == set(UnitKind)
        districts = db.session.scalars(
            sa.select(Unit).where(Unit.depth == 1, Unit.kind == UnitKind.COMMITTEE)
        )
        assert len(list(districts)) == 6
        names = list(db.session.scalars(sa.select(Officer.name)))
        assert all(2 <= len(name) <= 3 and not name.isascii() for name in names)
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0 and "新增单位 0 个、人员 0 名、账号 0 个" in again.output
    assert _counts(app) == (units, officers, staff)
    # Every documented demo account signs in.
    roles = set()
    for account in DEMO_STAFF:
        response = client.post(
            "/api/v1/staff/session", json={"username": account.username, "password": DEMO_PASSWORD}
        )
        assert response.status_code == 200, account.username
        roles.add(response.json["role"])
    assert len(roles) == len(DEMO_STAFF)


def test_create_unit_and_staff(app, runner, client):
    result = runner.invoke(
        args=["create-unit", "--code", "ROOT", "--name", "某市委政法委", "--kind", "committee"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        args=[
            "create-staff",
            "--username",
            "boss",
            "--password",
            "Boss2026x",
            "--role",
            "admin",
            "--unit-code",
            "ROOT",
        ]
    )
    assert result.exit_code == 0, result.output
    assert (
        client.post(
            "/api/v1/staff/session", json={"username": "boss", "password": "Boss2026x"}
        ).status_code
        == 200
    )
    duplicate = runner.invoke(
        args=[
            "create-staff",
            "--username",
            "boss",
            "--password",
            "Boss2026x",
            "--role",
            "admin",
            "--unit-code",
            "ROOT",
        ]
    )
    assert duplicate.exit_code != 0 and "已存在" in duplicate.output
    missing = runner.invoke(
        args=[
            "create-staff",
            "--username",
            "x1",
            "--password",
            "Boss2026x",
            "--role",
            "admin",
            "--unit-code",
            "NOPE",
        ]
    )
    assert missing.exit_code != 0 and "单位不存在" in missing.output
    weak = runner.invoke(
        args=[
            "create-staff",
            "--username",
            "x2",
            "--password",
            "weak",
            "--role",
            "admin",
            "--unit-code",
            "ROOT",
        ]
    )
    assert weak.exit_code != 0 and "密码" in weak.output


def test_jobs_list_and_unknown_job(runner):
    listed = runner.invoke(args=["jobs", "list"])
    assert "wechat_token_refresh" in listed.output
    unknown = runner.invoke(args=["jobs", "run", "no_such_job"])
    assert unknown.exit_code != 0 and "没有这个任务" in unknown.output


def test_wechat_token_refresh_job_skips_without_credentials(runner):
    result = runner.invoke(args=["jobs", "run", "wechat_token_refresh"])
    assert result.exit_code == 0, result.output
    assert "wechat_token_refresh" in result.output
