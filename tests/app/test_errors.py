"""Every error has the one JSON shape; bad input changes nothing; 500 hides internals."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.org.models import Role, Unit
from tests.factories import bearer, make_city, make_staff


def assert_error_shape(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error", "message", "details"}, body
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], dict)
    if code is not None:
        assert body["error"] == code, body
    return body


def _unit_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Unit))


def test_unknown_path_and_method(client):
    assert_error_shape(client.get("/api/v1/nothing-here"), 404, "not_found")
    assert_error_shape(client.put("/healthz"), 405, "method_not_allowed")


def test_unknown_field_is_422_naming_the_field_and_writes_nothing(app, client):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["city"])
    before = _unit_count(app)
    body = assert_error_shape(
        client.post(
            "/api/v1/units",
            headers=bearer(app, admin),
            json={
                "code": "X1",
                "name": "某单位",
                "kind": "police",
                "parent_id": city["city"].id,
                "colour": "red",
            },
        ),
        422,
        "validation_error",
    )
    assert "colour" in body["details"]["fields"]
    assert "colour" in body["message"]
    assert _unit_count(app) == before


def test_malformed_field_is_422_naming_it(app, client):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["city"])
    body = assert_error_shape(
        client.post(
            "/api/v1/units",
            headers=bearer(app, admin),
            json={"code": "bad code!", "name": "", "kind": "army", "parent_id": "x"},
        ),
        422,
    )
    # The same Chinese wording as the console's and the H5 page's forms.
    assert body["details"]["fields"] == {
        "code": ["格式不正确"],
        "name": ["请填写此项"],
        "kind": ["请选择一项"],
        "parent_id": ["请填写整数"],
    }


def test_malformed_json_and_wrong_content_type(app, client):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["city"])
    before = _unit_count(app)
    assert_error_shape(
        client.post(
            "/api/v1/units",
            headers={**bearer(app, admin), "Content-Type": "application/json"},
            data="{not json",
        ),
        400,
        "invalid_json",
    )
    assert_error_shape(
        client.post(
            "/api/v1/units",
            headers={**bearer(app, admin), "Content-Type": "text/plain"},
            data="code=X",
        ),
        415,
        "unsupported_media_type",
    )
    assert _unit_count(app) == before


def test_duplicate_is_409(app, client):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["city"])
    payload = {"code": "DUP1", "name": "甲", "kind": "court", "parent_id": city["city"].id}
    assert client.post("/api/v1/units", headers=bearer(app, admin), json=payload).status_code == 201
    body = assert_error_shape(
        client.post("/api/v1/units", headers=bearer(app, admin), json=payload), 409, "duplicate"
    )
    assert body["details"]["field"] == "code"


def test_unexpected_exception_is_500_rolled_back_and_not_echoed(app, client):
    city = make_city(app)
    before = _unit_count(app)

    @app.post("/boom")
    def boom():
        unit = db.session.get(Unit, city["city"].id)
        unit.name = "不应保存的名称"
        db.session.flush()
        raise RuntimeError("secret internal detail: password=hunter2")

    body = assert_error_shape(client.post("/boom"), 500, "internal_error")
    assert "hunter2" not in str(body) and "RuntimeError" not in str(body)
    with app.app_context():
        assert db.session.get(Unit, city["city"].id).name == "测试市委政法委"
    assert _unit_count(app) == before
