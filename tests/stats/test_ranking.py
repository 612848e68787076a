"""GET /stats/ranking: hand-counted ranks, ties, the minimum sample, the red list and the 约谈
list; the same figures as the weekly notice; periods; scope and roles."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from app.clock import LOCAL_TZ
from app.extensions import db
from app.org.models import Role
from notifications.models import Letter, LetterKind
from stats.notices import weekly_notice
from stats.ranking import Period, last_complete_period, period_containing
from tests.clues.factories import make_cast
from tests.evaluations.helpers import h5_resident, rate
from tests.factories import bearer, make_staff, make_unit
from tests.qr.factories import make_code

UNFOUNDED = {"outcome": "unfounded", "findings": "查无实据"}


def build_week(app, client, at) -> dict:
    """The week of Mon 23 – Sun 29 Nov 2026, with at least 2 ratings and 1 stage to rank.

    Satisfaction: court A 5,4 (100 %) and station B 5,5 (100 %) tie for first; station A 5,1
    (50 %) and 乙区法庭 2,4 (50 %) tie for third, which is last. 丙区司法所 has one rating (1):
    short of the minimum, neither ranked nor interviewed.
    On time: station A's verification (due 23 Nov) finished 24 Nov, late: 0 %, rank 2; court
    A's (due in December) finished 24 Nov: 100 %, rank 1.
    Re-ratings on 25 Nov: court A's clue 5 resolved (100 %), station A's 1 unresolved (0 %).
    约谈: station A (on time 0 %, and last), 乙区法庭 (last). Red list: court A, station B
    (乙区法庭 would qualify by on-time rate but is interviewed).
    """
    at(2026, 11, 2, 9, 0)
    cast = make_cast(app, client)
    app.config.update(RANKING_MIN_EVALUATIONS=2, RANKING_MIN_STAGES=1)
    units = cast.units
    court_tribunal = make_unit(app, parent=units["district_b"], name="乙区法庭")
    justice = make_unit(app, parent=units["district_b"], name="丙区司法所")
    court_verifier = make_staff(app, Role.VERIFIER, units["court_a"])
    codes = {
        name: make_code(app, unit)
        for name, unit in (
            ("court_a", units["court_a"]),
            ("station_b", units["station_b"]),
            ("tribunal", court_tribunal),
            ("justice", justice),
        )
    }
    codes["station_a"] = cast.code

    late = cast.drive("verifying", resident=(late_reporter := h5_resident(client)))
    at(2026, 11, 16, 9, 0)
    court_clue = cast.file(resident=(court_reporter := h5_resident(client)))
    cast.step(cast.screener, court_clue.id, "accept", to="accepted")
    cast.step(cast.screener, court_clue.id, "assign", to="assigned", unit_id=units["court_a"].id)
    cast.step(court_verifier, court_clue.id, "start", to="verifying")

    at(2026, 11, 24, 10, 0)
    for who, clue in ((cast.verifier, late), (court_verifier, court_clue)):
        cast.step(who, clue.id, "submit_report", to="reviewing", **UNFOUNDED)
        cast.step(cast.superior, clue.id, "approve", to="closed")
    for name, levels in (
        ("court_a", (5, 4)),
        ("station_b", (5, 5)),
        ("station_a", (5, 1)),
        ("tribunal", (2, 4)),
        ("justice", (1,)),
    ):
        for level in levels:
            response = rate(client, h5_resident(client), codes[name].token, level=level)
            assert response.status_code == 201, response.json
    at(2026, 11, 25, 10, 0)
    assert cast.rerate(court_clue.tracking_no, 5, True, resident=court_reporter).status_code == 200
    assert cast.rerate(late.tracking_no, 1, False, resident=late_reporter).status_code == 200
    at(2026, 12, 2, 9, 0)
    return {"cast": cast, "tribunal": court_tribunal, "justice": justice}


def by_name(rows: list[dict]) -> dict[str, dict]:
    return {row["unit"]: row for row in rows}


def test_ranks_ties_minimum_sample_red_list_and_interviews(app, client, at):
    world = build_week(app, client, at)
    cast = world["cast"]
    response = client.get(
        "/api/v1/stats/ranking?period=week&date=2026-11-26", headers=cast.as_(cast.analyst)
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["period"], body["start"], body["end"]) == ("week", "2026-11-23", "2026-11-29")
    assert (body["min_evaluations"], body["min_stages"], body["unit"]) == (2, 1, None)
    units = by_name(body["units"])
    assert {
        name: (row["satisfaction_rank"], row["satisfaction_rate"], row["evaluations"])
        for name, row in units.items()
    } == {
        "甲区人民法院": (1, 1.0, 2),
        "乙区派出所": (1, 1.0, 2),
        "甲区派出所": (3, 0.5, 2),
        "乙区法庭": (3, 0.5, 2),
        "丙区司法所": (None, 0.0, 1),
    }
    assert {
        name: (row["on_time_rank"], row["on_time_rate"], row["stages"])
        for name, row in units.items()
        if row["stages"]
    } == {"甲区人民法院": (1, 1.0, 1), "甲区派出所": (2, 0.0, 1)}
    assert units["甲区人民法院"]["rerating_satisfaction_rate"] == 1.0
    assert (
        units["甲区派出所"]["reratings"],
        units["甲区派出所"]["rerating_satisfaction_rate"],
    ) == (1, 0.0)
    assert units["乙区派出所"]["rerating_satisfaction_rate"] is None
    # Ranked units first in rank order (ties by id), the short sample last.
    assert [row["unit"] for row in body["units"]] == [
        "甲区人民法院",
        "乙区派出所",
        "甲区派出所",
        "乙区法庭",
        "丙区司法所",
    ]
    assert len(body["by_satisfaction"]) == 4 and len(body["by_on_time"]) == 2
    interview = by_name(body["interview_list"])
    assert set(interview) == {"甲区派出所", "乙区法庭"}
    assert interview["甲区派出所"]["interview_reasons"] == [
        "按期办结率 0%，低于 80%",
        "满意率 50%，排名末位",
    ]
    assert interview["乙区法庭"]["interview_reasons"] == ["满意率 50%，排名末位"]
    assert [row["unit"] for row in body["red_list"]] == ["甲区人民法院", "乙区派出所"]
    assert units["甲区人民法院"]["red_list"] and not units["乙区法庭"]["red_list"]


def test_the_api_and_the_weekly_notice_agree(app, client, at):
    world = build_week(app, client, at)
    cast = world["cast"]
    with app.app_context():
        weekly_notice(now=datetime(2026, 11, 30, 9, 0, tzinfo=LOCAL_TZ).astimezone(UTC))
        db.session.commit()
        content = db.session.scalars(
            sa.select(Letter.content).where(Letter.kind == LetterKind.NOTICE)
        ).one()
    # Default: the last complete week, as the notice.
    body = client.get("/api/v1/stats/ranking", headers=cast.as_(cast.screener)).json
    assert (body["start"], body["end"]) == ("2026-11-23", "2026-11-29")
    for key in ("red_list", "interview_list", "by_satisfaction", "by_on_time"):
        assert [row["unit_id"] for row in content[key]] == (
            body[key] if key.startswith("by_") else [row["unit_id"] for row in body[key]]
        ), key
    api = {row["unit_id"]: row for row in body["units"]}
    for row in content["units"]:
        mine = api[row["unit_id"]]
        assert (
            row["satisfaction_rate"],
            row["on_time_rate"],
            row["satisfaction_rank"],
            row["on_time_rank"],
            row["reasons"],
        ) == (
            mine["satisfaction_rate"],
            mine["on_time_rate"],
            mine["satisfaction_rank"],
            mine["on_time_rank"],
            mine["interview_reasons"],
        )


def test_a_subtree_is_ranked_on_its_own(app, client, at):
    world = build_week(app, client, at)
    cast = world["cast"]
    district_a = cast.units["district_a"]
    body = client.get(
        f"/api/v1/stats/ranking?date=2026-11-23&unit_id={district_a.id}",
        headers=cast.as_(cast.superior),
    ).json
    assert body["unit"] == {"id": district_a.id, "name": district_a.name}
    assert [(r["unit"], r["satisfaction_rank"]) for r in body["units"]] == [
        ("甲区人民法院", 1),
        ("甲区派出所", 2),
    ]
    assert [r["unit"] for r in body["interview_list"]] == ["甲区派出所"]
    outside = client.get(
        f"/api/v1/stats/ranking?unit_id={cast.units['district_b'].id}",
        headers=cast.as_(cast.superior),
    )
    assert (outside.status_code, outside.json["error"]) == (403, "out_of_scope")


def test_month_and_empty_periods(app, client, at):
    world = build_week(app, client, at)
    cast = world["cast"]
    month = client.get(
        "/api/v1/stats/ranking?period=month&date=2026-11-15", headers=cast.as_(cast.admin)
    ).json
    assert (month["period"], month["start"], month["end"]) == ("month", "2026-11-01", "2026-11-30")
    assert len(month["by_satisfaction"]) == 4
    # Default month at 2 Dec: November.
    default = client.get("/api/v1/stats/ranking?period=month", headers=cast.as_(cast.admin)).json
    assert (default["start"], default["end"]) == ("2026-11-01", "2026-11-30")
    empty = client.get("/api/v1/stats/ranking?date=2025-06-04", headers=cast.as_(cast.admin)).json
    assert (empty["units"], empty["red_list"], empty["interview_list"]) == ([], [], [])


def test_a_single_ranked_unit_is_not_last(app, client, at):
    at(2026, 11, 24, 9, 0)
    cast = make_cast(app, client)
    app.config.update(RANKING_MIN_EVALUATIONS=1)
    assert rate(client, h5_resident(client), cast.code.token, level=1).status_code == 201
    body = client.get("/api/v1/stats/ranking?date=2026-11-24", headers=cast.as_(cast.admin)).json
    (unit,) = body["units"]
    assert (unit["satisfaction_rank"], unit["interview_reasons"]) == (1, [])


def test_roles(app, client, at):
    at(2026, 11, 24, 9, 0)
    cast = make_cast(app, client)
    for who in (cast.screener, cast.superior, cast.analyst, cast.admin, cast.liaison):
        assert client.get("/api/v1/stats/ranking", headers=cast.as_(who)).status_code == 200
    denied = client.get("/api/v1/stats/ranking", headers=cast.as_(cast.verifier))
    assert (denied.status_code, denied.json["error"]) == (403, "forbidden")
    bad = client.get("/api/v1/stats/ranking?period=year", headers=cast.as_(cast.admin))
    assert bad.status_code == 422
    district_analyst = make_staff(app, Role.ANALYST, cast.units["district_b"])
    assert (
        client.get("/api/v1/stats/ranking", headers=bearer(app, district_analyst)).status_code
        == 200
    )


@pytest.mark.parametrize(
    "period, day, expected",
    [
        (Period.WEEK, date(2026, 11, 23), (date(2026, 11, 23), date(2026, 11, 29))),  # Monday
        (Period.WEEK, date(2026, 11, 29), (date(2026, 11, 23), date(2026, 11, 29))),  # Sunday
        (Period.WEEK, date(2026, 12, 31), (date(2026, 12, 28), date(2027, 1, 3))),
        (Period.MONTH, date(2026, 2, 14), (date(2026, 2, 1), date(2026, 2, 28))),
        (Period.MONTH, date(2028, 2, 29), (date(2028, 2, 1), date(2028, 2, 29))),
        (Period.MONTH, date(2026, 12, 31), (date(2026, 12, 1), date(2026, 12, 31))),
    ],
)
def test_period_containing(period, day, expected):
    assert period_containing(period, day) == expected


@pytest.mark.parametrize(
    "period, today, expected",
    [
        (Period.WEEK, date(2026, 11, 30), (date(2026, 11, 23), date(2026, 11, 29))),  # Monday
        (Period.WEEK, date(2026, 11, 29), (date(2026, 11, 16), date(2026, 11, 22))),  # Sunday
        (Period.MONTH, date(2027, 1, 1), (date(2026, 12, 1), date(2026, 12, 31))),
        (Period.MONTH, date(2026, 3, 31), (date(2026, 2, 1), date(2026, 2, 28))),
    ],
)
def test_last_complete_period(period, today, expected):
    assert last_complete_period(period, today) == expected
