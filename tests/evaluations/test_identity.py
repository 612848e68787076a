"""Resident identity: WeChat login through jscode2session, anonymous H5 identities, and
openids kept only as keyed hashes."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.org.models import Role, StaffAccount
from evaluations.identity import Resident
from tests.app.test_errors import assert_error_shape
from tests.evaluations.helpers import h5_resident, rate, use_sandbox, wechat_resident
from tests.factories import bearer, make_city, make_staff
from tests.qr.factories import make_code


def test_wechat_login_gives_our_token_and_stores_only_a_keyed_hash(app, client, wechat_sandbox):
    use_sandbox(app, wechat_sandbox)
    response = client.post("/api/v1/auth/wechat", json={"code": "alice~1"})
    assert response.status_code == 200
    body = response.json
    assert set(body) == {"token", "expires_in"}
    assert body["expires_in"] == app.config["RESIDENT_TOKEN_TTL_SECONDS"]
    openid = wechat_sandbox.openid_for("alice~1")
    assert openid not in str(body)
    with app.app_context():
        residents = db.session.scalars(sa.select(Resident)).all()
        assert len(residents) == 1
        assert residents[0].identity_hash != openid and len(residents[0].identity_hash) == 64
        dump = str([tuple(row) for row in db.session.execute(sa.text("SELECT * FROM residents"))])
        assert openid not in dump
    # The same person logging in again is the same resident.
    again = client.post("/api/v1/auth/wechat", json={"code": "alice~2"})
    assert again.status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Resident)) == 1


def test_bad_code_is_401_with_a_clear_message(app, client, wechat_sandbox):
    use_sandbox(app, wechat_sandbox)
    wechat_sandbox.fail(40029, api="/sns/jscode2session")
    body = assert_error_shape(
        client.post("/api/v1/auth/wechat", json={"code": "bob~1"}), 401, "wechat_code_invalid"
    )
    assert "重新进入小程序" in body["message"]
    client.post("/api/v1/auth/wechat", json={"code": "carol~1"})
    reused = client.post("/api/v1/auth/wechat", json={"code": "carol~1"})
    assert_error_shape(reused, 401, "wechat_code_invalid")


def test_wechat_busy_is_retried_once_then_503(app, client, wechat_sandbox):
    use_sandbox(app, wechat_sandbox)
    wechat_sandbox.fail(-1, count=1, api="/sns/jscode2session")
    assert client.post("/api/v1/auth/wechat", json={"code": "dave~1"}).status_code == 200
    wechat_sandbox.fail(-1, count=2, api="/sns/jscode2session")
    response = client.post("/api/v1/auth/wechat", json={"code": "erin~1"})
    assert_error_shape(response, 503, "wechat_busy")
    assert response.headers["Retry-After"] == "5"
    logins = [c for c in wechat_sandbox.calls("/sns/jscode2session")]
    assert len(logins) == 4  # 1 busy + 1 ok, then 2 busy: exactly one retry each time


def test_wechat_not_configured_is_a_clear_503(client):
    assert_error_shape(
        client.post("/api/v1/auth/wechat", json={"code": "x~1"}), 503, "wechat_not_configured"
    )


def test_h5_identity_is_anonymous_and_rates_as_h5(app, client):
    city = make_city(app)
    code = make_code(app, city["station_a"])
    headers = h5_resident(client)
    assert rate(client, headers, code.token).status_code == 201
    with app.app_context():
        assert db.session.scalars(sa.select(Resident.channel)).one() == "h5"
        channel = db.session.execute(sa.text("SELECT channel FROM evaluations")).scalar()
        assert channel == "h5"


def test_resident_tokens_are_not_staff_tokens_and_vice_versa(app, client):
    city = make_city(app)
    staff = make_staff(app, Role.ADMIN, city["city"])
    code = make_code(app, city["station_a"])
    assert_error_shape(rate(client, bearer(app, staff), code.token), 401)
    resident = h5_resident(client)
    assert_error_shape(client.get("/api/v1/staff/me", headers=resident), 401)


def test_staff_with_bound_wechat_cannot_rate_their_own_unit(app, client, wechat_sandbox):
    use_sandbox(app, wechat_sandbox)
    city = make_city(app)
    officer_account = make_staff(app, Role.VERIFIER, city["district_a"])
    bound = client.post(
        "/api/v1/staff/me/wechat",
        headers=bearer(app, officer_account),
        json={"code": "officer-li~1"},
    )
    assert bound.status_code == 200
    with app.app_context():
        stored = db.session.get(StaffAccount, officer_account.id).openid_hash
        assert stored and wechat_sandbox.openid_for("officer-li~1") not in stored
    own, below, elsewhere = (
        make_code(app, city["district_a"]),
        make_code(app, city["station_a"]),
        make_code(app, city["station_b"]),
    )
    headers = wechat_resident(client, "officer-li")
    assert_error_shape(rate(client, headers, own.token, level=5), 403, "own_unit")
    assert_error_shape(rate(client, headers, below.token, level=5), 403, "own_unit")
    assert rate(client, headers, elsewhere.token, level=2).status_code == 201
