"""The practices' figures through the API: 整改率, 回访率, 案结事了率 and targets in the
overview, categories in the overview and the ranking, 专题分析, 年度考评 and its Excel, the
daily brief (job, inbox, JSON, PDF), the monthly notice's topics and targets, and the public
page (off by default)."""

from __future__ import annotations

import io
import subprocess
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from app.extensions import db
from app.jobs import run_job
from notifications.models import InboxItem, Letter
from stats.models import DailyBrief
from tests.clues.factories import Cast, make_cast
from tests.evaluations.helpers import h5_resident, rate

PHONE = "13912345678"


def pdf_text(data: bytes, tmp_path: Path) -> str:
    """The PDF's text without white space (pdftotext, as the letter tests read letters)."""
    path = tmp_path / "document.pdf"
    path.write_bytes(data)
    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return "".join(text.split())


@pytest.fixture
def cast(app, client, at) -> Cast:
    at(2026, 11, 2, 9, 0)  # Monday 2 November 2026
    return make_cast(app, client)


def _close(cast: Cast, **report) -> tuple[str, int]:
    clue = cast.file(**report)
    for who, action, to, body in cast.path_to_closed():
        cast.step(who, clue.id, action, to=to, **body)
    return clue.tracking_no, clue.id


def _november(app, cast: Cast, at) -> None:
    """Two bad ratings without a clue (one rectified, the resident reached), one closed
    confidential clue not re-rated (called back: unreachable), one re-rated "resolved"."""
    for comment in ("排队两个小时没人管，态度生硬", "窗口推诿扯皮，来回跑了三趟"):
        response = rate(cast.client, h5_resident(cast.client), cast.code.token, 1, comment=comment)
        assert response.status_code == 201
    with app.app_context():
        run_job("bad_rating_intake")
    items = cast.client.get("/api/v1/bad-ratings", headers=cast.as_(cast.verifier)).json["items"]
    done = cast.client.post(
        f"/api/v1/bad-ratings/{items[0]['id']}/rectify",
        headers=cast.as_(cast.verifier),
        json={"measures": "增设叫号机", "callback_result": "satisfied"},
    )
    assert done.status_code == 200
    _, confidential = _close(cast, identity="confidential", phone=PHONE)
    rerated, _ = _close(cast, description="民警推诿扯皮，不给办理居住证")
    at(2026, 11, 4, 10, 0)
    assert cast.rerate(rerated, 4, True).status_code == 200
    at(2026, 11, 12, 10, 0)  # the re-rating windows are over
    with app.app_context():
        run_job("rerating_sweep")
    called = cast.client.post(
        f"/api/v1/clues/{confidential}/callbacks",
        headers=cast.as_(cast.screener),
        json={"result": "unreachable", "note": "两次拨打无人接听"},
    )
    assert called.status_code == 201


def test_the_overview_reports_the_practices_beside_the_targets(app, cast, at):
    _november(app, cast, at)
    response = cast.client.get(
        "/api/v1/stats/overview?from=2026-11-01&to=2026-11-30", headers=cast.as_(cast.analyst)
    )
    figures = response.json
    assert figures["bad_ratings_to_rectify"] == 2
    assert figures["rectified"] == figures["rectified_on_time"] == 1
    assert figures["rectification_rate"] == pytest.approx(0.5)
    # Due: 2 bad ratings + 1 clue; reached: the rectified one only (the clue: unreachable).
    assert figures["clue_callbacks_due"] == figures["clue_callbacks_made"] == 1
    assert (figures["callbacks_due"], figures["callbacks_reached"]) == (3, 1)
    assert figures["callback_rate"] == pytest.approx(1 / 3)
    assert (figures["resolved"], figures["resolved_rate"]) == (1, 1.0)
    assert figures["targets"] == {"on_time_rate": 0.995, "satisfaction_rate": 0.836}
    categories = {row["category"]: row["clues"] for row in figures["by_category"]}
    assert categories["buck_passing"] == 2 and sum(categories.values()) == 2


