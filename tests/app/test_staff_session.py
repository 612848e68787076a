"""Staff sign-in: expiring tokens, a network refused after five wrong passwords, tokens end on
change."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.org.models import Role
from tests.app.test_errors import assert_error_shape
from tests.factories import PASSWORD, bearer, make_city, make_staff


def sign_in(client, username: str, password: str):
    return client.post("/api/v1/staff/session", json={"username": username, "password": password})


def test_sign_in_returns_token_role_and_unit(app, client):
    city = make_city(app)
    account = make_staff(app, Role.SCREENER, city["district_a"])
    response = sign_in(client, account.username.upper(), PASSWORD)
    assert response.status_code == 200
    body = response.json
    assert body["role"] == "screener"
    assert body["unit"] == {
        "id": city["district_a"].id,
        "code": city["district_a"].code,
        "name": "甲区委政法委",
    }
    assert body["expires_in"] == app.config["STAFF_TOKEN_TTL_SECONDS"]
    me = client.get("/api/v1/staff/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.json["username"] == account.username


def test_wrong_password_and_unknown_user_look_the_same(app, client):
    city = make_city(app)
    account = make_staff(app, Role.SCREENER, city["city"])
    wrong = assert_error_shape(
        sign_in(client, account.username, "Nope12345"), 401, "invalid_credentials"
    )
    unknown = assert_error_shape(sign_in(client, "nobody", "Nope12345"), 401, "invalid_credentials")
    assert wrong["message"] == unknown["message"]


def test_five_wrong_passwords_refuse_that_network_for_fifteen_minutes(app, client, frozen_clock):
    city = make_city(app)
    account = make_staff(app, Role.SCREENER, city["city"])
    for _ in range(5):
        assert_error_shape(sign_in(client, account.username, "Wrong1234"), 401)
    # Refused: even the right password, with the answer a wrong one gets (nothing says locked).
    body = assert_error_shape(
        sign_in(client, account.username, PASSWORD), 401, "invalid_credentials"
    )
    assert "locked_until" not in body["details"]
    frozen_clock.advance(timedelta(minutes=14, seconds=59))
    assert_error_shape(sign_in(client, account.username, PASSWORD), 401)
    frozen_clock.advance(timedelta(seconds=2))
    assert sign_in(client, account.username, PASSWORD).status_code == 200


def test_success_resets_the_failure_count(app, client):
    city = make_city(app)
    account = make_staff(app, Role.SCREENER, city["city"])
    for _ in range(4):
        sign_in(client, account.username, "Wrong1234")
    assert sign_in(client, account.username, PASSWORD).status_code == 200
    for _ in range(4):
        assert sign_in(client, account.username, "Wrong1234").status_code == 401


def test_token_expires(app, client, frozen_clock):
    city = make_city(app)
    account = make_staff(app, Role.SCREENER, city["city"])
    token = sign_in(client, account.username, PASSWORD).json["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/staff/me", headers=headers).status_code == 200
    frozen_clock.advance(timedelta(seconds=app.config["STAFF_TOKEN_TTL_SECONDS"] - 5))
    assert client.get("/api/v1/staff/me", headers=headers).status_code == 200
    frozen_clock.advance(timedelta(seconds=10))
    assert_error_shape(client.get("/api/v1/staff/me", headers=headers), 401, "token_expired")


def test_changing_password_ends_every_earlier_token(app, client):
    city = make_city(app)
    account = make_staff(app, Role.VERIFIER, city["station_a"])
    first, second = (
        {"Authorization": f"Bearer {sign_in(client, account.username, PASSWORD).json['token']}"}
        for _ in range(2)
    )
    response = client.post(
        "/api/v1/staff/me/password",
        headers=first,
        json={"current_password": PASSWORD, "new_password": "NewPass2027"},
    )
    assert response.status_code == 200
    for old in (first, second):
        assert_error_shape(client.get("/api/v1/staff/me", headers=old), 401, "token_invalid")
    fresh = {"Authorization": f"Bearer {response.json['token']}"}
    assert client.get("/api/v1/staff/me", headers=fresh).status_code == 200
    assert sign_in(client, account.username, PASSWORD).status_code == 401
    assert sign_in(client, account.username, "NewPass2027").status_code == 200


def test_password_change_needs_current_password_and_policy(app, client):
    city = make_city(app)
    account = make_staff(app, Role.VERIFIER, city["station_a"])
    headers = bearer(app, account)
    assert_error_shape(
        client.post(
            "/api/v1/staff/me/password",
            headers=headers,
            json={"current_password": "Wrong1234", "new_password": "NewPass2027"},
        ),
        403,
        "wrong_password",
    )
    body = assert_error_shape(
        client.post(
            "/api/v1/staff/me/password",
            headers=headers,
            json={"current_password": PASSWORD, "new_password": "short"},
        ),
        422,
    )
    assert "new_password" in body["details"]["fields"]
    assert client.get("/api/v1/staff/me", headers=headers).status_code == 200


def test_admin_reset_unlocks_and_ends_tokens(app, client):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["city"])
    account = make_staff(app, Role.VERIFIER, city["station_a"])
    old = bearer(app, account)
    for _ in range(5):
        sign_in(client, account.username, "Wrong1234")
    response = client.post(
        f"/api/v1/staff/{account.id}/password",
        headers=bearer(app, admin),
        json={"new_password": "Reset2027x"},
    )
    assert response.status_code == 200 and response.json["locked_until"] is None
    assert client.get("/api/v1/staff/me", headers=old).status_code == 401
    assert sign_in(client, account.username, "Reset2027x").status_code == 200


def test_sign_out_and_deactivation_end_tokens(app, client):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["city"])
    account = make_staff(app, Role.ANALYST, city["city"])
    headers = bearer(app, account)
    assert client.delete("/api/v1/staff/session", headers=headers).status_code == 204
    assert client.get("/api/v1/staff/me", headers=headers).status_code == 401
    headers = bearer(app, account)
    client.post(f"/api/v1/staff/{account.id}/deactivate", headers=bearer(app, admin))
    assert_error_shape(client.get("/api/v1/staff/me", headers=headers), 401, "token_invalid")
    assert_error_shape(sign_in(client, account.username, PASSWORD), 401, "invalid_credentials")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-token",
        "Bearer eyJzaWQiOjF9.forged.sig",
    ],
)
def test_missing_or_forged_tokens_are_401(app, client, header):
    headers = {"Authorization": header} if header else {}
    assert_error_shape(client.get("/api/v1/staff/me", headers=headers), 401)


def test_a_resident_style_token_is_not_a_staff_token(app, client):
    from app.auth import issue_token

    city = make_city(app)
    account = make_staff(app, Role.ADMIN, city["city"])
    with app.app_context():
        forged = issue_token("resident", {"sid": account.id, "v": 1})
    assert_error_shape(
        client.get("/api/v1/staff/me", headers={"Authorization": f"Bearer {forged}"}),
        401,
        "token_invalid",
    )
