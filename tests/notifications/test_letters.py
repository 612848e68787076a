"""Letters (两函一通报) as the sweeps issue them: each readable as a PDF whose text gives back
its Chinese title, serial and unit; supervision letters answered once by the addressed unit;
each staff member sees the letters of their subtree and every notice."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app import clock
from app.audit import AuditLog
from app.clock import LOCAL_TZ
from app.extensions import db
from app.org.models import Role
from notifications.models import Letter
from notifications.pdf import FontNotFound, render_letter_pdf, wrap_lines
from notifications.sweeps import deadline_sweep
from qr.fonts import find_cjk_font
from stats.notices import weekly_notice
from tests.clues.factories import Cast, Filed, make_cast
from tests.factories import bearer, make_staff

START = datetime(2026, 3, 2, 9, 0, tzinfo=LOCAL_TZ)  # a Monday


@pytest.fixture
def cast(app: Flask, client: FlaskClient) -> Iterator[Cast]:
    clock.set_now(START)
    try:
        yield make_cast(app, client)
    finally:
        clock.set_now(None)


def assigned_clue(cast: Cast) -> tuple[Filed, datetime]:
    """A clue accepted and assigned to station A, with its verification deadline."""
    clue = cast.file()
    cast.step(cast.screener, clue.id, "accept", to="accepted")
    cast.step(cast.screener, clue.id, "assign", to="assigned", unit_id=cast.units["station_a"].id)
    return clue, datetime.fromisoformat(cast.detail(clue.id)["due_at"])


def sweep(app: Flask, now: datetime) -> dict[str, int]:
    clock.set_now(now)
    with app.app_context():
        result = deadline_sweep(now=now)
        db.session.commit()
    return result


def only_letter(cast: Cast, kind: str, who: Any) -> dict[str, Any]:
    listed = cast.client.get(f"/api/v1/letters?kind={kind}", headers=cast.as_(who))
    assert listed.status_code == 200, listed.json
    assert listed.json["total"] == 1, listed.json
    return listed.json["items"][0]


def pdf_text(cast: Cast, letter: dict[str, Any], who: Any, tmp_path: Path) -> str:
    """The letter's PDF through the API, checked for A4 pages; its text with no whitespace."""
    response = cast.client.get(f"/api/v1/letters/{letter['id']}/pdf", headers=cast.as_(who))
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/pdf"
    assert letter["serial"] in unquote(response.headers["Content-Disposition"])
    path = tmp_path / f"letter-{letter['id']}.pdf"
    path.write_bytes(response.data)
    info = subprocess.run(
        ["pdfinfo", str(path)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1)) >= 1
    assert re.search(r"^Page size:.*\(A4\)", info, re.M), info
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return "".join(text.split())


# ---------------------------------------------------------------- each kind of letter


def test_reminder_letter_a_working_day_before_due(app, cast, tmp_path):
    clue, due = assigned_clue(cast)
    assert sweep(app, due - timedelta(hours=12))["reminders"] == 1

    letter = only_letter(cast, "reminder", cast.verifier)
    assert letter["serial"] == "评提〔2026〕1号"
    assert letter["unit"]["name"] == "甲区派出所"
    assert letter["tracking_no"] == clue.tracking_no
    assert letter["needs_response"] is False
    text = pdf_text(cast, letter, cast.verifier, tmp_path)
    for expected in (
        "关于按期办理问题线索的提醒函",
        "评提〔2026〕1号",
        "甲区派出所",
        clue.tracking_no,
        "测试市委政法委",
    ):
        assert expected in text, expected