def test_the_ranking_has_categories_per_unit_and_targets(app, cast, at):
    _november(app, cast, at)
    response = cast.client.get(
        "/api/v1/stats/ranking?period=month&date=2026-11-15", headers=cast.as_(cast.screener)
    )
    assert response.status_code == 200, response.json
    station = next(u for u in response.json["units"] if u["unit"] == "甲区派出所")
    assert station["by_category"] == {"buck_passing": 2}
    assert response.json["targets"]["on_time_rate"] == 0.995


def test_topics_count_terms_once_per_text_without_stop_words(app, cast, at):
    _november(app, cast, at)
    url = "/api/v1/stats/topics?from=2026-11-01&to=2026-11-30"
    response = cast.client.get(url, headers=cast.as_(cast.analyst))
    assert response.status_code == 200, response.json
    terms = {row["term"]: row["count"] for row in response.json["terms"]}
    # A clue description and a bad-rating comment name 推诿扯皮 (kept whole); a clue and a
    # comment say 态度生硬; numerals (三趟), pronouns and stop words are no terms.
    assert terms["推诿扯皮"] == 2 and terms["态度生硬"] == 2
    assert not {"问题", "我们", "反映", "三趟"} & set(terms)
    assert all(len(term) >= 2 for term in terms)
    (unit,) = response.json["units"]
    assert unit["unit"] == "甲区派出所" and unit["documents"] == 4
    assert cast.client.get(url, headers=cast.as_(cast.verifier)).status_code == 403


def test_the_annual_score_weights_the_rates_and_takes_off_for_interviews(app, cast, at):
    _november(app, cast, at)
    interview = {
        "unit_id": cast.units["station_a"].id,
        "held_on": "2026-11-10",
        "interviewer": "王强",
        "interviewee": "赵刚",
        "commitments": "清理逾期线索",
    }
    made = cast.client.post("/api/v1/interviews", headers=cast.as_(cast.superior), json=interview)
    assert made.status_code == 201
    app.config["ANNUAL_SCORE_WEIGHTS"] = {"satisfaction": 50, "rectification": 50}
    response = cast.client.get("/api/v1/stats/annual?year=2026", headers=cast.as_(cast.analyst))
    assert response.status_code == 200, response.json
    station = next(u for u in response.json["units"] if u["unit"] == "甲区派出所")
    # Satisfaction 0/2 (two level-1 ratings), rectification 1/2: 100 × (50×0 + 50×0.5) / 100
    # = 25, less 2 points for the 约谈.
    assert station["satisfaction_rate"] == 0 and station["rectification_rate"] == 0.5
    assert station["interviews"] == 1 and station["score"] == 23.0 and station["rank"] == 1
    assert (
        cast.client.get("/api/v1/stats/annual", headers=cast.as_(cast.screener)).status_code == 403
    )
    future = cast.client.get("/api/v1/stats/annual?year=2027", headers=cast.as_(cast.analyst))
    assert future.status_code == 422
    workbook = cast.client.get(
        "/api/v1/exports/annual.xlsx?year=2026", headers=cast.as_(cast.analyst)
    )
    assert workbook.status_code == 200
    book = load_workbook(io.BytesIO(workbook.data), read_only=True)
    rows = list(book["年度考评"].iter_rows(values_only=True))
    assert rows[0][:3] == ("名次", "单位", "得分")
    assert rows[1][1:4] == ("甲区派出所", 23.0, 1)
    notes = dict(book["说明"].iter_rows(values_only=True))
    assert "满意率 50" in notes["权重"]


