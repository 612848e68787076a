"""Hostile input: bodies too large or too deep, the wrong content type, text a database cannot
keep, image bombs, and markup meant to run in a staff member's browser.

Each is answered with a clear 4xx in the JSON error shape (or an escaped page), never a 500,
and a refused request changes nothing.
"""

from __future__ import annotations

import io
import json
import random
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from PIL import Image

from app.extensions import db
from clues.models import Appeal, Clue, CluePhoto, ReratingInvitation
from evaluations.models import Evaluation
from tests.clues.factories import REPORT, Cast, make_cast
from tests.console.helpers import sign_in, text
from tests.evaluations.helpers import h5_resident
from tests.factories import PASSWORD

ERROR_KEYS = {"error", "message", "details"}
# Kept exactly as sent: a right-to-left override, zero-width characters and a byte-order mark
# inside the text, an emoji with a skin tone and a zero-width joiner, characters outside the
# Basic Multilingual Plane (4 bytes in UTF-8), a combining accent, line breaks and a tab.
FAITHFUL = (
    "甲\u202e乙\u200b丙\u200c丁\u200d戊\ufeff己 👮🏻‍♂️😡 𠀀𪚥 e\u0301 第一行\n第二行\r\n\t制表"
)
# Refused with 422: NUL (PostgreSQL cannot store it), another control character, and lone
# UTF-16 surrogates written as JSON escapes (not text at all).
REFUSED_JSON = {
    "NUL": '"有\\u0000空字符的内容"',
    "控制字符": '"有\\u0007响铃字符的内容"',
    "单独的高代理": '"有\\ud800残缺字符的内容"',
    "单独的低代理": '"有\\udc00残缺字符的内容"',
}
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'


def is_error(response, status: int) -> bool:
    body = response.get_json(silent=True) or {}
    return response.status_code == status and set(body) == ERROR_KEYS


def post_raw(client, path: str, json_text: str, headers: dict[str, str], method: str = "POST"):
    return client.open(
        path,
        method=method,
        data=json_text.encode(),
        headers=headers,
        content_type="application/json",
    )


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def cast(app, client) -> Cast:
    return make_cast(app, client)


# ---------------------------------------------------------------- bodies too large


def test_a_body_over_max_content_length_is_413_in_the_error_shape_and_files_nothing(
    app, client, cast
):
    assert app.config["MAX_CONTENT_LENGTH"] == 8 * 1024 * 1024  # the configured default
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    before = count(app, Clue)
    clue = {"qr_token": cast.code.token, "category": "conduct", "identity": "anonymous"}
    huge = client.post(
        "/api/v1/me/clues", headers=cast.resident, json={**clue, "description": "很长" * 40_000}
    )
    assert is_error(huge, 413), huge.get_data(as_text=True)[:300]
    assert huge.json["error"] == "payload_too_large"
    assert huge.json["message"] == "请求体过大"
    assert count(app, Clue) == before
    # The same request under the limit goes through: the size is what was refused.
    fine = client.post(
        "/api/v1/me/clues", headers=cast.resident, json={**clue, "description": "户籍窗口推诿"}
    )
    assert fine.status_code == 201, fine.json


def test_a_staff_action_over_the_limit_is_413_and_the_clue_stays_as_it_was(app, client, cast):
    filed = cast.file()
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024
    refused = cast.act(
        cast.screener, filed.id, "reject", reason="no_substance", message="说明" * 20_000
    )
    assert is_error(refused, 413), refused.status_code
    assert cast.detail(filed.id)["status"] == "submitted"


def noise_png(side: int) -> bytes:
    """A PNG of random pixels: it does not compress, so its size is about side² × 3 bytes."""
    rng = random.Random(side)
    image = Image.frombytes(
        "RGB", (side, side), bytes(rng.getrandbits(8) for _ in range(side**2 * 3))
    )
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def upload(client, tracking_no: str, data: bytes, headers, name="photo.png", mimetype=None):
    return client.post(
        f"/api/v1/me/clues/{tracking_no}/photos",
        headers=headers,
        data={"photo": (io.BytesIO(data), name, mimetype)},
        content_type="multipart/form-data",
    )


