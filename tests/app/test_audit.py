"""The audit log is append-only at the database, and admins read their subtree's trail."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DatabaseError

from app.audit import AuditLog
from app.extensions import db
from app.org.models import Role
from tests.factories import bearer, make_city, make_staff


def _one_audit_row(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.max(AuditLog.id)))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET action = 'tampered' WHERE id = :id",
        "DELETE FROM audit_log WHERE id = :id",
    ],
)
def test_database_refuses_to_change_audit_rows(app, statement):
    make_city(app)
    row_id = _one_audit_row(app)
    with app.app_context():
        with pytest.raises(DatabaseError, match="append-only"):
            with db.engine.begin() as conn:
                conn.execute(sa.text(statement), {"id": row_id})
        assert db.session.get(AuditLog, row_id).action == "unit.create"


@pytest.mark.postgres_only
def test_database_refuses_to_truncate_audit_log_on_postgresql(app):
    make_city(app)
    with app.app_context():
        with pytest.raises(DatabaseError, match="append-only"):
            with db.engine.begin() as conn:
                conn.exec_driver_sql("TRUNCATE audit_log")
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog)) > 0


def test_audit_row_records_actor_object_and_client_address(app, client):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["city"])
    response = client.post(
        "/api/v1/units",
        headers=bearer(app, admin),
        environ_base={"REMOTE_ADDR": "203.0.113.7"},
        json={
            "code": "NEW1",
            "name": "新单位",
            "kind": "court",
            "parent_id": city["district_a"].id,
        },
    )
    assert response.status_code == 201
    with app.app_context():
        row = db.session.scalars(
            sa.select(AuditLog).where(AuditLog.action == "unit.create").order_by(AuditLog.id.desc())
        ).first()
        assert (row.actor_type, row.actor_id, row.actor_name, row.role) == (
            "staff",
            admin.id,
            admin.username,
            "admin",
        )
        assert (row.object_type, row.object_id) == ("unit", str(response.json["id"]))
        assert row.client_addr == "203.0.113.7"
        assert row.details["code"] == "NEW1"
        assert row.created_at.tzinfo is not None


def test_admin_reads_only_their_subtree_trail(app, client):
    city = make_city(app)
    district_admin = make_staff(app, Role.ADMIN, city["district_a"])
    city_admin = make_staff(app, Role.ADMIN, city["city"])
    seen_by_district = client.get(
        "/api/v1/audit?action=unit.create&per_page=100", headers=bearer(app, district_admin)
    ).json
    unit_ids = {int(item["object_id"]) for item in seen_by_district["items"]}
    assert unit_ids == {city["district_a"].id, city["station_a"].id, city["court_a"].id}
    seen_by_city = client.get(
        "/api/v1/audit?action=unit.create&per_page=100", headers=bearer(app, city_admin)
    ).json
    assert seen_by_city["total"] == 6


def test_failed_sign_in_is_audited_without_the_password(app, client):
    city = make_city(app)
    account = make_staff(app, Role.SCREENER, city["city"])
    client.post(
        "/api/v1/staff/session", json={"username": account.username, "password": "wrong-secret-1"}
    )
    with app.app_context():
        row = db.session.scalars(
            sa.select(AuditLog).where(AuditLog.action == "staff.login_failed")
        ).one()
        assert row.object_id == str(account.id)
        assert "wrong-secret-1" not in str(row.details)
        assert row.actor_type == "anonymous"
