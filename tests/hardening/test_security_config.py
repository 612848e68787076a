"""Secure by configuration: production refuses development secrets and defaults; cookies are
HttpOnly, SameSite and scoped (Secure behind https); every page and every API answer carries
the security headers; the reporter's phone is unreadable in the database without the key,
and the key can rotate."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from flask import Flask, url_for
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app import create_app
from app.extensions import db
from config import DEV_PUBLIC_BASE_URL, DEV_SECRET_KEY, InsecureConfiguration
from tests.clues.factories import Cast, make_cast
from tests.conftest import base_config
from tests.console.helpers import login_form
from tests.factories import PASSWORD, bearer
from tests.fixtures.servers import free_port
from tests.qr.factories import make_code

ROOT = Path(__file__).resolve().parents[2]
PHONE = "13912345678"

# What a production deployment sets: long random secrets, PostgreSQL, its https address.
PRODUCTION: dict[str, Any] = {
    "ENV": "production",
    "SECRET_KEY": secrets.token_urlsafe(48),
    "IDENTITY_HASH_KEY": secrets.token_urlsafe(48),
    "PHONE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "SQLALCHEMY_DATABASE_URI": "postgresql://pingyi@db.invalid/pingyi",
    "PUBLIC_BASE_URL": "https://pingyi.example.gov.cn",
    "WECHAT_APPID": "",
    "WECHAT_API_BASE": "https://api.weixin.qq.com",
    "WECHAT_SECRET": "",
    "HOTLINE_URL": "",
    "HOTLINE_SECRET": "",
    "REDIS_URL": None,
    "DEBUG": False,
}
# The same as environment variables, for the real command line.
PRODUCTION_ENV = {
    "PINGYI_ENV": "production",
    "SECRET_KEY": PRODUCTION["SECRET_KEY"],
    "IDENTITY_HASH_KEY": PRODUCTION["IDENTITY_HASH_KEY"],
    "PHONE_ENCRYPTION_KEY": PRODUCTION["PHONE_ENCRYPTION_KEY"],
    "DATABASE_URL": PRODUCTION["SQLALCHEMY_DATABASE_URI"],
    "PUBLIC_BASE_URL": PRODUCTION["PUBLIC_BASE_URL"],
}
CONFIG_VARIABLES = (
    "PINGYI_ENV",
    "SECRET_KEY",
    "IDENTITY_HASH_KEY",
    "PHONE_ENCRYPTION_KEY",
    "DATABASE_URL",
    "PUBLIC_BASE_URL",
    "REDIS_URL",
    "WECHAT_API_BASE",
    "WECHAT_APPID",
    "WECHAT_SECRET",
    "HOTLINE_URL",
    "HOTLINE_SECRET",
    "HOTLINE_CALLBACK_URL",
    "RATELIMIT_ENABLED",
    "FLASK_DEBUG",
)


@contextlib.contextmanager
def built(config: dict[str, Any]) -> Iterator[Flask]:
    """An app made by the factory from `config`, its engine closed afterwards."""
    app = create_app(config)
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


# ---------------------------------------------------------------- production refuses to start

REFUSALS = {
    "SECRET_KEY unset": ({"SECRET_KEY": None}, "SECRET_KEY"),
    "SECRET_KEY the development default": ({"SECRET_KEY": DEV_SECRET_KEY}, "SECRET_KEY"),
    "SECRET_KEY too short": ({"SECRET_KEY": "k" * 31}, "SECRET_KEY"),
    "IDENTITY_HASH_KEY unset": ({"IDENTITY_HASH_KEY": None}, "IDENTITY_HASH_KEY"),
    "IDENTITY_HASH_KEY too short": ({"IDENTITY_HASH_KEY": "h" * 20}, "IDENTITY_HASH_KEY"),
    "IDENTITY_HASH_KEY is SECRET_KEY": (
        {"IDENTITY_HASH_KEY": PRODUCTION["SECRET_KEY"]},
        "IDENTITY_HASH_KEY 不能与 SECRET_KEY 相同",
    ),
    "PHONE_ENCRYPTION_KEY unset": ({"PHONE_ENCRYPTION_KEY": None}, "PHONE_ENCRYPTION_KEY"),
    "PHONE_ENCRYPTION_KEY not a Fernet key": (
        {"PHONE_ENCRYPTION_KEY": "change-me"},
        "PHONE_ENCRYPTION_KEY 不是有效的 Fernet 密钥",
    ),
    "an old key in the rotation list is not a Fernet key": (
        {"PHONE_ENCRYPTION_KEY": PRODUCTION["PHONE_ENCRYPTION_KEY"] + ",old-key"},
        "PHONE_ENCRYPTION_KEY 不是有效的 Fernet 密钥",
    ),
    "SQLite": ({"SQLALCHEMY_DATABASE_URI": "sqlite:////srv/pingyi.sqlite3"}, "DATABASE_URL"),
    "PUBLIC_BASE_URL the development default": (
        {"PUBLIC_BASE_URL": DEV_PUBLIC_BASE_URL},
        "PUBLIC_BASE_URL",
    ),
    "PUBLIC_BASE_URL over http": ({"PUBLIC_BASE_URL": "http://pingyi.example"}, "https"),
    "WeChat sandbox appid": (
        {"WECHAT_APPID": "wxsandbox", "WECHAT_SECRET": "s" * 32},
        "WECHAT_APPID",
    ),
    "WeChat API pointing at the local sandbox": (
        {
            "WECHAT_APPID": "wx1234567890abcdef",
            "WECHAT_SECRET": "s" * 32,
            "WECHAT_API_BASE": "http://127.0.0.1:5001",
        },
        "WECHAT_API_BASE",
    ),
    "WeChat sandbox secret": (
        {"WECHAT_APPID": "wx1234567890abcdef", "WECHAT_SECRET": "sandbox-secret"},
        "WECHAT_SECRET",
    ),
    "12345 sandbox secret": (
        {"HOTLINE_URL": "https://12345.example/in", "HOTLINE_SECRET": "hotline-sandbox-secret"},
        "HOTLINE_SECRET",
    ),
    "12345 callback handed out without a secret": (
        {"HOTLINE_CALLBACK_URL": "https://pingyi.example.gov.cn/integrations/12345/callback"},
        "HOTLINE_SECRET",
    ),
    "12345 callback secret too short, no outgoing link": (
        {"HOTLINE_SECRET": "short-secret"},
        "HOTLINE_SECRET",
    ),
    "rate limiting switched off": ({"RATELIMIT_ENABLED": False}, "RATELIMIT_ENABLED"),
    "debug mode": ({"DEBUG": True}, "调试模式"),
}


@pytest.mark.parametrize("change", REFUSALS.values(), ids=REFUSALS.keys())
def test_production_refuses_each_development_default(change):
    overrides, named = change
    with pytest.raises(InsecureConfiguration) as refused:
        create_app({**PRODUCTION, **overrides})
    message = refused.value.format_message()
    assert message.startswith("生产配置不安全，拒绝启动：")
    assert len(refused.value.problems) == 1, refused.value.problems  # only the broken one
    assert named in message


def test_a_proper_production_configuration_starts_with_secure_cookies():
    with built(PRODUCTION) as app:
        assert app.config["SESSION_COOKIE_SECURE"] is True
        response = app.test_client().get("/console/login", base_url=PRODUCTION["PUBLIC_BASE_URL"])
        assert response.status_code == 200
        cookie = response.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_production_starts_with_the_12345_link_and_its_secret():
    hotline = {
        "HOTLINE_URL": "https://12345.example/in",
        "HOTLINE_CALLBACK_URL": "https://pingyi.example.gov.cn/integrations/12345/callback",
        "HOTLINE_SECRET": secrets.token_urlsafe(48),
    }
    with built({**PRODUCTION, **hotline}) as app:
        assert app.config["RATELIMIT_ENABLED"] is True


def test_a_key_rotation_list_is_accepted_in_production():
    rotating = f"{Fernet.generate_key().decode()},{PRODUCTION['PHONE_ENCRYPTION_KEY']}"
    with built({**PRODUCTION, "PHONE_ENCRYPTION_KEY": rotating}) as app:
        assert app.config["PHONE_ENCRYPTION_KEY"] == rotating


def _environment(**overrides: str) -> dict[str, str]:
    """This process's environment without any of our settings, plus `overrides`."""
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
    return {**env, **overrides}