def test_supervision_letter_is_answered_once_by_the_addressed_unit(app, cast, tmp_path):
    clue, due = assigned_clue(cast)
    assert sweep(app, due + timedelta(minutes=1))["supervisions"] == 1
    letter = only_letter(cast, "supervision", cast.verifier)
    assert letter["serial"] == "评督〔2026〕1号"
    assert letter["needs_response"] is True and letter["response_due_at"] is not None
    text = pdf_text(cast, letter, cast.verifier, tmp_path)
    for expected in (
        "关于逾期问题线索的督办函",
        "评督〔2026〕1号",
        "甲区派出所",
        clue.tracking_no,
        "回复期限",
        "尚未回复",
    ):
        assert expected in text, expected

    url = f"/api/v1/letters/{letter['id']}/response"
    other_verifier = make_staff(app, Role.VERIFIER, cast.units["station_b"])
    refused = cast.client.post(
        url, headers=bearer(app, other_verifier), json={"response": "不是我们的函"}
    )
    assert (refused.status_code, refused.json["error"]) == (403, "out_of_scope")
    assert (
        cast.client.get(
            f"/api/v1/letters/{letter['id']}", headers=bearer(app, other_verifier)
        ).status_code
        == 403
    )
    blank = cast.client.post(url, headers=cast.as_(cast.verifier), json={"response": "  "})
    assert blank.status_code == 422, blank.json
    analyst = cast.client.post(url, headers=cast.as_(cast.analyst), json={"response": "答复"})
    assert (analyst.status_code, analyst.json["error"]) == (403, "forbidden")

    answer = "因当事人外出，调查取证延误。已于本周约谈当事人，预计三个工作日内办结。"
    answered = cast.client.post(url, headers=cast.as_(cast.verifier), json={"response": answer})
    assert answered.status_code == 200, answered.json
    assert answered.json["response"] == answer
    assert answered.json["responded_by"]["id"] == cast.verifier.id
    assert answered.json["needs_response"] is False
    assert answered.json["tracking_no"] == clue.tracking_no

    again = cast.client.post(url, headers=cast.as_(cast.superior), json={"response": "再答"})
    assert (again.status_code, again.json["error"]) == (409, "already_answered")

    with app.app_context():
        audit = db.session.scalars(
            sa.select(AuditLog).where(AuditLog.action == "letter.respond")
        ).all()
        assert [(a.object_id, a.actor_id) for a in audit] == [(str(letter["id"]), cast.verifier.id)]
    inbox = cast.client.get("/api/v1/inbox", headers=cast.as_(cast.screener)).json["items"]
    responses = [item for item in inbox if item["kind"] == "letter_response"]
    assert [item["letter_id"] for item in responses] == [letter["id"]]
    assert "评督〔2026〕1号" in responses[0]["title"]

    text = pdf_text(cast, letter, cast.superior, tmp_path)
    assert "回复情况" in text and "".join(answer.split()) in text
    # Answered: no escalation when its response date passes.
    detail = cast.client.get(f"/api/v1/letters/{letter['id']}", headers=cast.as_(cast.verifier))
    response_due = datetime.fromisoformat(detail.json["response_due_at"])
    assert sweep(app, response_due + timedelta(minutes=1))["escalations"] == 0


def test_unanswered_supervision_escalates_to_the_superior_organ(app, cast, tmp_path):
    clue, due = assigned_clue(cast)
    sweep(app, due + timedelta(minutes=1))
    supervision = only_letter(cast, "supervision", cast.verifier)
    response_due = datetime.fromisoformat(supervision["response_due_at"])
    # Due at the end of Friday 27 March: escalated on the first working day after it.
    assert sweep(app, response_due + timedelta(minutes=1))["escalations"] == 0
    assert sweep(app, response_due + timedelta(days=2, hours=10))["escalations"] == 1

    letter = only_letter(cast, "escalation", cast.superior)
    assert letter["serial"] == "评督提〔2026〕1号"
    assert letter["unit"]["name"] == "甲区委政法委"
    text = pdf_text(cast, letter, cast.superior, tmp_path)
    for expected in (
        "关于督办函逾期未回复的提级督办函",
        "评督提〔2026〕1号",
        "甲区委政法委",
        "甲区派出所",
        "评督〔2026〕1号",
        clue.tracking_no,
    ):
        assert expected in text, expected
    # The supervision letter now says it went up.
    assert "提级督办" in pdf_text(cast, supervision, cast.verifier, tmp_path)

    # Addressed to the district: the station's verifier neither sees it nor answers it.
    url = f"/api/v1/letters/{letter['id']}/response"
    station = cast.client.post(url, headers=cast.as_(cast.verifier), json={"response": "答复"})
    assert (station.status_code, station.json["error"]) == (403, "out_of_scope")
    assert (
        cast.client.get("/api/v1/letters?kind=escalation", headers=cast.as_(cast.verifier)).json[
            "total"
        ]
        == 0
    )
    answered = cast.client.post(
        url, headers=cast.as_(cast.superior), json={"response": "已督促甲区派出所限期办结"}
    )
    assert answered.status_code == 200, answered.json


def test_notice_ranks_units_and_is_visible_to_all_staff(app, cast, tmp_path):
    assigned_clue(cast)  # due in March and never finished: late in the week of the notice
    app.config["RANKING_MIN_STAGES"] = 1
    now = datetime(2026, 3, 30, 9, 0, tzinfo=LOCAL_TZ)  # Monday: the notice for 23–29 March
    clock.set_now(now)
    with app.app_context():
        assert weekly_notice(now=now)["issued"] == 1
        db.session.commit()

    elsewhere = make_staff(app, Role.VERIFIER, cast.units["station_b"])
    letter = only_letter(cast, "notice", elsewhere)
    assert letter["serial"] == "评通〔2026〕1号" and letter["unit"] is None
    detail = cast.client.get(f"/api/v1/letters/{letter['id']}", headers=bearer(app, elsewhere))
    assert detail.status_code == 200
    assert [row["unit"] for row in detail.json["content"]["interview_list"]] == ["甲区派出所"]
    text = pdf_text(cast, letter, elsewhere, tmp_path)
    for expected in (
        letter["title"],
        "评通〔2026〕1号",
        "甲区派出所",
        "按期办结率排名",
        "0.0%",
        "样本不足",
        "约谈名单",
        "低于80%",
    ):
        assert expected in text, expected
    rejected = cast.client.post(
        f"/api/v1/letters/{letter['id']}/response",
        headers=cast.as_(cast.verifier),
        json={"response": "收到"},
    )
    assert (rejected.status_code, rejected.json["error"]) == (409, "not_answerable")


