"""Issuing, revoking, rotating and resolving QR codes."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from app.clock import local_date
from app.extensions import db
from app.org.models import Role
from qr.models import QRCode, QRScanCount
from tests.app.test_errors import assert_error_shape
from tests.factories import bearer, make_city, make_officer, make_staff
from tests.qr.factories import make_code

TOKEN = re.compile(r"^[A-Za-z0-9_-]{22,32}$")


def test_admin_issues_unit_window_and_officer_codes(app, client):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["city"])
    officer = make_officer(
        app, city["station_a"], name="李明", staff_no="031001", position="户籍民警"
    )
    headers = bearer(app, admin)
    bodies = [
        {"unit_id": city["station_a"].id},
        {"unit_id": city["station_a"].id, "label": "户籍窗口 2 号"},
        {"unit_id": city["station_a"].id, "officer_id": officer.id},
    ]
    tokens = set()
    for body in bodies:
        response = client.post("/api/v1/qr-codes", headers=headers, json=body)
        assert response.status_code == 201, response.json
        code = response.json
        assert TOKEN.match(code["token"]), code["token"]
        assert code["url"] == f"http://pingyi.test/q/{code['token']}"
        assert re.match(r"^PY\d{6}$", code["serial"])
        tokens.add(code["token"])
    assert len(tokens) == 3
    listed = client.get(f"/api/v1/qr-codes?unit_id={city['station_a'].id}", headers=headers)
    assert listed.json["total"] == 3


def test_issue_refuses_duplicates_foreign_officers_and_inactive_units(app, client):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["city"])
    headers = bearer(app, admin)
    foreign = make_officer(app, city["station_b"])
    make_code(app, city["station_a"], label="窗口 1")
    assert_error_shape(
        client.post(
            "/api/v1/qr-codes",
            headers=headers,
            json={"unit_id": city["station_a"].id, "label": "窗口 1"},
        ),
        409,
        "duplicate",
    )
    body = assert_error_shape(
        client.post(
            "/api/v1/qr-codes",
            headers=headers,
            json={"unit_id": city["station_a"].id, "officer_id": foreign.id},
        ),
        422,
    )
    assert "officer_id" in body["details"]["fields"]
    client.post(f"/api/v1/units/{city['station_b'].id}/deactivate", headers=headers)
    assert_error_shape(
        client.post("/api/v1/qr-codes", headers=headers, json={"unit_id": city["station_b"].id}),
        409,
        "unit_inactive",
    )


def test_non_admin_cannot_issue_revoke_or_export(app, client):
    city = make_city(app)
    code = make_code(app, city["station_a"])
    for role in (Role.SCREENER, Role.VERIFIER, Role.SUPERIOR, Role.ANALYST, Role.LIAISON):
        headers = bearer(app, make_staff(app, role, city["city"]))
        assert_error_shape(
            client.post(
                "/api/v1/qr-codes", headers=headers, json={"unit_id": city["station_a"].id}
            ),
            403,
        )
        assert_error_shape(
            client.post(f"/api/v1/qr-codes/{code.id}/revoke", headers=headers, json={}), 403
        )
        assert_error_shape(
            client.get(f"/api/v1/qr-codes/export?unit_id={city['city'].id}", headers=headers), 403
        )
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(QRCode)) == 1


def test_scan_returns_unit_officer_location_questionnaire_and_categories(app, client):
    city = make_city(app)
    officer = make_officer(
        app, city["station_a"], name="李明", staff_no="031001", position="户籍民警"
    )
    code = make_code(app, city["station_a"], officer=officer, label="户籍窗口 2 号")
    body = client.get(f"/api/v1/scan/{code.token}").json
    assert body["unit"]["name"] == "甲区派出所" and body["unit"]["kind_label"] == "公安"
    assert body["officer"] == {
        "id": officer.id,
        "name": "李明",
        "staff_no": "031001",
        "position": "户籍民警",
    }
    assert body["location"] == "户籍窗口 2 号"
    levels = body["questionnaire"]["levels"]
    assert [lv["level"] for lv in levels] == [5, 4, 3, 2, 1]
    assert [lv["label"] for lv in levels if lv["is_bad"]] == ["不满意", "非常不满意"]
    assert [d["label"] for d in body["questionnaire"]["dimensions"]] == [
        "态度",
        "效率",
        "公正",
        "廉洁",
    ]
    assert "推诿扯皮" in body["questionnaire"]["reasons"]["1"]
    groups = {c["group"] for c in body["categories"]}
    assert groups == {"职能类", "民生类", "其他"}


def test_scans_are_counted_per_code_per_day_without_personal_data(app, client):
    city = make_city(app)
    code = make_code(app, city["station_a"])
    other = make_code(app, city["station_b"])
    for _ in range(3):
        client.get(f"/api/v1/scan/{code.token}", environ_base={"REMOTE_ADDR": "198.51.100.9"})
    client.get(f"/api/v1/scan/{other.token}")
    with app.app_context():
        rows = db.session.execute(
            sa.select(QRScanCount.qr_code_id, QRScanCount.day, QRScanCount.count)
        ).all()
        columns = set(QRScanCount.__table__.columns.keys())
    assert sorted(rows) == sorted([(code.id, local_date(), 3), (other.id, local_date(), 1)])
    assert columns == {"qr_code_id", "day", "count"}
    admin = make_staff(app, Role.ADMIN, city["city"])
    today = local_date()
    counts = client.get(
        f"/api/v1/qr-codes/{code.id}/scans?since={today - timedelta(days=7)}&until={today}",
        headers=bearer(app, admin),
    ).json
    assert counts == {"total": 3, "days": [{"day": today.isoformat(), "count": 3}]}


def test_unknown_revoked_and_rotated_tokens(app, client):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["city"])
    headers = bearer(app, admin)
    unit_code = make_code(app, city["station_a"])
    window = make_code(app, city["station_a"], label="窗口 1")
    assert_error_shape(client.get("/api/v1/scan/NoSuchTokenNoSuchToken0"), 404, "qr_not_found")
    # Revoked window code: 410 pointing at the unit's own code.
    client.post(f"/api/v1/qr-codes/{window.id}/revoke", headers=headers, json={"reason": "破损"})
    body = assert_error_shape(client.get(f"/api/v1/scan/{window.token}"), 410, "qr_revoked")
    assert body["details"]["current"] == {
        "token": unit_code.token,
        "url": f"http://pingyi.test/q/{unit_code.token}",
    }
    assert_error_shape(
        client.post(f"/api/v1/qr-codes/{window.id}/revoke", headers=headers, json={}),
        409,
        "already_revoked",
    )
    # Rotating a code: the old one answers 410 with its replacement.
    rotated = client.post(f"/api/v1/qr-codes/{unit_code.id}/rotate", headers=headers)
    assert rotated.status_code == 201
    new_token = rotated.json["token"]
    body = assert_error_shape(client.get(f"/api/v1/scan/{unit_code.token}"), 410)
    assert body["details"]["current"]["token"] == new_token
    assert client.get(f"/api/v1/scan/{new_token}").status_code == 200


def test_rotating_a_unit_replaces_all_its_codes_in_one_step(app, client):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["city"])
    olds = [
        make_code(app, city["station_a"]),
        make_code(app, city["station_a"], label="窗口 1"),
        make_code(app, city["station_a"], officer=make_officer(app, city["station_a"])),
    ]
    untouched = make_code(app, city["station_b"])
    response = client.post(
        f"/api/v1/units/{city['station_a'].id}/qr-codes/rotate", headers=bearer(app, admin)
    )
    assert response.status_code == 201
    news = response.json["items"]
    assert [(n["label"], n["officer_id"]) for n in news] == [(o.label, o.officer_id) for o in olds]
    for old, new in zip(olds, news, strict=True):
        body = client.get(f"/api/v1/scan/{old.token}").json
        assert body["details"]["current"]["token"] == new["token"]
    assert client.get(f"/api/v1/scan/{untouched.token}").status_code == 200


def test_deactivating_a_unit_or_officer_revokes_their_codes(app, client):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["city"])
    headers = bearer(app, admin)
    officer = make_officer(app, city["station_a"])
    officer_code = make_code(app, city["station_a"], officer=officer)
    unit_code = make_code(app, city["station_a"])
    client.post(f"/api/v1/officers/{officer.id}/deactivate", headers=headers)
    assert client.get(f"/api/v1/scan/{officer_code.token}").status_code == 410
    assert client.get(f"/api/v1/scan/{unit_code.token}").status_code == 200
    leaf_code = make_code(app, city["court_a"])
    client.post(f"/api/v1/units/{city['court_a'].id}/deactivate", headers=headers)
    body = assert_error_shape(client.get(f"/api/v1/scan/{leaf_code.token}"), 410)
    assert body["details"]["current"] is None
