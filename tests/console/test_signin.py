"""Signing in and out: cookie session, the API's rules for wrong passwords, CSRF on every form,
sessions that end with the account's token version."""

from __future__ import annotations

from datetime import timedelta

import pytest

import console
from app import create_app
from app.clock import set_now, utcnow
from app.extensions import db
from app.org import service as org_service
from app.org.models import Role, StaffAccount
from tests.conftest import base_config
from tests.console.helpers import csrf_of, login_form, sign_in, text
from tests.factories import PASSWORD, make_city, make_staff

LANDING = {
    Role.SCREENER: "/console/queue",
    Role.VERIFIER: "/console/verification",
    Role.SUPERIOR: "/console/review",
    Role.LIAISON: "/console/referrals",
    Role.ANALYST: "/console/dashboard",
    Role.ADMIN: "/console/qr",
}


def test_login_page_is_strict_and_sets_a_scoped_cookie(app, client):
    response = client.get("/console/login")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("pingyi_console=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # served over http in tests
    assert "<script" not in text(response)
    assert "用户名" in text(response) and "密码" in text(response)


def test_cookie_is_secure_behind_https(database_url):
    app = create_app({**base_config(database_url), "PUBLIC_BASE_URL": "https://pingyi.example"})
    if "console" not in app.blueprints:
        console.init_app(app)
    try:
        cookie = app.test_client().get("/console/login").headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("role", list(Role))
def test_each_role_lands_on_its_own_page(app, role):
    city = make_city(app)
    account = make_staff(app, role, city["city"])
    client = app.test_client()
    response = login_form(client, account.username, PASSWORD)
    assert response.status_code == 303
    assert response.headers["Location"] == LANDING[role]
    page = client.get(LANDING[role])
    assert page.status_code == 200
    assert account.display_name in text(page) and role.label in text(page)
    assert client.get("/console/").headers["Location"] == LANDING[role]


def test_wrong_password_counts_and_refuses_like_the_api(app):
    city = make_city(app)
    account = make_staff(app, Role.SCREENER, city["city"])
    client = app.test_client()
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        response = login_form(client, account.username, "wrong-password-1")
        assert response.status_code == 401
        assert "用户名或密码错误" in text(response)
        assert f'value="{account.username}"' in text(response)  # the name is kept
    # Refused from this network: even the right password, with the same answer.
    refused = login_form(client, account.username, PASSWORD)
    assert refused.status_code == 401 and "用户名或密码错误" in text(refused)
    with app.app_context():
        row = db.session.get(StaffAccount, account.id)
        assert row.locked_until is None and row.last_login_at is None  # the account is not
    # The same network is refused by the API too: one set of rules.
    api = client.post(
        "/api/v1/staff/session", json={"username": account.username, "password": PASSWORD}
    )
    assert api.status_code == 401


def test_unknown_user_and_empty_fields(app):
    client = app.test_client()
    assert login_form(client, "nobody", "whatever1").status_code == 401
    response = login_form(client, "", "")
    assert response.status_code == 422 and "请输入用户名和密码" in text(response)


def test_sign_out_ends_the_session_and_every_copy_of_it(app):
    city = make_city(app)
    account = make_staff(app, Role.SCREENER, city["city"])
    desk = sign_in(app, account)
    stolen = desk.client.get_cookie("pingyi_console", path="/console")
    assert stolen is not None
    response = desk.post("/console/logout")
    assert response.status_code == 303 and response.headers["Location"] == "/console/login"
    assert desk.get("/console/queue").status_code == 303
    # A copy of the cookie taken before signing out is worthless: the token version moved.
    other = app.test_client()
    other.set_cookie("pingyi_console", stolen.value, path="/console")
    replay = other.get("/console/queue")
    assert replay.status_code == 303
    assert replay.headers["Location"].startswith("/console/login")


def test_password_change_ends_console_sessions(app):
    city = make_city(app)
    account = make_staff(app, Role.SCREENER, city["city"])
    desk = sign_in(app, account)
    assert desk.get("/console/queue").status_code == 200
    with app.app_context():
        org_service.set_password(
            db.session.get(StaffAccount, account.id), new_password="NewPassw0rd9", by_admin=True
        )
        db.session.commit()
    response = desk.get("/console/queue")
    assert response.status_code == 303
    assert response.headers["Location"] == "/console/login?next=/console/queue"


def test_deactivated_account_is_signed_out(app):
    city = make_city(app)
    account = make_staff(app, Role.SCREENER, city["city"])
    desk = sign_in(app, account)
    with app.app_context():
        org_service.set_staff_active(db.session.get(StaffAccount, account.id), False, actor_id=None)
        db.session.commit()
    assert desk.get("/console/queue").status_code == 303


def test_session_lasts_as_long_as_a_token(app):
    city = make_city(app)
    account = make_staff(app, Role.SCREENER, city["city"])
    desk = sign_in(app, account)
    try:
        set_now(utcnow() + timedelta(seconds=app.config["STAFF_TOKEN_TTL_SECONDS"] - 60))
        assert desk.get("/console/queue").status_code == 200
        set_now(utcnow() + timedelta(seconds=120))
        assert desk.get("/console/queue").status_code == 303
    finally:
        set_now(None)


def test_back_to_the_page_asked_for_but_only_inside_the_console(app):
    city = make_city(app)
    account = make_staff(app, Role.SCREENER, city["city"])
    client = app.test_client()
    first = client.get("/console/letters?kind=notice")
    assert first.status_code == 303
    assert first.headers["Location"] == "/console/login?next=/console/letters?kind%3Dnotice"
    response = login_form(client, account.username, PASSWORD, next="/console/letters?kind=notice")
    assert response.headers["Location"] == "/console/letters?kind=notice"
    for evil in (
        "https://evil.example/console/",
        "//evil.example/console/",
        "/api/v1/units",
        "/console\\..\\x",
    ):
        client = app.test_client()
        response = login_form(client, account.username, PASSWORD, next=evil)
        assert response.headers["Location"] == "/console/queue", evil


def test_every_post_needs_the_session_csrf_token(app, cast):
    clue = cast.file()
    desk = sign_in(app, cast.screener)
    for data in ({}, {"csrf": ""}, {"csrf": "forged-token"}):
        response = desk.client.post(f"/console/clues/{clue.id}/accept", data=data)
        assert response.status_code == 400
        assert "页面已过期" in text(response)
    assert cast.detail(clue.id)["status"] == "submitted"
    # Another session's token does not fit this session.
    other = sign_in(app, cast.screener)
    assert other.csrf != desk.csrf
    response = desk.client.post(f"/console/clues/{clue.id}/accept", data={"csrf": other.csrf})
    assert response.status_code == 400
    # Signing in and out need it too.
    fresh = app.test_client()
    csrf_of(fresh.get("/console/login"))
    assert (
        fresh.post(
            "/console/login", data={"username": cast.screener.username, "password": PASSWORD}
        ).status_code
        == 400
    )
    assert desk.client.post("/console/logout").status_code == 400
    assert desk.get("/console/queue").status_code == 200
    assert desk.act(clue.id, "accept").status_code == 303
    assert cast.detail(clue.id)["status"] == "accepted"


def test_sign_in_attempts_are_rate_limited(app):
    app.config["RATE_LIMIT_SIGN_IN"] = "3/minute"
    city = make_city(app)
    account = make_staff(app, Role.SCREENER, city["city"])
    client = app.test_client()
    for _ in range(3):
        assert login_form(client, "nobody", "whatever1").status_code == 401
    limited = login_form(client, account.username, PASSWORD)
    assert limited.status_code == 429
    assert "操作过于频繁" in text(limited) and int(limited.headers["Retry-After"]) >= 1
    assert "default-src 'none'" in limited.headers["Content-Security-Policy"]