def test_a_photo_over_the_limit_is_413_in_the_error_shape_and_stores_nothing(app, client, cast):
    filed = cast.file()
    app.config["MAX_CONTENT_LENGTH"] = 256 * 1024
    big = noise_png(320)  # ≈ 300 KB
    assert len(big) > 256 * 1024
    refused = upload(client, filed.tracking_no, big, cast.resident)
    assert is_error(refused, 413), refused.get_data(as_text=True)[:300]
    assert count(app, CluePhoto) == 0
    accepted = upload(client, filed.tracking_no, noise_png(120), cast.resident)
    assert accepted.status_code == 201, accepted.json
    assert count(app, CluePhoto) == 1


# ---------------------------------------------------------------- bodies too deep


@pytest.mark.parametrize(
    "shape", ["[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000]
)
def test_json_nested_a_hundred_thousand_deep_is_a_clear_400(app, client, cast, shape):
    before = count(app, Evaluation)
    for path, headers in [
        ("/api/v1/evaluations", cast.resident),
        ("/api/v1/staff/session", {}),
        (f"/api/v1/clues/{cast.file().id}/accept", cast.as_(cast.screener)),
    ]:
        response = post_raw(client, path, shape, headers)
        assert is_error(response, 400), (path, response.status_code)
        assert response.json["error"] == "invalid_json"
        assert "JSON" in response.json["message"]
    assert count(app, Evaluation) == before


def test_deep_nesting_inside_a_text_field_is_a_validation_error(app, client, cast):
    nested = "[" * 500 + "]" * 500
    body = f'{{"qr_token": "{cast.code.token}", "level": 5, "comment": {nested}}}'
    response = post_raw(client, "/api/v1/evaluations", body, cast.resident)
    assert is_error(response, 422), response.status_code
    assert "comment" in response.json["details"]["fields"]
    assert count(app, Evaluation) == 0


# ---------------------------------------------------------------- content types


def test_a_json_endpoint_refuses_other_body_types(app, client, cast):
    body = {"qr_token": cast.code.token, "level": 5}
    cases = [
        ("text/plain", json.dumps(body).encode(), 415),
        ("application/x-www-form-urlencoded", b"qr_token=x&level=5", 415),
        ("application/xml", b"<evaluation><level>5</level></evaluation>", 415),
        ("", json.dumps(body).encode(), 415),
        ("application/json", b'{"qr_token": "x", "level": ', 400),
        ("application/json", b'{"qr_token": "\xff\xfe", "level": 5}', 400),  # not UTF-8
        ("application/json; charset=gbk", '{"comment": "态度很好"}'.encode("gbk"), 400),
    ]
    for content_type, data, status in cases:
        headers = {**cast.resident, "Content-Type": content_type}
        response = client.post("/api/v1/evaluations", headers=headers, data=data)
        assert is_error(response, status), (content_type, data, response.status_code)
    assert count(app, Evaluation) == 0
    accepted = client.post(
        "/api/v1/evaluations",
        headers={**cast.resident, "Content-Type": "application/json; charset=utf-8"},
        data=json.dumps(body).encode(),
    )
    assert accepted.status_code == 201, accepted.json


def test_the_photo_endpoint_wants_multipart(app, client, cast):
    filed = cast.file()
    as_json = client.post(
        f"/api/v1/me/clues/{filed.tracking_no}/photos",
        headers=cast.resident,
        json={"photo": "aGVsbG8="},
    )
    assert is_error(as_json, 422), as_json.status_code
    assert "photo" in as_json.json["details"]["fields"]
    as_bytes = client.post(
        f"/api/v1/me/clues/{filed.tracking_no}/photos",
        headers={**cast.resident, "Content-Type": "image/png"},
        data=noise_png(8),
    )
    assert is_error(as_bytes, 415), as_bytes.status_code
    assert count(app, CluePhoto) == 0


# ---------------------------------------------------------------- text


@dataclass
class TextField:
    """A text field: how to send a JSON value for it, and how to read back what is stored."""

    max_length: int
    send: Callable[[Cast, Any, str], Any]  # (cast, context, json_value) → response
    read: Callable[[Cast, Any], str | None]
    prepare: Callable[[Cast], Any] = lambda cast: None
    changes_state: bool = False  # succeeds once: the faithful value goes last


def _json_body(fields: dict[str, Any], name: str, json_value: str) -> str:
    """A JSON object of `fields` with `name` set to the raw JSON text `json_value`."""
    body = json.dumps(fields, ensure_ascii=False)
    return body[:-1] + (", " if fields else "") + f'"{name}": {json_value}}}'


def _db(cast: Cast, model, column: str, **where: Any) -> str | None:
    with cast.app.app_context():
        row = db.session.scalars(
            sa.select(model).filter_by(**where).order_by(model.id.desc())
        ).first()
        return getattr(row, column) if row else None


def _report_direct(cast: Cast, _: Any, value: str):
    fields = {"qr_token": cast.code.token, "category": "conduct", "identity": "anonymous"}
    return post_raw(
        cast.client, "/api/v1/me/clues", _json_body(fields, "description", value), cast.resident
    )


def _latest_description(cast: Cast, _: Any) -> str | None:
    mine = cast.client.get("/api/v1/me/clues", headers=cast.resident).json["items"]
    return mine[0]["description"] if mine else None


def _rate(cast: Cast, resident: dict[str, str], value: str):
    fields = {"qr_token": cast.code.token, "level": 3}
    return post_raw(
        cast.client, "/api/v1/evaluations", _json_body(fields, "comment", value), resident
    )


def _closed_clue(cast: Cast):
    return cast.drive("closed")


def _action(action: str, field: str, status: str, **fields: Any):
    who = {"reject": "screener", "accept": "screener", "uphold": "superior"}.get(action)
    who = who or ("verifier" if action in ("submit_report", "request_extension") else "superior")

    def prepare(cast: Cast):
        return cast.drive(status)

    def send(cast: Cast, clue, value: str):
        return post_raw(
            cast.client,
            f"/api/v1/clues/{clue.id}/{action}",
            _json_body(fields, field, value),
            cast.as_(getattr(cast, who)),
        )

    return prepare, send


def _clue_text(path: Callable[[dict[str, Any]], str | None]):
    def read(cast: Cast, clue) -> str | None:
        return path(cast.detail(clue.id))

    return read


def _event_note(action: str):
    def read(cast: Cast, clue) -> str | None:
        notes = [e["note"] for e in cast.events(clue.id) if e["action"] == action]
        return notes[-1] if notes else None

    return read


def _patch(path: Callable[[Cast], str], field: str, extra: dict[str, Any] | None = None):
    def send(cast: Cast, _: Any, value: str):
        return post_raw(
            cast.client,
            path(cast),
            _json_body(extra or {}, field, value),
            cast.as_(cast.admin),
            method="PATCH",
        )

    return send


def _get(path: Callable[[Cast], str], field: str):
    def read(cast: Cast, _: Any) -> str | None:
        return cast.client.get(path(cast), headers=cast.as_(cast.admin)).json[field]

    return read


_reject = _action("reject", "message", "submitted", reason="no_substance")
_accept = _action("accept", "note", "submitted")
_report = _action("submit_report", "findings", "verifying", outcome="unfounded")
_return = _action("return", "reason", "reviewing")
_extension = _action("request_extension", "reason", "verifying", days=3)
_unit = lambda cast: f"/api/v1/units/{cast.units['station_a'].id}"  # noqa: E731
_officer = lambda cast: f"/api/v1/officers/{cast.officer.id}"  # noqa: E731
_staff = lambda cast: f"/api/v1/staff/{cast.verifier.id}"  # noqa: E731


def _appeal_prepare(cast: Cast):
    return _closed_clue(cast)


def _appeal_send(cast: Cast, clue, value: str):
    return post_raw(
        cast.client,
        f"/api/v1/me/clues/{clue.tracking_no}/appeal",
        _json_body({}, "reason", value),
        cast.resident,
    )


def _rerate_send(cast: Cast, clue, value: str):
    return post_raw(
        cast.client,
        f"/api/v1/me/clues/{clue.tracking_no}/rerating",
        _json_body({"level": 2, "resolved": False}, "comment", value),
        cast.resident,
    )


def _calendar_send(cast: Cast, _: Any, value: str):
    return post_raw(
        cast.client,
        "/api/v1/calendar/2026-12-30",
        _json_body({"is_working": False}, "name", value),
        cast.as_(cast.admin),
        method="PUT",
    )


def _calendar_read(cast: Cast, _: Any) -> str | None:
    days = cast.client.get("/api/v1/calendar?year=2026", headers=cast.as_(cast.admin)).json
    names = [d["name"] for d in days["days"] if d["day"] == "2026-12-30"]
    return names[0] if names else None


def _label_send(cast: Cast, _: Any, value: str):
    fields = {"unit_id": cast.units["court_a"].id}
    return post_raw(
        cast.client, "/api/v1/qr-codes", _json_body(fields, "label", value), cast.as_(cast.admin)
    )


def _label_read(cast: Cast, _: Any) -> str | None:
    codes = cast.client.get(
        f"/api/v1/qr-codes?unit_id={cast.units['court_a'].id}", headers=cast.as_(cast.admin)
    ).json["items"]
    return codes[-1]["label"] if codes else None


TEXT_FIELDS: dict[str, TextField] = {
    "群众：直接反映的问题经过": TextField(2000, _report_direct, _latest_description),
    "群众：评价意见": TextField(
        500,
        lambda cast, _, value: _rate(cast, h5_resident(cast.client), value),
        lambda cast, _: _db(cast, Evaluation, "comment"),
    ),
    "群众：复核理由": TextField(
        2000,
        _appeal_send,
        lambda cast, clue: _db(cast, Appeal, "reason", clue_id=clue.id),
        prepare=_appeal_prepare,
        changes_state=True,
    ),
    "群众：回评意见": TextField(
        500,
        _rerate_send,
        lambda cast, clue: _db(cast, ReratingInvitation, "comment", clue_id=clue.id) or None,
        prepare=_closed_clue,
        changes_state=True,
    ),
    "审核：不予受理告知反映人的话": TextField(
        500,
        _reject[1],
        _clue_text(lambda c: c["reporter_message"] or None),
        prepare=_reject[0],
        changes_state=True,
    ),
    "审核：受理备注": TextField(
        2000, _accept[1], _event_note("accept"), prepare=_accept[0], changes_state=True
    ),
    "核查：核查情况": TextField(
        5000,
        _report[1],
        _clue_text(lambda c: c["report"]["findings"] if c["report"] else None),
        prepare=_report[0],
        changes_state=True,
    ),
    "核查：延期理由": TextField(
        2000,
        _extension[1],
        _clue_text(lambda c: c["extensions"][-1]["reason"] if c["extensions"] else None),
        prepare=_extension[0],
        changes_state=True,
    ),
    "上级：退回理由": TextField(
        2000,
        _return[1],
        _clue_text(lambda c: c["report"]["return_reason"] or None),
        prepare=_return[0],
        changes_state=True,
    ),
    "管理：单位名称": TextField(100, _patch(_unit, "name"), _get(_unit, "name")),
    "管理：单位地址": TextField(200, _patch(_unit, "address"), _get(_unit, "address")),
    "管理：人员姓名": TextField(50, _patch(_officer, "name"), _get(_officer, "name")),
    "管理：人员职务": TextField(50, _patch(_officer, "position"), _get(_officer, "position")),
    "管理：账号显示名": TextField(50, _patch(_staff, "display_name"), _get(_staff, "display_name")),
    "管理：窗口名称": TextField(50, _label_send, _label_read, changes_state=True),
    "管理：节假日名称": TextField(50, _calendar_send, _calendar_read),
}


@pytest.mark.parametrize("name", list(TEXT_FIELDS))
def test_text_is_kept_exactly_or_refused_with_422_and_nothing_changes(app, client, cast, name):
    field = TEXT_FIELDS[name]
    context = field.prepare(cast)
    before = field.read(cast, context)
    too_long = json.dumps("长" * (field.max_length + 1), ensure_ascii=False)
    for kind, value in [*REFUSED_JSON.items(), ("超过最大长度", too_long)]:
        response = field.send(cast, context, value)
        assert is_error(response, 422), (kind, response.status_code, response.get_data()[:300])
        assert response.json["details"]["fields"], kind
        assert field.read(cast, context) == before, f"{kind}：被拒绝的请求改变了数据"
    # Everything else comes back exactly, at the documented maximum length, in characters
    # outside the BMP (4 bytes each in UTF-8 and in PostgreSQL).
    exact = FAITHFUL + "😀" * (field.max_length - len(FAITHFUL))
    kept = [FAITHFUL, exact] if not field.changes_state else [exact]
    for value in kept:
        response = field.send(cast, context, json.dumps(value, ensure_ascii=False))
        assert response.status_code in (200, 201), response.get_json()
        assert field.read(cast, context) == value


def test_text_stored_by_other_means_is_still_read_as_it_is(app, client, cast):
    """The rule is for what requests send. A name that reached the database another way (an
    older version, the command line, a restored backup) is shown as stored: nobody is locked
    out of signing in or reading because of it."""
    from app.org.models import Unit

    name = "甲区\x01派出所"
    with app.app_context():
        db.session.get(Unit, cast.units["station_a"].id).name = name
        db.session.commit()
    signed_in = client.post(
        "/api/v1/staff/session", json={"username": cast.verifier.username, "password": PASSWORD}
    )
    assert signed_in.status_code == 200, signed_in.json
    assert signed_in.json["unit"]["name"] == name
    shown = client.get(_unit(cast), headers=cast.as_(cast.admin))
    assert shown.status_code == 200, shown.json
    assert shown.json["name"] == name
    # Sending it back is still refused, and changes nothing.
    again = client.patch(_unit(cast), headers=cast.as_(cast.admin), json={"name": name})
    assert is_error(again, 422), again.json
    assert client.get(_unit(cast), headers=cast.as_(cast.admin)).json["name"] == name


def test_names_kept_exactly_also_survive_the_exports(app, client, cast):
    """Excel files cannot hold control characters (refused above); everything kept must
    still export, and come out as it went in."""
    name = FAITHFUL.replace("\n", " ").replace("\r", "").replace("\t", " ")
    response = client.patch(_unit(cast), headers=cast.as_(cast.admin), json={"name": name})
    assert response.status_code == 200, response.json
    cast.file()
    for path in ("/api/v1/exports/clues.xlsx", "/api/v1/exports/clues.csv"):
        exported = client.get(path, headers=cast.as_(cast.admin))
        assert exported.status_code == 200, path
        if path.endswith(".csv"):
            assert name in exported.get_data().decode("utf-8-sig"), path
        else:
            with zipfile.ZipFile(io.BytesIO(exported.get_data())) as book:
                sheets = "".join(book.read(n).decode() for n in book.namelist())
            assert name.replace("&", "&amp;") in sheets, path


def test_dates_far_outside_the_calendar_are_refused_not_a_server_error(app, client, cast):
    """9999-12-31 plus a day, or 0001-01-01 in UTC, does not exist: such periods are a 422 on
    the API and the default period on the console's dashboard."""
    staff = cast.as_(cast.admin)
    for path in [
        "/api/v1/stats/overview?from=0001-01-01&to=9999-12-31",
        "/api/v1/stats/officers?from=9999-12-01&to=9999-12-31",
        "/api/v1/stats/ranking?period=week&date=9999-12-31",
        "/api/v1/stats/ranking?period=month&date=0001-01-01",
        "/api/v1/exports/clues.csv?from=0001-01-01&to=0001-01-31",
        "/api/v1/exports/ranking.xlsx?period=month&date=9999-12-31",
        "/api/v1/calendar/add-working-days?start=9999-12-31&days=365",
    ]:
        response = client.get(path, headers=staff)
        assert is_error(response, 422), (path, response.status_code)
    ok = client.get("/api/v1/stats/overview?from=2100-12-01&to=2100-12-31", headers=staff)
    assert ok.status_code == 200, ok.json
    desk = sign_in(app, cast.admin)
    for dates in ["from=9999-12-29&to=9999-12-31", "from=0001-01-01&to=0001-01-05"]:
        page = desk.get(f"/console/dashboard?{dates}")
        assert page.status_code == 200, dates
        assert "已改为显示近 30 天" in text(page), dates


def test_identifiers_with_weird_text_are_not_found_never_a_server_error(app, client, cast):
    filed = cast.file()
    staff = cast.as_(cast.screener)
    weird = ["%00", "a%00b", "%07", "%E2%80%AE", "%F0%9F%98%80", "%ED%A0%80", "%C0%AF", "9" * 30]
    for value in weird:
        for path, headers in [
            (f"/api/v1/me/clues/{value}", cast.resident),
            (f"/api/v1/scan/{value}", {}),
            (f"/api/v1/clues/{value}", staff),
            (f"/api/v1/units/{value}", staff),
        ]:
            response = client.get(path, headers=headers)
            assert is_error(response, 404), (path, response.status_code)
        page = client.get(f"/q/{value}")
        assert page.status_code in (404, 410), (value, page.status_code)
    for value in ["\u0000", "\ud800", "\u202e" + filed.tracking_no]:
        body = _json_body({}, "qr_token", json.dumps(value))
        response = post_raw(
            client, "/api/v1/evaluations", body[:-1] + ', "level": 5}', cast.resident
        )
        assert response.status_code in (404, 422), (value, response.status_code)
    # Header values arrive as latin-1 text: UTF-8 bytes look like "é”®" to the app.
    for key in ["\u0000", "键\u202e".encode().decode("latin-1"), "x" * 101]:
        response = client.post(
            "/api/v1/evaluations",
            headers={**cast.resident, "Idempotency-Key": key},
            json={"qr_token": cast.code.token, "level": 5},
        )
        assert is_error(response, 422), (key, response.status_code)
    for username in ["\u0000admin", "管理员\ud800"]:
        body = _json_body({"password": "Passw0rd2026"}, "username", json.dumps(username))
        assert is_error(post_raw(client, "/api/v1/staff/session", body, {}), 422)
    assert count(app, Evaluation) == 0


# ---------------------------------------------------------------- H5 and console forms


def test_unstorable_text_in_a_console_form_is_a_422_page_and_changes_nothing(app, client, cast):
    filed = cast.file()
    desk = sign_in(app, cast.screener)
    for message, complaint in [
        ("有\x00空字符", "含有无法保存的字符"),
        ("有\x07响铃", "含有无法保存的字符"),
        ("长" * 501, "不能超过 500 个字"),
    ]:
        page = desk.act(filed.id, "reject", reason="no_substance", message=message)
        assert page.status_code == 422, page.status_code
        assert complaint in text(page)
        assert cast.detail(filed.id)["status"] == "submitted"
    done = desk.act(filed.id, "reject", reason="no_substance", message=FAITHFUL)
    assert done.status_code == 303, text(done)[:300]
    assert cast.detail(filed.id)["reporter_message"] == FAITHFUL


@pytest.mark.parametrize("number", ["²", "¹²", "①", "9" * 40, "-1", "٣"])
def test_numbers_written_oddly_in_forms_never_cause_a_server_error(app, client, cast, number):
    """Numbers read from forms and query strings: the console's unit, deadline and page, the
    H5 page's rating and scores. Digits int() cannot read are not numbers; huge ones name
    nothing."""
    filed = cast.drive("accepted")
    desk = sign_in(app, cast.screener)
    page = desk.act(filed.id, "assign", unit_id=number, days=number)
    assert page.status_code in (303, 403, 409, 422), (page.status_code, text(page)[:300])
    for path in (
        f"/console/queue?page={number}",
        f"/console/clues?page={number}",
        f"/console/letters?page={number}",
    ):
        assert desk.get(path).status_code == 200, path
    admin = sign_in(app, cast.admin)
    assert admin.get(f"/console/qr?unit_id={number}").status_code in (200, 403, 404)
    html = client.get(f"/q/{cast.code.token}").get_data(as_text=True)
    csrf = html.split('name="csrf" value="')[1].split('"')[0]
    form = {"csrf": csrf, "level": number, "dim_attitude": number, "officer_id": number}
    answer = client.post(f"/q/{cast.code.token}", data=form)
    assert answer.status_code in (201, 409, 422), (answer.status_code, text(answer)[:300])


# ---------------------------------------------------------------- image bombs


def png_chunks(width: int, height: int, idat: bytes, *extra: tuple[bytes, bytes]) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + b"".join(chunk(kind, body) for kind, body in extra)
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


def zero_rows(width: int, height: int, bits: int = 24) -> bytes:
    compressor = zlib.compressobj(9)
    row = b"\0" * (1 + (width * bits + 7) // 8)
    return b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()


def jpeg(size=(400, 300)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "JPEG", quality=90)
    return out.getvalue()


def _gif_bomb() -> bytes:
    """A GIF that claims a 65535 × 65535 screen around a 1 × 1 frame."""
    out = io.BytesIO()
    Image.new("P", (1, 1)).save(out, "GIF")
    data = bytearray(out.getvalue())
    data[6:10] = struct.pack("<HH", 65535, 65535)
    return bytes(data)


def _bad_crc() -> bytes:
    """A small PNG whose image data fails its checksum."""
    data = bytearray(noise_png(16))
    end = data.index(b"IEND") - 4  # the IDAT chunk's CRC sits just before IEND's length
    data[end - 4 : end] = b"\0\0\0\0"
    return bytes(data)


def _tiff() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "TIFF")
    return out.getvalue()


# Made when a test asks (some take a second and tens of megabytes), with the status expected;
# None: damaged but decodable, so either refused or re-encoded into a clean JPEG.
BOMBS: dict[str, tuple[Callable[[], bytes], int | None]] = {
    "声称 10 万 × 10 万像素的 PNG": (lambda: png_chunks(100_000, 100_000, zero_rows(1, 1)), 413),
    "解压后 6400 万像素的 PNG": (lambda: png_chunks(8000, 8000, zero_rows(8000, 8000)), 413),
    "文本块解压炸弹": (
        lambda: png_chunks(
            8, 8, zero_rows(8, 8), (b"zTXt", b"bomb\0\0" + zlib.compress(b"A" * 50_000_000))
        ),
        422,
    ),
    "声称巨大画布的 GIF": (_gif_bomb, 413),
    "截断的 JPEG": (lambda: jpeg()[:600], 422),
    "截断的 PNG": (lambda: noise_png(64)[:2000], 422),
    "校验和错误的 PNG": (_bad_crc, None),
    "不是图片的文字": (lambda: b"just some text, not a picture", 422),
    "伪装成图片的 SVG": (
        lambda: (
            f'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">{SCRIPT}</svg>'.encode()
        ),
        422,
    ),
    "伪装成图片的 HTML": (lambda: f"<html><body>{SCRIPT}</body></html>".encode(), 422),
    "TIFF": (_tiff, 415),
    "空文件": (lambda: b"", 422),
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_hostile_images_are_a_clear_4xx_and_store_nothing(app, client, cast, name):
    make, status = BOMBS[name]
    data = make()
    filed = cast.file()
    response = upload(client, filed.tracking_no, data, cast.resident, "photo.jpg", "image/jpeg")
    if status is None:
        assert response.status_code in (201, 413, 422), response.status_code
        if response.status_code == 201:
            with app.app_context():
                stored = db.session.get(CluePhoto, response.json["id"])
                with Image.open(io.BytesIO(stored.content)) as image:
                    assert image.format == "JPEG" and image.width * image.height <= 2048**2
            return
    else:
        assert is_error(response, status), (response.status_code, response.get_data()[:300])
        assert response.json["message"] and not response.json["message"].isascii()
    assert count(app, CluePhoto) == 0


def test_a_phone_jpeg_with_an_embedded_second_image_is_accepted_as_a_plain_jpeg(app, client, cast):
    """Phones write JPEGs that carry a second image (a depth or HDR gain map): Pillow calls
    them MPO. They are photos like any other; the first image is kept, re-encoded."""
    out = io.BytesIO()
    first, second = Image.new("RGB", (640, 480), (200, 30, 30)), Image.new("RGB", (160, 120))
    first.save(out, "MPO", save_all=True, append_images=[second])
    filed = cast.file()
    response = upload(client, filed.tracking_no, out.getvalue(), cast.resident, "IMG_0001.JPG")
    assert response.status_code == 201, response.json
    assert (response.json["width"], response.json["height"]) == (640, 480)
    with app.app_context():
        stored = db.session.get(CluePhoto, response.json["id"]).content
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG" and getattr(image, "n_frames", 1) == 1


# ---------------------------------------------------------------- markup


def _escaped(raw: str) -> str:
    return (
        raw.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("'", "&#39;")
    )


def assert_escaped(html: str, raw: str) -> None:
    assert raw not in html, "页面里出现了未转义的标记"
    assert _escaped(raw) in html, "页面里没有转义后的文字"


def test_markup_in_names_is_shown_escaped_on_the_h5_page(app, client, cast):
    admin = cast.as_(cast.admin)
    unit_name = f"甲区派出所{SCRIPT}"
    assert client.patch(_unit(cast), headers=admin, json={"name": unit_name}).status_code == 200
    position = f"民警{IMG}"
    response = client.patch(_officer(cast), headers=admin, json={"position": position})
    assert response.status_code == 200
    label = f"窗口{IMG}"
    code = client.post(
        "/api/v1/qr-codes",
        headers=admin,
        json={"unit_id": cast.units["station_a"].id, "officer_id": cast.officer.id, "label": label},
    )
    assert code.status_code == 201, code.json
    html = client.get(f"/q/{code.json['token']}").get_data(as_text=True)
    for raw in (unit_name, position, label):
        assert_escaped(html, raw)


def test_markup_a_resident_typed_is_shown_escaped_when_the_h5_form_comes_back(app, client, cast):
    html = client.get(f"/q/{cast.code.token}").get_data(as_text=True)
    csrf = html.split('name="csrf" value="')[1].split('"')[0]
    comment = f"</textarea>{SCRIPT}"
    description = f"{IMG}{SCRIPT}"
    form = {
        "csrf": csrf,
        "comment": comment,  # no level: the form comes back with the error
        "with_clue": "1",
        "clue_category": "conduct",
        "clue_description": description,
        "clue_identity": "anonymous",
    }
    page = client.post(f"/q/{cast.code.token}", data=form)
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert_escaped(html, comment)
    assert_escaped(html, description)
    assert count(app, Evaluation) == 0


def test_markup_in_clue_texts_is_shown_escaped_in_the_console(app, client, cast):
    description = f"民警在窗口推诿{SCRIPT}{IMG}"
    filed = cast.file(description=description)
    screener = sign_in(app, cast.screener)
    assert_escaped(text(screener.get("/console/queue")), SCRIPT)
    assert_escaped(text(screener.get(f"/console/clues/{filed.id}")), description)
    for who, action, to, body in [
        (cast.screener, "accept", "accepted", {"note": f"受理{IMG}"}),
        (cast.screener, "assign", "assigned", {"unit_id": cast.units["station_a"].id}),
        (cast.verifier, "start", "verifying", {}),
        (
            cast.verifier,
            "submit_report",
            "reviewing",
            {**REPORT, "findings": f"核查{SCRIPT}", "reply_to_reporter": f"答复{IMG}"},
        ),
    ]:
        cast.step(who, filed.id, action, to=to, **body)
    for account in (cast.screener, cast.verifier, cast.superior):
        page = text(sign_in(app, account).get(f"/console/clues/{filed.id}"))
        assert_escaped(page, description)
        assert_escaped(page, f"核查{SCRIPT}")
        assert_escaped(page, f"答复{IMG}")
    assert_escaped(text(sign_in(app, cast.superior).get("/console/review")), SCRIPT)


def test_markup_in_a_letter_response_is_shown_escaped_in_the_console(app, client, cast):
    letter_id = cast.supervise("abuse:letter")
    response = f"已整改{SCRIPT}{IMG}"
    answered = client.post(
        f"/api/v1/letters/{letter_id}/response",
        headers=cast.as_(cast.verifier),
        json={"response": response},
    )
    assert answered.status_code == 200, answered.json
    page = text(sign_in(app, cast.superior).get(f"/console/letters/{letter_id}"))
    assert_escaped(page, response)


def test_markup_in_a_unit_name_is_shown_escaped_on_console_pages(app, client, cast):
    name = f"甲区派出所{SCRIPT}"
    assert (
        client.patch(_unit(cast), headers=cast.as_(cast.admin), json={"name": name}).status_code
        == 200
    )
    filed = cast.file()
    screener = sign_in(app, cast.screener)
    assert_escaped(text(screener.get("/console/queue")), name)
    assert_escaped(text(screener.get(f"/console/clues/{filed.id}")), name)
    assert_escaped(text(sign_in(app, cast.admin).get("/console/qr")), name)
