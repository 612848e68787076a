"""The organisation registry: units as a tree, officers, staff accounts; nothing is deleted."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.org.models import Role, Unit, subtree_ids
from tests.app.test_errors import assert_error_shape
from tests.factories import bearer, make_city, make_officer, make_staff, make_unit


def test_subtree_query_returns_exactly_the_descendants(app):
    city = make_city(app)
    # A sibling whose id shares a prefix with district A's must not leak into its subtree.
    for _ in range(12):
        make_unit(app, parent=city["district_b"])
    with app.app_context():
        district_a = db.session.get(Unit, city["district_a"].id)
        ids = set(db.session.scalars(subtree_ids(district_a)))
    assert ids == {city["district_a"].id, city["station_a"].id, city["court_a"].id}


def test_staff_list_units_only_in_their_subtree(app, client):
    city = make_city(app)
    verifier = make_staff(app, Role.VERIFIER, city["district_a"])
    body = client.get("/api/v1/units", headers=bearer(app, verifier)).json
    assert {item["id"] for item in body["items"]} == {
        city["district_a"].id,
        city["station_a"].id,
        city["court_a"].id,
    }
    assert body["items"][0]["kind_label"] == "政法委"


def test_admin_creates_updates_and_moves_units(app, client):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["city"])
    headers = bearer(app, admin)
    created = client.post(
        "/api/v1/units",
        headers=headers,
        json={
            "code": "JC-SFS",
            "name": "甲区司法所",
            "kind": "justice",
            "parent_id": city["station_a"].id,
            "address": "甲区人民路 1 号",
        },
    )
    assert created.status_code == 201
    new_id = created.json["id"]
    assert created.json["depth"] == 3
    patched = client.patch(
        f"/api/v1/units/{new_id}",
        headers=headers,
        json={"name": "甲区城关司法所", "parent_id": city["district_b"].id},
    )
    assert patched.status_code == 200
    assert patched.json["name"] == "甲区城关司法所"
    assert patched.json["parent_id"] == city["district_b"].id
    # Moving district A under district B moves its whole subtree.
    client.patch(
        f"/api/v1/units/{city['district_a'].id}",
        headers=headers,
        json={"parent_id": city["district_b"].id},
    )
    with app.app_context():
        district_b = db.session.get(Unit, city["district_b"].id)
        ids = set(db.session.scalars(subtree_ids(district_b)))
        station = db.session.get(Unit, city["station_a"].id)
        assert station.depth == 3
    assert {city["district_a"].id, city["station_a"].id, city["court_a"].id, new_id} <= ids


def test_a_unit_cannot_move_under_its_own_descendant(app, client):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["city"])
    assert_error_shape(
        client.patch(
            f"/api/v1/units/{city['district_a'].id}",
            headers=bearer(app, admin),
            json={"parent_id": city["station_a"].id},
        ),
        409,
        "cycle",
    )


def test_null_in_a_patch_is_refused(app, client):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["city"])
    body = assert_error_shape(
        client.patch(
            f"/api/v1/units/{city['station_a'].id}", headers=bearer(app, admin), json={"name": None}
        ),
        422,
    )
    assert "name" in body["details"]["fields"]


def test_deactivation_keeps_the_row_and_respects_children(app, client):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["city"])
    headers = bearer(app, admin)
    assert_error_shape(
        client.post(f"/api/v1/units/{city['district_a'].id}/deactivate", headers=headers),
        409,
        "has_active_children",
    )
    for unit in ("station_a", "court_a", "district_a"):
        response = client.post(f"/api/v1/units/{city[unit].id}/deactivate", headers=headers)
        assert response.status_code == 200 and response.json["is_active"] is False
    assert (
        client.get(f"/api/v1/units/{city['district_a'].id}", headers=headers).json["is_active"]
        is False
    )
    assert_error_shape(
        client.post(f"/api/v1/units/{city['station_a'].id}/activate", headers=headers),
        409,
        "parent_inactive",
    )
    assert_error_shape(client.delete(f"/api/v1/units/{city['station_a'].id}", headers=headers), 405)


def test_officers_unique_staff_number_per_unit(app, client):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["city"])
    headers = bearer(app, admin)
    url = f"/api/v1/units/{city['station_a'].id}/officers"
    first = client.post(
        url, headers=headers, json={"name": "李明", "staff_no": "031001", "position": "社区民警"}
    )
    assert first.status_code == 201
    assert_error_shape(
        client.post(url, headers=headers, json={"name": "王强", "staff_no": "031001"}),
        409,
        "duplicate",
    )
    # The same number in another unit is fine.
    assert (
        client.post(
            f"/api/v1/units/{city['station_b'].id}/officers",
            headers=headers,
            json={"name": "王强", "staff_no": "031001"},
        ).status_code
        == 201
    )
    officer_id = first.json["id"]
    moved = client.patch(
        f"/api/v1/officers/{officer_id}",
        headers=headers,
        json={"unit_id": city["court_a"].id, "position": "法警"},
    )
    assert moved.status_code == 200 and moved.json["unit_id"] == city["court_a"].id
    off = client.post(f"/api/v1/officers/{officer_id}/deactivate", headers=headers)
    assert off.json["is_active"] is False
    listed = client.get(
        f"/api/v1/units/{city['court_a'].id}/officers?is_active=false", headers=headers
    ).json
    assert [item["id"] for item in listed["items"]] == [officer_id]


def test_staff_accounts_lifecycle(app, client):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["district_a"])
    headers = bearer(app, admin)
    created = client.post(
        "/api/v1/staff",
        headers=headers,
        json={
            "username": "Zhou.Min",
            "password": "Screen2026",
            "display_name": "周敏",
            "role": "screener",
            "unit_id": city["district_a"].id,
        },
    )
    assert created.status_code == 201
    assert created.json["username"] == "zhou.min"
    assert "Screen2026" not in str(created.json) and "password_hash" not in created.json
    assert_error_shape(
        client.post(
            "/api/v1/staff",
            headers=headers,
            json={
                "username": "ZHOU.MIN",
                "password": "Screen2026",
                "display_name": "周敏二",
                "role": "screener",
                "unit_id": city["district_a"].id,
            },
        ),
        409,
        "duplicate",
    )
    # Outside the admin's subtree.
    assert_error_shape(
        client.post(
            "/api/v1/staff",
            headers=headers,
            json={
                "username": "other",
                "password": "Screen2026",
                "display_name": "某人",
                "role": "verifier",
                "unit_id": city["station_b"].id,
            },
        ),
        403,
        "out_of_scope",
    )
    staff_id = created.json["id"]
    updated = client.patch(
        f"/api/v1/staff/{staff_id}",
        headers=headers,
        json={"role": "verifier", "display_name": "周敏（核查）"},
    )
    assert updated.json["role"] == "verifier"
    listed = client.get("/api/v1/staff?role=verifier", headers=headers).json
    assert [item["id"] for item in listed["items"]] == [staff_id]
    assert_error_shape(
        client.post(f"/api/v1/staff/{admin.id}/deactivate", headers=headers),
        409,
        "self_deactivation",
    )


def test_role_change_ends_the_accounts_tokens(app, client):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["city"])
    account = make_staff(app, Role.ADMIN, city["district_a"])
    headers = bearer(app, account)
    client.patch(
        f"/api/v1/staff/{account.id}", headers=bearer(app, admin), json={"role": "analyst"}
    )
    assert client.get("/api/v1/staff/me", headers=headers).status_code == 401


def test_officer_and_unit_of_inactive_unit(app, client):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["city"])
    unit = make_unit(app, parent=city["station_b"])
    make_officer(app, unit)
    client.post(f"/api/v1/units/{unit.id}/deactivate", headers=bearer(app, admin))
    assert_error_shape(
        client.post(
            f"/api/v1/units/{unit.id}/officers",
            headers=bearer(app, admin),
            json={"name": "新人", "staff_no": "9"},
        ),
        409,
        "unit_inactive",
    )
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Unit)) == 7
