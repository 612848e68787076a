"""Sign-in and sessions: a stranger's guesses never lock an account's owner out, every refusal
answers alike, password changes count wrong guesses too, a deactivated unit's staff lose their
tokens and sessions, and an unknown username leaves no trace of what was typed."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.audit import AuditLog
from app.extensions import db
from app.org.models import Role, StaffAccount
from app.ratelimit import client_network
from tests.console.helpers import login_form, sign_in, text
from tests.factories import PASSWORD, bearer, make_city, make_staff, make_unit

STRANGER = "198.51.100.7"
OWNER = "203.0.113.20"
WRONG = "Wrong12345"


def from_network(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def api_sign_in(client: FlaskClient, username: str, password: str):
    return client.post("/api/v1/staff/session", json={"username": username, "password": password})


def guess_until_refused(app: Flask, client: FlaskClient, username: str) -> None:
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert api_sign_in(client, username, WRONG).status_code == 401


def flash(page) -> str:
    found = re.search(r'<p class="flash error" role="alert">([^<]*)</p>', text(page))
    assert found, text(page)
    return found.group(1)


def answer(response) -> tuple[int, dict]:
    return response.status_code, response.json


# ---------------------------------------------------------------- the network, not the account


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.20", "203.0.113.20"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.20", "203.0.113.20"),
    ],
)
def test_a_network_is_an_ipv4_address_or_an_ipv6_slash_64(address, network):
    assert client_network(address) == network


@pytest.mark.parametrize("role", [Role.ADMIN, Role.SCREENER])
def test_a_strangers_guesses_do_not_lock_the_owner_out(app, frozen_clock, role):
    city = make_city(app)
    account = make_staff(app, role, city["city"])
    stranger, owner = from_network(app, STRANGER), from_network(app, OWNER)
    guess_until_refused(app, stranger, account.username)
    # The stranger's network is refused, even with the right password …
    refused = api_sign_in(stranger, account.username, PASSWORD)
    assert refused.status_code == 401 and "token" not in refused.json
    # … while the owner, on their own network, signs in as usual.
    assert api_sign_in(owner, account.username, PASSWORD).status_code == 200
    with app.app_context():
        row = db.session.get(StaffAccount, account.id)
        assert row.locked_until is None  # the account itself is never locked
    frozen_clock.advance(timedelta(minutes=app.config["LOGIN_LOCK_MINUTES"], seconds=1))
    assert api_sign_in(stranger, account.username, PASSWORD).status_code == 200


def test_an_ipv6_subscriber_cannot_escape_by_changing_address(app):
    city = make_city(app)
    account = make_staff(app, Role.ADMIN, city["city"])
    for n in range(app.config["LOGIN_MAX_FAILURES"]):
        client = from_network(app, f"2001:db8:5:6::{n + 1:x}")
        assert api_sign_in(client, account.username, WRONG).status_code == 401
    same_slash_64 = from_network(app, "2001:db8:5:6:ffff::9")
    assert api_sign_in(same_slash_64, account.username, PASSWORD).status_code == 401
    other_slash_64 = from_network(app, "2001:db8:5:7::1")
    assert api_sign_in(other_slash_64, account.username, PASSWORD).status_code == 200


def test_unknown_name_wrong_password_and_refused_network_answer_alike(app):
    city = make_city(app)
    account = make_staff(app, Role.SCREENER, city["city"])
    stranger = from_network(app, STRANGER)
    unknown = answer(api_sign_in(stranger, "nobody-here", WRONG))
    wrong = answer(api_sign_in(stranger, account.username, WRONG))
    guess_until_refused(app, stranger, account.username)
    refused = answer(api_sign_in(stranger, account.username, PASSWORD))
    refused_wrong = answer(api_sign_in(stranger, account.username, WRONG))
    assert unknown == wrong == refused == refused_wrong
    status, body = unknown
    assert status == 401 and body["error"] == "invalid_credentials"
    assert body["message"] == "用户名或密码错误" and "locked_until" not in str(body)
    # An unknown name guessed as often answers the same too.
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert answer(api_sign_in(stranger, "nobody-here", WRONG)) == unknown


def test_the_console_follows_the_same_rules(app):
    city = make_city(app)
    account = make_staff(app, Role.SCREENER, city["city"])
    stranger = from_network(app, STRANGER)
    unknown = login_form(stranger, "nobody-here", WRONG)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert login_form(stranger, account.username, WRONG).status_code == 401
    refused = login_form(stranger, account.username, PASSWORD)
    assert unknown.status_code == refused.status_code == 401
    assert flash(unknown) == flash(refused) == "用户名或密码错误"
    # The API hears the same count: one set of rules.
    assert api_sign_in(stranger, account.username, PASSWORD).status_code == 401
    owner = from_network(app, OWNER)
    assert login_form(owner, account.username, PASSWORD).status_code == 303


# ---------------------------------------------------------------- changing one's own password


def change_password(client: FlaskClient, headers: dict, current: str):
    return client.post(
        "/api/v1/staff/me/password",
        headers=headers,
        json={"current_password": current, "new_password": "NewPass2027"},
    )


def test_wrong_current_passwords_are_counted_and_refused_after_the_limit(app, frozen_clock):
    city = make_city(app)
    account = make_staff(app, Role.VERIFIER, city["station_a"])
    headers = bearer(app, account)
    thief = from_network(app, STRANGER)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        refused = change_password(thief, headers, WRONG)
        assert (refused.status_code, refused.json["error"]) == (403, "wrong_password")
    # Past the limit even the right password is refused from that network …
    locked = change_password(thief, headers, PASSWORD)
    assert (locked.status_code, locked.json["error"]) == (423, "too_many_failures")
    assert api_sign_in(thief, account.username, PASSWORD).status_code == 401  # one count
    # … but not from the owner's, and not after the lock runs out.
    assert change_password(from_network(app, OWNER), headers, PASSWORD).status_code == 200
    frozen_clock.advance(timedelta(minutes=app.config["LOGIN_LOCK_MINUTES"], seconds=1))
    assert api_sign_in(thief, account.username, "NewPass2027").status_code == 200


def test_an_admin_reset_clears_every_networks_count(app):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["city"])
    account = make_staff(app, Role.VERIFIER, city["station_a"])
    stranger = from_network(app, STRANGER)
    guess_until_refused(app, stranger, account.username)
    reset = app.test_client().post(
        f"/api/v1/staff/{account.id}/password",
        headers=bearer(app, admin),
        json={"new_password": "Reset2027x"},
    )
    assert reset.status_code == 200
    assert api_sign_in(stranger, account.username, "Reset2027x").status_code == 200


# ---------------------------------------------------------------- a deactivated unit


def test_a_deactivated_units_staff_lose_tokens_sessions_and_sign_in(app, client):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["city"])
    unit = make_unit(app, parent=city["district_a"])
    account = make_staff(app, Role.VERIFIER, unit)
    headers = bearer(app, account)
    desk = sign_in(app, account)
    assert client.get("/api/v1/staff/me", headers=headers).status_code == 200
    deactivated = client.post(f"/api/v1/units/{unit.id}/deactivate", headers=bearer(app, admin))
    assert deactivated.status_code == 200, deactivated.json
    me = client.get("/api/v1/staff/me", headers=headers)
    assert (me.status_code, me.json["error"]) == (401, "token_invalid")
    assert desk.get("/console/verification").headers["Location"].startswith("/console/login")
    refused = api_sign_in(client, account.username, PASSWORD)
    assert (refused.status_code, refused.json["error"]) == (401, "invalid_credentials")
    assert login_form(app.test_client(), account.username, PASSWORD).status_code == 401
    # Back in service, the same account signs in again.
    client.post(f"/api/v1/units/{unit.id}/activate", headers=bearer(app, admin))
    assert api_sign_in(client, account.username, PASSWORD).status_code == 200


# ---------------------------------------------------------------- the audit trail


def failed_sign_ins(app: Flask) -> list[AuditLog]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(AuditLog).where(AuditLog.action == "staff.login_failed").order_by(AuditLog.id)
        ).all()
        db.session.expunge_all()
        return list(rows)


def test_an_unknown_username_leaves_no_trace_of_what_was_typed(app, client):
    city = make_city(app)
    account = make_staff(app, Role.SCREENER, city["city"])
    typed = "Secret-Pass-In-Name-Field"
    api_sign_in(client, typed, WRONG)
    api_sign_in(client, account.username, WRONG)
    unknown, known = failed_sign_ins(app)
    stored = repr([getattr(unknown, c.key) for c in AuditLog.__table__.columns])
    assert typed.lower() not in stored.lower()
    assert unknown.object_id == "" and unknown.details == {"reason": "unknown_or_inactive"}
    assert unknown.unit_id is None
    assert known.object_id == str(account.id) and known.details["reason"] == "wrong_password"