def _flask(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "run", *args],
        cwd=ROOT,
        env=_environment(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_line_refuses_production_without_secrets():
    result = _flask("db", "upgrade", PINGYI_ENV="production")
    assert result.returncode != 0
    assert "生产配置不安全，拒绝启动" in result.stderr
    for variable in (
        "SECRET_KEY",
        "IDENTITY_HASH_KEY",
        "PHONE_ENCRYPTION_KEY",
        "DATABASE_URL",
        "PUBLIC_BASE_URL",
    ):
        assert variable in result.stderr, variable
    assert "Traceback" not in result.stderr  # one clear line, not a stack trace


def test_the_command_line_refuses_the_development_secret_key():
    result = _flask("clues", "states", **{**PRODUCTION_ENV, "SECRET_KEY": DEV_SECRET_KEY})
    assert result.returncode != 0
    assert "SECRET_KEY 必须设置为至少 32 个字符的随机值" in result.stderr
    assert "PHONE_ENCRYPTION_KEY" not in result.stderr  # the rest is in order


def test_the_command_line_starts_with_a_proper_production_configuration():
    result = _flask("clues", "states", **PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert "submitted" in result.stdout and "拒绝启动" not in result.stderr


def test_production_refuses_to_load_the_demo_accounts():
    result = _flask("seed-demo", **PRODUCTION_ENV)
    assert result.returncode != 0
    assert "生产环境不能载入演示数据" in result.stderr and "Pingyi2026" in result.stderr


def test_gunicorn_stops_instead_of_respawning_workers_when_production_is_insecure():
    env = _environment(**{**PRODUCTION_ENV, "PHONE_ENCRYPTION_KEY": ""})
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "run:app", "--bind", f"127.0.0.1:{free_port()}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "PHONE_ENCRYPTION_KEY 必须设置" in result.stderr


# ---------------------------------------------------------------- cookies


def _cookies(response: TestResponse) -> list[dict[str, Any]]:
    """Each Set-Cookie header as {name, value, attributes (lower-case) → value or True}."""
    found = []
    for header in response.headers.getlist("Set-Cookie"):
        first, *rest = (part.strip() for part in header.split(";"))
        name, _, value = first.partition("=")
        attributes: dict[str, Any] = {}
        for part in rest:
            key, sep, val = part.partition("=")
            attributes[key.lower()] = val if sep else True
        found.append({"name": name, "value": value, **attributes})
    return found


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _submission(html: str) -> str:
    return re.search(r'name="submission_id" value="([^"]+)"', html).group(1)


def _every_cookie_the_app_sets(app: Flask, cast: Cast, base: str) -> list[dict[str, Any]]:
    """Walk through what sets cookies: the H5 page and its receipt, the console's sign-in
    page and signing in; and the API's sign-ins, which must set none."""
    client = app.test_client()
    cookies = []
    page = client.get(f"/q/{cast.code.token}", base_url=base)
    cookies += _cookies(page)
    html = page.get_data(as_text=True)
    receipt = client.post(
        f"/q/{cast.code.token}",
        base_url=base,
        data={"csrf": _csrf(html), "submission_id": _submission(html), "level": "5"},
    )
    assert receipt.status_code == 201, receipt.get_data(as_text=True)
    cookies += _cookies(receipt)
    console = app.test_client()
    cookies += _cookies(console.get("/console/login", base_url=base))
    token = _csrf(console.get("/console/login", base_url=base).get_data(as_text=True))
    signed_in = console.post(
        "/console/login",
        base_url=base,
        data={"username": cast.screener.username, "password": PASSWORD, "csrf": token},
    )
    assert signed_in.status_code == 303, signed_in.get_data(as_text=True)
    cookies += _cookies(signed_in)
    api = app.test_client()
    for response in (
        api.post(
            "/api/v1/staff/session",
            base_url=base,
            json={"username": cast.screener.username, "password": PASSWORD},
        ),
        api.post("/api/v1/auth/h5", base_url=base),
    ):
        assert response.status_code == 200
        assert response.headers.getlist("Set-Cookie") == []  # bearer tokens only: no CSRF
    return cookies


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_every_cookie_is_httponly_samesite_scoped_and_secure_behind_https(database_url, scheme):
    base = f"{scheme}://pingyi.example"
    with built({**base_config(database_url), "PUBLIC_BASE_URL": base}) as app:
        cast = make_cast(app, app.test_client())
        cookies = _every_cookie_the_app_sets(app, cast, base)
    assert {c["name"] for c in cookies} == {"pingyi_csrf", "pingyi_device", "pingyi_console"}
    for cookie in cookies:
        assert cookie.get("httponly") is True, cookie
        assert cookie.get("samesite") == "Lax", cookie
        # The console's session goes to the console only; the device identity to the H5 page.
        assert cookie.get("path") == ("/console" if cookie["name"] == "pingyi_console" else "/q")
        assert cookie.get("secure", False) is (scheme == "https"), cookie


def test_the_device_cookie_is_not_sent_to_the_api_or_the_console(app, client):
    cast = make_cast(app, client)
    html = client.get(f"/q/{cast.code.token}").get_data(as_text=True)
    receipt = client.post(
        f"/q/{cast.code.token}",
        data={"csrf": _csrf(html), "submission_id": _submission(html), "level": "4"},
    )
    assert receipt.status_code == 201
    assert client.get_cookie("pingyi_device", path="/q") is not None
    assert client.get_cookie("pingyi_device", path="/") is None


# ---------------------------------------------------------------- security headers


def _directives(csp: str) -> dict[str, list[str]]:
    return {
        name: values for name, *values in (part.split() for part in csp.split(";") if part.strip())
    }


PUBLIC_CACHEABLE = {"docs_assets"}  # the documentation's static files
DOCS_PAGES = {"openapi.docs", "openapi.swagger_ui_oauth_redirect"}


def check_headers(endpoint: str | None, path: str, response: TestResponse, *, signed_in: bool):
    """What every answer must carry, and what every page must carry besides."""
    where = (path, response.status_code)
    headers = response.headers
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    cache = headers.get("Cache-Control", "")
    if signed_in or endpoint not in PUBLIC_CACHEABLE:
        assert cache == "no-store", (where, cache)
    if response.mimetype not in ("text/html", "image/svg+xml"):
        return
    csp = _directives(headers.get("Content-Security-Policy", ""))
    assert csp.get("default-src") == ["'none'"], (where, csp)
    assert csp.get("frame-ancestors") == ["'none'"] or headers.get("X-Frame-Options") == "DENY"
    assert csp.get("base-uri") == ["'none'"], (where, csp)
    assert "'unsafe-eval'" not in str(csp), where
    if endpoint in DOCS_PAGES:
        # Swagger UI: its own local bundle and the inline start-up script, by hash only.
        scripts = csp["script-src"]
        assert "'self'" in scripts and "'unsafe-inline'" not in scripts, (where, scripts)
        assert all(s == "'self'" or s.startswith("'sha256-") for s in scripts), scripts
        assert csp["connect-src"] == ["'self'"], csp
    else:
        assert "script-src" not in csp, (where, csp)  # our pages run no script at all
    referrer = headers.get("Referrer-Policy")
    if path.startswith(("/q/", "/t/")):
        assert referrer == "no-referrer", where  # the URL holds the QR token or link secret
    else:
        assert referrer in ("no-referrer", "same-origin"), where


# Values for the URL map's path arguments; a new argument name needs one here.
def _arguments(cast: Cast, ids: dict[str, Any]) -> dict[str, Any]:
    return {
        "clue_id": ids["clue_id"],
        "photo_id": ids["photo_id"],
        "letter_id": ids["letter_id"],
        "referral_id": ids["referral_id"],
        "item_id": ids["item_id"],
        "code_id": cast.code.id,
        "unit_id": cast.units["station_a"].id,
        "officer_id": cast.officer.id,
        "staff_id": cast.verifier.id,
        "tracking_no": ids["tracking_no"],
        "secret": ids["secret"],
        "token": cast.code.token,
        "action_name": "approve",
        "day": "2026-10-01",
        "filename": "swagger-ui.css",
        # Jobs, rectifications and interviews that do not exist: the 404 carries the headers too.
        "export_id": 999999,
        "rectification_id": 999999,
        "interview_id": 999999,
        "unknown": "no-such-page",  # the console's HTML 404
        "change": "deactivate",
    }


def _world(app: Flask, cast: Cast) -> dict[str, Any]:
    """A clue at station A, closed and referred, with a photo, a letter and an inbox item."""
    from notifications.models import InboxItem

    clue = cast.file(identity="confidential", phone=PHONE)
    photo_id = cast.attach_photo(clue.tracking_no)
    cast.close_and_refer(clue.id)
    letter_id = cast.supervise("headers", clue_id=clue.id)
    with app.app_context():
        from clues.models import Referral
        from clues.tracking import ClueTracking

        item = InboxItem(staff_id=cast.admin.id, kind="test", title="头部", dedupe_key="headers")
        db.session.add(item)
        db.session.commit()
        return {
            "clue_id": clue.id,
            "tracking_no": clue.tracking_no,
            "photo_id": photo_id,
            "letter_id": letter_id,
            "item_id": item.id,
            "referral_id": db.session.scalar(
                sa.select(Referral.id).where(Referral.clue_id == clue.id)
            ),
            "secret": db.session.get(ClueTracking, clue.id).secret,
        }


def _signed_in_console(app: Flask, account: Any) -> FlaskClient:
    client = app.test_client()
    response = login_form(client, account.username, PASSWORD)
    assert response.status_code == 303, response.get_data(as_text=True)
    return client


def _paths(app: Flask, method: str, arguments: dict[str, Any]) -> list[tuple[str, str]]:
    """(endpoint, path) for every rule of the URL map that answers `method`."""
    found = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if method not in rule.methods:
                continue
            missing = set(rule.arguments) - set(arguments)
            assert not missing, f"{rule.rule}：请在 _arguments 里为 {missing} 给出取值"
            values = {name: arguments[name] for name in rule.arguments}
            found.append((rule.endpoint, url_for(rule.endpoint, **values)))
    return found


def test_every_get_endpoint_answers_with_the_security_headers(app, client):
    """Every GET in the URL map, anonymous and signed in as the city's admin (an API token
    and a console session): pages (H5, console, docs, their error pages) get the CSP and
    friends; every answer gets nosniff and no-store unless it is a public static file."""
    cast = make_cast(app, client)
    ids = _world(app, cast)
    admin_api = bearer(app, cast.admin)
    admin_console = _signed_in_console(app, cast.admin)
    seen_types = set()
    for endpoint, path in _paths(app, "GET", _arguments(cast, ids)):
        anonymous = app.test_client().get(path)
        check_headers(endpoint, path, anonymous, signed_in=False)
        signed_in = admin_console.get(path, headers=admin_api)
        check_headers(endpoint, path, signed_in, signed_in=True)
        seen_types |= {anonymous.mimetype, signed_in.mimetype}
        assert signed_in.status_code < 500, (path, signed_in.get_data(as_text=True)[:300])
    # The sweep reached real pages, files and API answers, not only refusals.
    assert {"text/html", "application/json", "application/pdf", "image/jpeg"} <= seen_types


def test_every_form_answers_with_the_security_headers(app, client):
    """Every POST of the H5 page and the console, without its CSRF token: the refusal is a
    page like any other."""
    cast = make_cast(app, client)
    ids = _world(app, cast)
    admin_console = _signed_in_console(app, cast.admin)
    posts = [
        (endpoint, path)
        for endpoint, path in _paths(app, "POST", _arguments(cast, ids))
        if endpoint.startswith(("console.", "h5.", "h5_tracking."))
    ]
    assert posts
    for endpoint, path in posts:
        response = admin_console.post(path, data={"level": "5"})
        assert response.status_code == 400, (path, response.status_code)
        assert "页面已过期" in response.get_data(as_text=True)
        check_headers(endpoint, path, response, signed_in=True)


def test_the_h5_pages_and_receipts_carry_the_headers(app, client):
    cast = make_cast(app, client)
    revoked = make_code(app, cast.units["court_a"])
    assert (
        client.post(
            f"/api/v1/qr-codes/{revoked.id}/revoke", headers=bearer(app, cast.admin), json={}
        ).status_code
        == 200
    )
    token = cast.code.token
    page = client.get(f"/q/{token}")
    html = page.get_data(as_text=True)
    form = {"csrf": _csrf(html), "submission_id": _submission(html)}
    answers = {
        "form": page,
        "unknown code": client.get("/q/AAAAAAAAAAAAAAAAAAAAAAAA"),
        "revoked code": client.get(f"/q/{revoked.token}"),
        "missing level": client.post(f"/q/{token}", data=form),
        "receipt": client.post(f"/q/{token}", data={**form, "level": "5"}),
        "same receipt again": client.post(f"/q/{token}", data={**form, "level": "5"}),
        "second rating today": client.post(
            f"/q/{token}", data={**form, "submission_id": "another-submission", "level": "4"}
        ),
    }
    statuses = {name: response.status_code for name, response in answers.items()}
    assert statuses == {
        "form": 200,
        "unknown code": 404,
        "revoked code": 410,
        "missing level": 422,
        "receipt": 201,
        "same receipt again": 201,
        "second rating today": 409,
    }
    for name, response in answers.items():
        assert response.mimetype == "text/html", name
        check_headers("h5.rate_page", f"/q/{token}", response, signed_in=False)


def test_json_answers_are_not_sniffed_or_cached(app, client):
    cast = make_cast(app, client)
    clue = cast.file(identity="confidential", phone=PHONE)
    screener = bearer(app, cast.screener)
    for response in (
        client.get(f"/api/v1/clues/{clue.id}/reporter?reason=回访核实", headers=screener),
        client.get("/api/v1/me/clues", headers=cast.resident),
        client.post(
            "/api/v1/staff/session",
            json={"username": cast.screener.username, "password": PASSWORD},
        ),
        client.get("/api/v1/clues/999999", headers=screener),
    ):
        assert response.mimetype == "application/json"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"
    assert (
        PHONE
        in client.get(f"/api/v1/clues/{clue.id}/reporter?reason=回访核实", headers=screener).text
    )


def test_hsts_only_over_https(database_url):
    with built({**base_config(database_url), "PUBLIC_BASE_URL": "https://pingyi.example"}) as app:
        secure = app.test_client().get("/healthz", base_url="https://pingyi.example")
        assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"
    with built(base_config(database_url)) as app:
        assert "Strict-Transport-Security" not in app.test_client().get("/healthz").headers


# ---------------------------------------------------------------- the phone, encrypted at rest


def _raw_phones(app: Flask) -> list[str]:
    """clue_reporters.phone_encrypted as the database holds it, read with plain SQL."""
    with app.app_context():
        rows = db.session.execute(sa.text("SELECT phone_encrypted FROM clue_reporters")).all()
        return [row[0] for row in rows if row[0] is not None]


def _everything_stored(app: Flask) -> str:
    """Every row of every table, as text: where a phone number in clear would show."""
    with app.app_context():
        metadata = sa.MetaData()
        metadata.reflect(db.engine)
        with db.engine.connect() as conn:
            return "\n".join(
                repr(tuple(row))
                for table in metadata.sorted_tables
                for row in conn.execute(sa.select(table))
            )


def test_the_reporters_phone_is_encrypted_at_rest_and_the_key_can_rotate(database_url):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()

    def with_key(key: str):
        return built({**base_config(database_url), "PHONE_ENCRYPTION_KEY": key})

    with with_key(old_key) as app:
        client = app.test_client()
        cast = make_cast(app, client)
        clue = cast.file(identity="confidential", phone=PHONE)
        (stored,) = _raw_phones(app)
        assert PHONE not in stored and PHONE[-8:] not in stored
        assert PHONE not in _everything_stored(app)  # nowhere else in clear either
        screener = bearer(app, cast.screener)
        shown = client.get(f"/api/v1/clues/{clue.id}/reporter?reason=回访核实", headers=screener)
        assert (shown.status_code, shown.json["phone"]) == (200, PHONE)

    # Another key cannot read it: a clear error in the error shape, not a crash or garbage.
    with with_key(new_key) as app:
        refused = app.test_client().get(
            f"/api/v1/clues/{clue.id}/reporter?reason=回访核实", headers=screener
        )
        assert refused.status_code == 500
        assert refused.json["error"] == "decryption_failed"
        assert "PHONE_ENCRYPTION_KEY" in refused.json["message"]
        assert PHONE not in refused.text

    # Rotation: the new key first, the old one still listed; then re-encrypt everything.
    with with_key(f"{new_key},{old_key}") as app:
        client = app.test_client()
        assert (
            client.get(f"/api/v1/clues/{clue.id}/reporter?reason=回访核实", headers=screener).json[
                "phone"
            ]
            == PHONE
        )
        rotated = app.test_cli_runner().invoke(args=["crypto", "rotate"])
        assert rotated.exit_code == 0, rotated.output
        assert "clue_reporters.phone_encrypted：1 条" in rotated.output
        (restored,) = _raw_phones(app)
        assert restored != stored and PHONE not in restored

    with with_key(new_key) as app:  # the old key can go
        shown = app.test_client().get(
            f"/api/v1/clues/{clue.id}/reporter?reason=回访核实", headers=screener
        )
        assert (shown.status_code, shown.json["phone"]) == (200, PHONE)
    with with_key(old_key) as app:
        gone = app.test_client().get(
            f"/api/v1/clues/{clue.id}/reporter?reason=回访核实", headers=screener
        )
        assert (gone.status_code, gone.json["error"]) == (500, "decryption_failed")


def test_without_a_configured_key_development_derives_one_from_the_secret(database_url):
    """Development only (production requires PHONE_ENCRYPTION_KEY): the key comes from
    SECRET_KEY, so another SECRET_KEY cannot read the phone either."""
    with built(base_config(database_url)) as app:
        cast = make_cast(app, app.test_client())
        clue = cast.file(identity="confidential", phone=PHONE)
        (stored,) = _raw_phones(app)
        assert PHONE not in stored
    other = {**base_config(database_url), "SECRET_KEY": "another-secret-key-for-this-test-only"}
    with built(other) as app:
        with app.app_context():
            from clues.models import ClueReporter

            assert db.session.get(ClueReporter, clue.id).phone_encrypted == stored
            from app.crypto import DecryptionFailed, decrypt_text

            with pytest.raises(DecryptionFailed):
                decrypt_text(stored)


@pytest.mark.browser
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_the_docs_page_works_in_a_browser_under_its_policy(database_url):
    """The policy is strict and still lets Swagger UI run: Chromium draws the operations and
    reports no violation; a script injected into the page would be refused."""
    from tests.conftest import service_missing
    from tests.fixtures.servers import CHROMIUM, CHROMIUM_ARGS, chromium_available, gunicorn_server

    reason = chromium_available()
    if reason:
        service_missing(reason)
    from playwright.sync_api import sync_playwright

    with (
        gunicorn_server(database_url, log_name="gunicorn-docs-csp") as base,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.add_init_script(
                "window.__violations = [];"
                "document.addEventListener('securitypolicyviolation',"
                " e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"
            )
            page.goto(f"{base}/docs")
            page.wait_for_selector(".opblock-summary", timeout=20_000)
            assert "/api/v1/clues" in page.inner_text("body")
            assert page.evaluate("window.__violations") == []
            injected = page.evaluate(
                "() => { const s = document.createElement('script');"
                " s.textContent = 'window.__ran = true'; document.body.appendChild(s);"
                " return window.__ran === true; }"
            )
            assert injected is False
            assert any("script-src" in v for v in page.evaluate("window.__violations"))
        finally:
            browser.close()
