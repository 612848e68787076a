"""Who reported a clue stays confidential: a role × endpoint matrix over every clue endpoint,
the one audited reporter endpoint, the accused officer kept out of their own case, and the
resident's view (their own clues only, public notes only)."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from PIL import Image

from app.audit import AuditLog
from app.extensions import db
from app.org.models import Role, StaffAccount
from clues.models import ClueReporter
from evaluations.identity import Channel, Resident
from evaluations.models import Evaluation
from evaluations.questionnaire import Questionnaire
from tests.clues.factories import Cast, Filed, make_cast
from tests.evaluations.helpers import h5_resident, rate
from tests.factories import make_staff

PHONE, OTHER_PHONE = "13912345678", "13700001111"
# Ids far from anything else in the test database, so finding one in a response means a leak.
RESIDENT_ID, EVALUATION_ID = 987651, 876541
FORBIDDEN_KEY = re.compile(r"reporter|phone|resident|evaluation|identity", re.IGNORECASE)
# What the unit says *to* the reporter, not who they are: the only keys allowed to say so.
MESSAGES_TO_REPORTER = {"reporter_message", "reply_to_reporter"}


def _ids_start_high(app, cast: Cast) -> None:
    """The next resident and evaluation get RESIDENT_ID and EVALUATION_ID, on both engines."""
    with app.app_context():
        questionnaire_id = db.session.scalar(sa.select(Questionnaire.id).limit(1))
        db.session.add(Resident(id=RESIDENT_ID - 1, identity_hash="0" * 64, channel=Channel.H5))
        db.session.flush()
        db.session.add(
            Evaluation(
                id=EVALUATION_ID - 1,
                resident_id=RESIDENT_ID - 1,
                qr_code_id=cast.code.id,
                unit_id=cast.units["station_a"].id,
                questionnaire_id=questionnaire_id,
                level=5,
                channel=Channel.H5,
                local_day=date(2026, 1, 5),
            )
        )
        if db.engine.dialect.name == "postgresql":
            for table in ("residents", "evaluations"):
                db.session.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
        db.session.commit()


@dataclass
class Case:
    cast: Cast
    clue: Filed
    reporter: dict[str, str]
    referral_id: int
    photo_id: int


def _confidential_case(app, client) -> Case:
    """A confidential report carried by a bad rating, verified, closed, referred, with a photo."""
    cast = make_cast(app, client)
    _ids_start_high(app, cast)
    reporter = h5_resident(client)
    rated = rate(
        client,
        reporter,
        cast.code.token,
        level=1,
        comment="窗口民警态度恶劣",
        clue={
            "category": "conduct",
            "identity": "confidential",
            "phone": PHONE,
            "description": "户籍窗口民警李明拒不受理，还出言不逊",
            "officer_id": cast.officer.id,
        },
    )
    assert rated.status_code == 201, rated.json
    assert rated.json["id"] == EVALUATION_ID
    tracking_no = rated.json["clue"]["tracking_no"]
    clue = Filed(tracking_no, cast.clue_id(tracking_no))
    with app.app_context():
        assert db.session.get(ClueReporter, clue.id).resident_id == RESIDENT_ID
    photo = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(photo, "JPEG")
    uploaded = client.post(
        f"/api/v1/me/clues/{tracking_no}/photos",
        headers=reporter,
        data={"photo": (io.BytesIO(photo.getvalue()), "a.jpg")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201, uploaded.json
    cast.step(cast.screener, clue.id, "accept", to="accepted")
    cast.step(
        cast.screener,
        clue.id,
        "assign",
        to="assigned",
        unit_id=cast.units["station_a"].id,
        self_verification_reason="派出所先行自查，分局督导",
    )
    cast.step(cast.verifier, clue.id, "start", to="verifying")
    cast.step(
        cast.verifier,
        clue.id,
        "submit_report",
        to="reviewing",
        outcome="substantiated",
        findings="属实",
        persons_handled=1,
        involves_misconduct=True,
    )
    cast.step(cast.superior, clue.id, "approve", to="closed")
    cast.step(cast.screener, clue.id, "refer", to="closed")
    referrals = client.get("/api/v1/referrals", headers=cast.as_(cast.admin)).json["items"]
    # A similar report by someone else, still open: the screener's duplicate suggestion.
    cast.file(
        description="户籍窗口民警李明拒不受理，出言不逊",
        identity="confidential",
        phone=OTHER_PHONE,
        resident=h5_resident(client),
    )
    return Case(cast, clue, reporter, referrals[0]["id"], uploaded.json["id"])


ENDPOINTS = {
    "list": "/api/v1/clues",
    "detail": "/api/v1/clues/{id}",
    "events": "/api/v1/clues/{id}/events",
    "photos": "/api/v1/clues/{id}/photos",
    "duplicates": "/api/v1/clues/{id}/duplicates",
    "referrals": "/api/v1/referrals",
    "referral": "/api/v1/referrals/{referral}",
}
HANDLING = {"list", "detail", "events", "photos"}
MAY_READ = {  # the role × endpoint matrix; everything else is 403
    Role.SCREENER: HANDLING | {"duplicates"},
    Role.VERIFIER: HANDLING,
    Role.SUPERIOR: HANDLING,
    Role.LIAISON: HANDLING | {"referrals", "referral"},
    Role.ADMIN: HANDLING | {"duplicates", "referrals", "referral"},
    Role.ANALYST: set(),
}
SHOWS_THE_CASE = {
    "list": lambda body, case: case.clue.tracking_no in [c["tracking_no"] for c in body["items"]],
    "detail": lambda body, case: body["tracking_no"] == case.clue.tracking_no,
    "events": lambda body, case: len(body["items"]) == 7,
    "photos": lambda body, case: [p["id"] for p in body["items"]] == [case.photo_id],
    "duplicates": lambda body, case: len(body["items"]) == 1,
    "referrals": lambda body, case: [r["clue_id"] for r in body["items"]] == [case.clue.id],
    "referral": lambda body, case: body["tracking_no"] == case.clue.tracking_no,
}
MAY_SEE_REPORTER = {Role.SCREENER, Role.LIAISON, Role.ADMIN}


def _who(cast: Cast, role: Role) -> StaffAccount:
    return getattr(cast, role.value)


def _keys(value: Any, path: str = "") -> list[str]:
    """Every key in a JSON document, as a dotted path."""
    if isinstance(value, dict):
        return [
            k
            for key, item in value.items()
            for k in [f"{path}{key}", *_keys(item, f"{path}{key}.")]
        ]
    if isinstance(value, list):
        return [k for item in value for k in _keys(item, path)]
    return []


def _reporter_reads(app, clue_id: int) -> list[tuple[str, int]]:
    with app.app_context():
        return [
            (row.role, row.actor_id)
            for row in db.session.execute(
                sa.select(AuditLog.role, AuditLog.actor_id)
                .where(
                    AuditLog.action == "clue.reporter_read",
                    AuditLog.object_type == "clue",
                    AuditLog.object_id == str(clue_id),
                )
                .order_by(AuditLog.id)
            )
        ]


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_no_clue_endpoint_reveals_the_reporter(app, client, role):
    case = _confidential_case(app, client)
    cast, staff = case.cast, _who(case.cast, role)
    for name, template in ENDPOINTS.items():
        path = template.format(id=case.clue.id, referral=case.referral_id)
        response = client.get(path, headers=cast.as_(staff))
        if name not in MAY_READ[role]:
            assert response.status_code == 403, (name, response.json)
            assert response.json["error"] in ("forbidden", "out_of_scope")
            continue
        assert response.status_code == 200, (name, response.json)
        text = json.dumps(response.json, ensure_ascii=False)
        assert SHOWS_THE_CASE[name](response.json, case), name  # the case is there…
        assert PHONE not in text and OTHER_PHONE not in text, name  # …but not who reported it
        assert str(RESIDENT_ID) not in text and str(EVALUATION_ID) not in text, name
        leaking = [
            key
            for key in _keys(response.json)
            if FORBIDDEN_KEY.search(key) and key.rsplit(".", 1)[-1] not in MESSAGES_TO_REPORTER
        ]
        assert leaking == [], (name, leaking)
    photo = client.get(
        f"/api/v1/clues/{case.clue.id}/photos/{case.photo_id}", headers=cast.as_(staff)
    )
    assert photo.status_code == (200 if "photos" in MAY_READ[role] else 403)


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_only_screeners_the_liaison_and_admins_read_the_reporter_and_every_read_is_audited(
    app, client, role
):
    case = _confidential_case(app, client)
    cast, staff = case.cast, _who(case.cast, role)
    path = f"/api/v1/clues/{case.clue.id}/reporter?reason=回访核实"
    assert _reporter_reads(app, case.clue.id) == []
    for _ in range(2):
        response = client.get(path, headers=cast.as_(staff))
        if role not in MAY_SEE_REPORTER:
            assert response.status_code == 403, response.json
            assert response.json["error"] == "forbidden"
            assert PHONE not in response.get_data(as_text=True)
            continue
        assert response.status_code == 200, response.json
        assert response.json == {
            "clue_id": case.clue.id,
            "identity": "confidential",
            "phone": PHONE,
            "channel": "h5",
        }
    reads = _reporter_reads(app, case.clue.id)
    assert reads == ([(role.value, staff.id)] * 2 if role in MAY_SEE_REPORTER else [])


def test_an_anonymous_reporter_has_no_phone_to_reveal(app, client):
    cast = make_cast(app, client)
    clue = cast.file(identity="anonymous")
    response = client.get(
        f"/api/v1/clues/{clue.id}/reporter?reason=回访核实", headers=cast.as_(cast.screener)
    )
    assert response.json == {
        "clue_id": clue.id,
        "identity": "anonymous",
        "phone": None,
        "channel": "h5",
    }
    assert len(_reporter_reads(app, clue.id)) == 1


def test_the_reporters_phone_is_stored_encrypted(app, client):
    cast = make_cast(app, client)
    clue = cast.file(identity="confidential", phone=PHONE)
    with app.app_context():
        stored = db.session.get(ClueReporter, clue.id).phone_encrypted
    assert stored and PHONE not in stored


# ---------------------------------------------------------------- the accused officer


def _accused_verifier(app, cast: Cast) -> StaffAccount:
    """A verifier of station A who is, on the registry, the officer the clue is about."""
    account = make_staff(app, Role.VERIFIER, cast.units["station_a"])
    with app.app_context():
        db.session.get(StaffAccount, account.id).officer_id = cast.officer.id
        db.session.commit()
    return account


def test_the_accused_officer_never_sees_or_handles_the_clue(app, client):
    cast = make_cast(app, client)
    accused = _accused_verifier(app, cast)
    clue = cast.file()
    about_someone_else = cast.file(officer=False, description="派出所大厅没有叫号，秩序混乱")
    cast.step(cast.screener, clue.id, "accept", to="accepted")
    named = cast.act(
        cast.screener, clue.id, "assign", unit_id=cast.units["station_a"].id, assignee_id=accused.id
    )
    assert named.status_code in (403, 422), named.json
    assert named.json["error"] == "accused_officer"
    assert named.json["message"] == "被反映的人员不能办理反映自己的线索"
    assert cast.detail(clue.id)["status"] == "accepted"

    cast.step(cast.screener, clue.id, "assign", to="assigned", unit_id=cast.units["station_a"].id)
    for other in (about_someone_else,):
        cast.step(cast.screener, other.id, "accept", to="accepted")
        cast.step(
            cast.screener, other.id, "assign", to="assigned", unit_id=cast.units["station_a"].id
        )
    headers = cast.as_(accused)
    listed = client.get("/api/v1/clues", headers=headers).json["items"]
    assert [c["tracking_no"] for c in listed] == [about_someone_else.tracking_no]
    for path in ("", "/events", "/photos"):
        response = client.get(f"/api/v1/clues/{clue.id}{path}", headers=headers)
        assert response.status_code == 403, (path, response.json)
        assert response.json["error"] == "out_of_scope"
    started = cast.act(accused, clue.id, "start")
    assert started.status_code == 403
    # A colleague at the same station handles it as usual.
    assert cast.detail(clue.id, cast.verifier)["status"] == "assigned"
    cast.step(cast.verifier, clue.id, "start", to="verifying")


# ---------------------------------------------------------------- residents


def test_another_residents_clue_is_not_found(app, client):
    cast = make_cast(app, client)
    clue = cast.file()
    stranger = h5_resident(client)
    response = cast.mine(clue.tracking_no, stranger)
    assert response.status_code == 404
    assert set(response.json) == {"error", "message", "details"}
    assert response.json["error"] == "not_found"
    assert client.get("/api/v1/me/clues", headers=stranger).json["items"] == []
    unknown = cast.mine("XQ20260101-9999")
    assert unknown.status_code == 404 and unknown.json["message"] == response.json["message"]


def test_the_public_timeline_never_shows_internal_notes(app, client):
    cast = make_cast(app, client)
    clue = cast.file()
    cast.step(cast.screener, clue.id, "accept", to="accepted", note="内部备注XYZ：此人多次反映")
    cast.step(
        cast.screener,
        clue.id,
        "assign",
        to="assigned",
        unit_id=cast.units["station_a"].id,
        note="内部备注XYZ：请重点核查",
    )
    cast.step(cast.verifier, clue.id, "start", to="verifying", note="内部备注XYZ：已调录像")
    cast.step(
        cast.verifier,
        clue.id,
        "request_extension",
        to="verifying",
        days=2,
        reason="内部备注XYZ：等待鉴定",
    )
    cast.step(cast.superior, clue.id, "deny_extension", to="verifying", note="内部备注XYZ：不同意")
    cast.step(
        cast.verifier,
        clue.id,
        "submit_report",
        to="reviewing",
        outcome="unfounded",
        findings="内部备注XYZ：调查经过",
        measures="内部备注XYZ：无",
    )
    cast.step(cast.superior, clue.id, "return", to="verifying", reason="内部备注XYZ：证据不足")
    cast.step(
        cast.verifier,
        clue.id,
        "submit_report",
        to="reviewing",
        outcome="unfounded",
        findings="内部备注XYZ：补充调查",
        reply_to_reporter="经核查，未发现民警推诿。",
    )
    cast.step(cast.superior, clue.id, "approve", to="closed", note="内部备注XYZ：同意")

    staff_trail = json.dumps(cast.events(clue.id), ensure_ascii=False)
    assert staff_trail.count("内部备注XYZ") >= 6  # staff read the internal notes

    for response in (
        cast.mine(clue.tracking_no),
        client.get("/api/v1/me/clues", headers=cast.resident),
    ):
        assert response.status_code == 200
        text = json.dumps(response.json, ensure_ascii=False)
        assert "内部备注XYZ" not in text
        assert "您反映的问题已受理，将交有关单位核查。" in text
        assert "经核查，未发现民警推诿。" in text
    notes = [item["note"] for item in cast.mine(clue.tracking_no).json["timeline"]]
    assert notes[0] == "您反映的问题已收到，将在规定期限内完成审核。"
    assert notes[-1] == "已办结，核查结论：未查实。经核查，未发现民警推诿。"