# ---------------------------------------------------------------- who sees what


def test_listing_shows_a_district_its_letters_only(app, cast):
    clue, due = assigned_clue(cast)
    sweep(app, due - timedelta(hours=12))
    sweep(app, due + timedelta(minutes=1))
    district_a = make_staff(app, Role.SUPERIOR, cast.units["district_a"])
    district_b = make_staff(app, Role.SUPERIOR, cast.units["district_b"])

    mine = cast.client.get("/api/v1/letters", headers=bearer(app, district_a)).json
    assert sorted(item["kind"] for item in mine["items"]) == ["reminder", "supervision"]
    assert {item["tracking_no"] for item in mine["items"]} == {clue.tracking_no}
    assert (
        cast.client.get("/api/v1/letters?year=2025", headers=bearer(app, district_a)).json["total"]
        == 0
    )
    assert (
        cast.client.get(
            f"/api/v1/letters?unit_id={cast.units['court_a'].id}", headers=bearer(app, district_a)
        ).json["total"]
        == 0
    )
    theirs = cast.client.get("/api/v1/letters", headers=bearer(app, district_b))
    assert theirs.status_code == 200 and theirs.json["total"] == 0
    peek = cast.client.get(
        f"/api/v1/letters?unit_id={cast.units['station_a'].id}", headers=bearer(app, district_b)
    )
    assert (peek.status_code, peek.json["error"]) == (403, "out_of_scope")
    for item in mine["items"]:
        for path in (f"/api/v1/letters/{item['id']}", f"/api/v1/letters/{item['id']}/pdf"):
            denied = cast.client.get(path, headers=bearer(app, district_b))
            assert (denied.status_code, denied.json["error"]) == (403, "out_of_scope"), path
    assert (
        cast.client.get("/api/v1/letters/999999", headers=bearer(app, district_a)).status_code
        == 404
    )
    assert cast.client.get("/api/v1/letters").status_code == 401


def test_pdf_without_a_chinese_font_is_a_clear_503(app, cast, monkeypatch, tmp_path):
    clue, due = assigned_clue(cast)
    sweep(app, due + timedelta(minutes=1))
    letter = only_letter(cast, "supervision", cast.verifier)
    headers = cast.as_(cast.verifier)
    monkeypatch.setenv("PATH", str(tmp_path))  # no fc-list: fontconfig finds nothing
    app.config["QR_FONT_PATH"] = str(tmp_path / "none.ttf")
    find_cjk_font.cache_clear()
    try:
        response = cast.client.get(f"/api/v1/letters/{letter['id']}/pdf", headers=headers)
        with app.app_context():
            stored = db.session.get(Letter, letter["id"])
            with pytest.raises(FontNotFound, match="fonts-wqy-microhei"):
                render_letter_pdf(stored, font_path=str(tmp_path / "none.ttf"))
    finally:
        find_cjk_font.cache_clear()
    assert (response.status_code, response.json["error"]) == (503, "font_missing")
    assert "QR_FONT_PATH" in response.json["message"]


# ---------------------------------------------------------------- line breaking


def cells(text: str) -> float:
    """Width in half-character cells: ASCII is one, everything else two."""
    return sum(1 if ord(ch) < 128 else 2 for ch in text)


@pytest.mark.parametrize(
    ("text", "width", "lines"),
    [
        ("一二三四五六七八", 8, ["一二三四", "五六七八"]),
        # A closing mark never starts a line: the character before it comes down with it.
        ("一二三四，五六", 8, ["一二三", "四，五六"]),
        ("一二三。」五", 8, ["一二", "三。」五"]),
        # An opening mark never ends a line.
        ("一二三（四五）", 8, ["一二三", "（四五）"]),
        # Latin words and numbers stay whole; a space they break at is dropped.
        ("编号 PY2026 号", 10, ["编号", "PY2026 号"]),
        ("率 80%，低", 7, ["率", "80%，低"]),
        ("　　首行缩进保留全角空格", 12, ["　　首行缩进", "保留全角空格"]),
        # So do letter serials.
        ("发出督办函（评督〔2026〕12号）", 20, ["发出督办函", "（评督〔2026〕12号）"]),
        # Only a run wider than a whole line is cut.
        ("ABCDEFGHIJ", 4, ["ABCD", "EFGH", "IJ"]),
        ("", 8, [""]),
    ],
)
def test_wrap_lines_sets_chinese_the_chinese_way(text, width, lines):
    wrapped = wrap_lines(text, width, cells)
    assert wrapped == lines
    assert all(cells(line) <= width for line in wrapped)