def test_the_daily_brief_is_issued_once_on_working_days(app, cast, at, tmp_path):
    _november(app, cast, at)
    at(2026, 11, 14, 8, 30)  # Saturday: no brief
    with app.app_context():
        assert run_job("daily_brief") == {"issued": 0}
    at(2026, 11, 16, 8, 30)  # Monday: covers Friday to Sunday
    with app.app_context():
        assert run_job("daily_brief")["issued"] == 1
        assert run_job("daily_brief") == {"issued": 0}
        told = db.session.scalars(
            sa.select(InboxItem.staff_id).where(InboxItem.kind == "daily_brief")
        ).all()
        stored = db.session.get(DailyBrief, date(2026, 11, 16))
    assert set(told) == {cast.screener.id, cast.analyst.id, cast.admin.id}
    assert (stored.content["start"], stored.content["end"]) == ("2026-11-13", "2026-11-15")
    brief = cast.client.get("/api/v1/briefs/daily?date=2026-11-16", headers=cast.as_(cast.analyst))
    assert brief.status_code == 200, brief.json
    assert brief.json["issued_at"] is not None
    assert brief.json["overdue"]["total"] == stored.content["overdue"]["total"]
    # The day after the ratings: composed on request for a day without a stored brief.
    tuesday = cast.client.get(
        "/api/v1/briefs/daily?date=2026-11-03", headers=cast.as_(cast.screener)
    ).json
    assert tuesday["issued_at"] is None
    assert (tuesday["ratings"]["bad_ratings"], tuesday["ratings"]["to_rectify"]) == (2, 2)
    assert tuesday["clues"]["received"] == 2
    pdf = cast.client.get(
        "/api/v1/briefs/daily.pdf?date=2026-11-16", headers=cast.as_(cast.analyst)
    )
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    text = pdf_text(pdf.data, tmp_path)
    assert (
        "每日要情（2026年11月16日）" in text and "统计范围：2026年11月13日至2026年11月15日" in text
    )
    assert (
        cast.client.get("/api/v1/briefs/daily", headers=cast.as_(cast.verifier)).status_code == 403
    )
    late = cast.client.get("/api/v1/briefs/daily?date=2027-01-01", headers=cast.as_(cast.analyst))
    assert late.status_code == 422


def test_the_monthly_notice_carries_topics_and_targets(app, cast, at, tmp_path):
    _november(app, cast, at)
    at(2026, 12, 1, 9, 0)
    with app.app_context():
        run_job("monthly_notice")
        letter = db.session.scalars(sa.select(Letter).where(Letter.kind == "notice")).one()
        content, body, letter_id = letter.content, letter.body, letter.id
    pdf = cast.client.get(f"/api/v1/letters/{letter_id}/pdf", headers=cast.as_(cast.analyst))
    text = pdf_text(pdf.data, tmp_path)
    assert "目标：满意率不低于83.6%" in text and "五、专题分析" in text and "推诿扯皮" in text
    assert content["targets"] == {"on_time_rate": 0.995, "satisfaction_rate": 0.836}
    assert {"term": "推诿扯皮", "count": 2} in content["topics"]["terms"]
    assert "目标：按期办结率不低于 99.5%，群众满意率不低于 83.6%" in body


def test_the_public_page_is_off_by_default_and_anonymous_when_on(app, cast, at):
    _november(app, cast, at)
    assert cast.client.get("/public").status_code == 404
    assert cast.client.get("/api/v1/public/ranking").status_code == 404
    app.config["PUBLIC_DISCLOSURE"] = True
    closed = sorted(
        cast.client.get("/api/v1/clues?status=closed", headers=cast.as_(cast.screener)).json[
            "items"
        ],
        key=lambda c: c["id"],
    )
    approved = cast.client.put(
        f"/api/v1/clues/{closed[0]['id']}/public-summary",
        headers=cast.as_(cast.screener),
        json={"text": "已责令整改，相关民警受到批评教育"},
    )
    assert approved.status_code == 200
    at(2026, 11, 16, 9, 0)
    answer = cast.client.get("/api/v1/public/ranking")
    assert answer.status_code == 200, answer.json
    outcomes = answer.json["outcomes"]
    assert len(outcomes) == 2
    assert set(outcomes[0]) == {
        "unit",
        "category",
        "outcome",
        "received_on",
        "closed_on",
        "summary",
    }
    assert sorted(o["summary"] or "" for o in outcomes) == ["", "已责令整改，相关民警受到批评教育"]
    page = cast.client.get("/public")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "已责令整改" in text and closed[0]["tracking_no"] not in text
    assert PHONE not in text and "李明" not in text
