"""Letters with their PDF and the answer to a supervision letter; QR codes for admins."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import unquote

import pytest
import sqlalchemy as sa

from app import clock
from app.clock import LOCAL_TZ
from app.extensions import db
from app.org.models import Role
from notifications.models import Letter
from notifications.sweeps import deadline_sweep
from qr.models import QRCode
from tests.clues.factories import make_cast
from tests.console.helpers import sign_in, text
from tests.factories import make_staff

START = datetime(2026, 3, 2, 9, 0, tzinfo=LOCAL_TZ)  # a Monday


@pytest.fixture
def cast(app, client):
    clock.set_now(START)
    try:
        yield make_cast(app, client)
    finally:
        clock.set_now(None)


def supervision_letter(app, cast) -> Letter:
    """A clue left past its verification deadline: the sweep sends station A a 督办函."""
    clue = cast.file()
    cast.step(cast.screener, clue.id, "accept", to="accepted")
    cast.step(cast.screener, clue.id, "assign", to="assigned", unit_id=cast.units["station_a"].id)
    due = datetime.fromisoformat(cast.detail(clue.id)["due_at"])
    clock.set_now(due + timedelta(minutes=1))
    with app.app_context():
        assert deadline_sweep(now=clock.utcnow())["supervisions"] == 1
        db.session.commit()
        letter = db.session.scalar(sa.select(Letter).where(Letter.kind == "supervision"))
        db.session.expunge(letter)
        return letter


def test_letters_list_pdf_and_the_written_answer(app, cast):
    letter = supervision_letter(app, cast)
    verifier = sign_in(app, cast.verifier)
    listing = text(verifier.get("/console/letters"))
    assert letter.serial in listing and "督办函" in listing and "待回复" in listing
    assert letter.serial in text(verifier.get("/console/letters?open=1"))
    assert letter.serial not in text(verifier.get("/console/letters?kind=notice"))

    page = text(verifier.get(f"/console/letters/{letter.id}"))
    assert letter.title in page and "提交回复" in page
    pdf = verifier.get(f"/console/letters/{letter.id}/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    assert letter.serial in unquote(pdf.headers["Content-Disposition"])

    blank = verifier.post(f"/console/letters/{letter.id}/response", response="   ")
    assert blank.status_code == 422 and "书面回复：请填写此项" in text(blank)
    answer = "因当事人外出，调查取证延误。<b>已约谈</b>，预计三个工作日内办结。"
    done = verifier.post(f"/console/letters/{letter.id}/response", response=answer)
    assert done.status_code == 303
    page = text(verifier.get(done.headers["Location"]))
    assert "已回复" in page and "&lt;b&gt;已约谈&lt;/b&gt;" in page and "提交回复" not in page
    again = verifier.post(f"/console/letters/{letter.id}/response", response="再答一次")
    assert again.status_code == 409 and "不能重复回复" in text(again)
    with app.app_context():
        assert db.session.get(Letter, letter.id).response == answer


def test_letters_stay_in_scope(app, cast):
    letter = supervision_letter(app, cast)
    outsider = sign_in(app, make_staff(app, Role.VERIFIER, cast.units["station_b"]))
    assert letter.serial not in text(outsider.get("/console/letters"))
    assert outsider.get(f"/console/letters/{letter.id}").status_code == 403
    assert outsider.get(f"/console/letters/{letter.id}/pdf").status_code == 403
    refused = outsider.post(f"/console/letters/{letter.id}/response", response="不是我们的")
    assert refused.status_code == 403
    # The analyst reads it but does not answer for the unit.
    analyst = sign_in(app, cast.analyst)
    page = text(analyst.get(f"/console/letters/{letter.id}"))
    assert letter.title in page and "提交回复" not in page
    assert (
        analyst.post(f"/console/letters/{letter.id}/response", response="答复").status_code == 403
    )
    assert sign_in(app, cast.screener).get("/console/letters/99999").status_code == 404


def _codes(app, unit_id: int) -> list[QRCode]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(QRCode).where(QRCode.unit_id == unit_id).order_by(QRCode.id)
            )
        )


def test_admin_issues_rotates_revokes_and_prints(app, cast):
    station = cast.units["station_a"]
    admin = sign_in(app, cast.admin)
    page = text(admin.get(f"/console/qr?unit_id={station.id}"))
    assert cast.code.serial in page and "签发新二维码" in page
    assert f"/console/qr/{cast.code.id}/code.svg" in page

    issued = admin.post(
        "/console/qr", unit_id=str(station.id), label="户籍窗口 3 号", officer_id=""
    )
    assert issued.status_code == 303
    assert issued.headers["Location"] == f"/console/qr?unit_id={station.id}"
    window = _codes(app, station.id)[-1]
    assert (window.label, window.status.value) == ("户籍窗口 3 号", "active")
    twice = admin.post("/console/qr", unit_id=str(station.id), label="户籍窗口 3 号")
    assert twice.status_code == 409 and "已有有效二维码" in text(twice)
    for_officer = admin.post(
        "/console/qr", unit_id=str(station.id), officer_id=str(cast.officer.id)
    )
    assert for_officer.status_code == 303

    # One click does nothing: rotating and revoking want a ticked box and a reason.
    unconfirmed = admin.post(f"/console/qr/{window.id}/rotate", reason="")
    assert unconfirmed.status_code == 422
    assert "请勾选确认" in text(unconfirmed) and "请填写理由" in text(unconfirmed)
    assert _codes(app, station.id)[-2].status.value == "active"
    rotated = admin.post(f"/console/qr/{window.id}/rotate", reason="海报损毁", confirm="1")
    assert rotated.status_code == 303
    codes = _codes(app, station.id)
    old = next(c for c in codes if c.id == window.id)
    assert old.status.value == "revoked" and old.replaced_by_id == codes[-1].id
    assert old.revoked_reason == "海报损毁"
    revoke = {"reason": "窗口撤并", "confirm": "1"}
    assert admin.post(f"/console/qr/{codes[-1].id}/revoke", **revoke).status_code == 303
    again = admin.post(f"/console/qr/{codes[-1].id}/revoke", **revoke)
    assert again.status_code == 409 and "已停用" in text(again)
    page = text(admin.get(f"/console/qr?unit_id={station.id}"))
    assert "窗口撤并" in page and "扫描（近 30 天 / 累计）" in page

    svg = admin.get(f"/console/qr/{cast.code.id}/code.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    poster = admin.get(f"/console/qr/{cast.code.id}/poster.png")
    assert poster.status_code == 200 and poster.mimetype == "image/png"
    assert poster.data.startswith(b"\x89PNG")
    assert f"{cast.code.serial}-poster.png" in poster.headers["Content-Disposition"]
    # Scanning the revoked code points to the unit's current one.
    assert cast.client.get(f"/api/v1/scan/{old.token}").status_code == 410


def test_qr_management_is_for_admins_in_scope(app, cast):
    station = cast.units["station_a"]
    for who in (cast.screener, cast.verifier, cast.analyst):
        desk = sign_in(app, who)
        assert desk.get("/console/qr").status_code == 403
        assert desk.post("/console/qr", unit_id=str(station.id), label="x").status_code == 403
    outsider = sign_in(app, make_staff(app, Role.ADMIN, cast.units["district_b"]))
    assert outsider.get(f"/console/qr?unit_id={station.id}").status_code == 403
    assert outsider.get(f"/console/qr/{cast.code.id}/poster.png").status_code == 403
    assert outsider.post(f"/console/qr/{cast.code.id}/revoke").status_code == 403
    assert outsider.post("/console/qr", unit_id=str(station.id), label="x").status_code == 403
    assert _codes(app, station.id)[0].status.value == "active"
