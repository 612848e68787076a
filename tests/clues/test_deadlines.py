"""Deadlines in working days (2026 calendar: 春节 2/15–2/23 off, Saturdays 2/14 and 2/28
worked; 国庆 10/1–10/7 off), due at 23:59:59 Beijing time of the last day; extensions; whether
each stage finished on time; the overdue queue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.clock import LOCAL_TZ
from app.extensions import db
from clues.models import ClueStage
from tests.clues.factories import REPORT, Cast, make_cast


def beijing(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


def due_end_of(year: int, month: int, day: int) -> datetime:
    """23:59:59 Beijing time of that day (the last second; stored to the microsecond)."""
    return beijing(year, month, day, 23, 59, 59)


def parsed(value: str) -> datetime:
    """An API timestamp, to the second."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(microsecond=0)


@pytest.fixture
def at() -> Iterator:
    """Freeze the clock at a Beijing time; the real clock comes back afterwards."""
    yield lambda *args: clock.set_now(beijing(*args))
    clock.set_now(None)


def _assign(cast: Cast, clue_id: int, **extra) -> dict:
    cast.step(cast.screener, clue_id, "accept", to="accepted")
    body = {"unit_id": cast.units["station_a"].id, **extra}
    return cast.step(cast.screener, clue_id, "assign", to="assigned", **body)


def _stages(app, clue_id: int) -> list[tuple[str, bool | None]]:
    with app.app_context():
        return [
            (row.stage.value, row.on_time)
            for row in db.session.execute(
                sa.select(ClueStage.stage, ClueStage.on_time)
                .where(ClueStage.clue_id == clue_id)
                .order_by(ClueStage.id)
            )
        ]


# ---------------------------------------------------------------- screening: 2 working days


@pytest.mark.parametrize(
    ("filed", "due"),
    [
        pytest.param((2026, 2, 12, 10, 0), (2026, 2, 14), id="thursday-before-spring-festival"),
        pytest.param((2026, 2, 12, 0, 30), (2026, 2, 14), id="just-after-midnight-beijing"),
        pytest.param((2026, 2, 13, 16, 0), (2026, 2, 24), id="friday-into-spring-festival"),
        pytest.param((2026, 2, 14, 11, 0), (2026, 2, 25), id="worked-saturday"),
        pytest.param((2026, 3, 6, 17, 0), (2026, 3, 10), id="ordinary-friday"),
        pytest.param((2026, 9, 29, 9, 0), (2026, 10, 8), id="before-national-day"),
        pytest.param((2026, 9, 30, 9, 0), (2026, 10, 9), id="eve-of-national-day"),
    ],
)
def test_screening_is_due_two_working_days_later(app, client, at, filed, due):
    at(*filed)
    cast = make_cast(app, client)
    summary = cast.report()
    assert parsed(summary["due_at"]) == due_end_of(*due)
    assert cast.mine(summary["tracking_no"]).json["stage_label"] == "审核"


def test_a_clue_filed_on_february_12_is_due_february_14_at_midnight_beijing(app, client, at):
    at(2026, 2, 12, 10, 0)
    cast = make_cast(app, client)
    summary = cast.report()
    assert parsed(summary["due_at"]) == datetime(2026, 2, 14, 15, 59, 59, tzinfo=UTC)
    clue_id = cast.clue_id(summary["tracking_no"])
    assert parsed(cast.detail(clue_id)["due_at"]) == datetime(2026, 2, 14, 15, 59, 59, tzinfo=UTC)


# ---------------------------------------------------------------- verification: 15 by default


@pytest.mark.parametrize(
    ("category", "override", "days", "due"),
    [
        pytest.param("conduct", {}, None, (2026, 3, 12), id="default-15-across-spring-festival"),
        pytest.param("integrity", {"integrity": 20}, None, (2026, 3, 19), id="category-override"),
        pytest.param(
            "conduct", {"integrity": 20}, None, (2026, 3, 12), id="other-category-default"
        ),
        pytest.param("integrity", {"integrity": 20}, 5, (2026, 2, 27), id="days-on-assignment"),
    ],
)
def test_verification_deadline(app, client, at, category, override, days, due):
    app.config["CLUE_VERIFICATION_DAYS"] = override
    at(2026, 2, 13, 10, 0)
    cast = make_cast(app, client)
    clue = cast.file(category=category)
    # A misconduct clue goes to the unit above the station (no self-verification).
    unit_above = {"unit_id": cast.units["district_a"].id}
    assigned = _assign(cast, clue.id, **unit_above, **({"days": days} if days else {}))
    assert assigned["stage"] == "verification"
    assert parsed(assigned["due_at"]) == due_end_of(*due)
    # The reporter sees the promised date too.
    mine = cast.mine(clue.tracking_no).json
    assert parsed(mine["due_at"]) == due_end_of(*due) and mine["stage_label"] == "核查"


# ---------------------------------------------------------------- extensions


def test_an_approved_extension_moves_the_due_date_by_working_days(app, client, at):
    at(2026, 2, 13, 10, 0)
    cast = make_cast(app, client)
    clue = cast.file()
    _assign(cast, clue.id)
    cast.step(cast.verifier, clue.id, "start", to="verifying")

    requested = cast.step(
        cast.verifier,
        clue.id,
        "request_extension",
        to="verifying",
        days=5,
        reason="当事人春节返乡，需等待其返回后询问",
    )
    assert parsed(requested["due_at"]) == due_end_of(2026, 3, 12)  # not yet
    assert [(e["days"], e["reason"], e["status"]) for e in requested["extensions"]] == [
        (5, "当事人春节返乡，需等待其返回后询问", "pending")
    ]
    second = cast.act(cast.verifier, clue.id, "request_extension", days=3, reason="再延几天")
    assert (second.status_code, second.json["error"]) == (409, "extension_pending")
    assert second.json["message"] == "已有待审批的延期申请"

    approved = cast.step(
        cast.superior, clue.id, "approve_extension", to="verifying", note="同意延期 5 个工作日"
    )
    # From the old due date (Thursday 3/12): 3/13, 3/16, 3/17, 3/18, 3/19.
    assert parsed(approved["due_at"]) == due_end_of(2026, 3, 19)
    assert approved["extensions"][0]["status"] == "approved"
    assert parsed(cast.mine(clue.tracking_no).json["due_at"]) == due_end_of(2026, 3, 19)
    assert cast.mine(clue.tracking_no).json["timeline"][-1]["note"] == "核查期限已依规延长。"
    nothing = cast.act(cast.superior, clue.id, "approve_extension")
    assert (nothing.status_code, nothing.json["error"]) == (409, "no_extension_request")


def test_a_denied_extension_leaves_the_due_date(app, client, at):
    at(2026, 2, 13, 10, 0)
    cast = make_cast(app, client)
    clue = cast.file()
    _assign(cast, clue.id)
    cast.step(cast.verifier, clue.id, "start", to="verifying")
    cast.step(
        cast.verifier, clue.id, "request_extension", to="verifying", days=10, reason="工作繁忙"
    )
    denied = cast.step(cast.superior, clue.id, "deny_extension", to="verifying", note="理由不充分")
    assert parsed(denied["due_at"]) == due_end_of(2026, 3, 12)
    assert [(e["status"], e["decision_note"]) for e in denied["extensions"]] == [
        ("denied", "理由不充分")
    ]
    # Decided: the verifier may ask again.
    cast.step(
        cast.verifier,
        clue.id,
        "request_extension",
        to="verifying",
        days=2,
        reason="需要调取外地录像",
    )


def test_an_extension_longer_than_allowed_is_refused(app, client):
    cast = make_cast(app, client)
    clue = cast.drive("verifying")
    response = cast.act(cast.verifier, clue.id, "request_extension", days=16, reason="很忙")
    assert response.status_code == 422 and "days" in response.json["details"]["fields"]
    assert cast.detail(clue.id)["extensions"] == []


def test_a_request_left_pending_when_the_report_goes_in_lapses(app, client):
    """The verifier asks for more time, then files the report anyway; the superior returns
    it. The old request was about a stage that ended: it cannot move the new deadline, and
    it does not block a new request."""
    cast = make_cast(app, client)
    clue = cast.drive("verifying")
    cast.step(
        cast.verifier, clue.id, "request_extension", to="verifying", days=5, reason="等待鉴定结果"
    )
    cast.step(cast.verifier, clue.id, "submit_report", to="reviewing", **REPORT)
    returned = cast.step(cast.superior, clue.id, "return", to="verifying", reason="补充证据")
    due = returned["due_at"]
    stale = cast.act(cast.superior, clue.id, "approve_extension")
    assert (stale.status_code, stale.json["error"]) == (409, "no_extension_request")
    assert cast.detail(clue.id)["due_at"] == due
    renewed = cast.step(
        cast.verifier,
        clue.id,
        "request_extension",
        to="verifying",
        days=3,
        reason="补充证据需要时间",
    )
    assert [e["status"] for e in renewed["extensions"]] == ["lapsed", "pending"]
    approved = cast.step(cast.superior, clue.id, "approve_extension", to="verifying")
    assert parsed(approved["due_at"]) > parsed(due)


# ---------------------------------------------------------------- on time or late, per stage


def test_every_stage_records_whether_it_finished_on_time(app, client, at):
    at(2026, 3, 2, 9, 0)  # Monday
    cast = make_cast(app, client)
    clue = cast.file()
    clock.set_now(beijing(2026, 3, 4, 23, 59, 59))  # the last second of screening
    _assign(cast, clue.id)
    cast.step(cast.verifier, clue.id, "start", to="verifying")
    # Verification was due Wednesday 3/25 (15 working days from 3/4); the report comes 3/26.
    assert parsed(cast.detail(clue.id)["due_at"]) == due_end_of(2026, 3, 25)
    clock.set_now(beijing(2026, 3, 26, 10, 0))
    assert cast.detail(clue.id)["is_overdue"] is True
    cast.step(cast.verifier, clue.id, "submit_report", to="reviewing", **REPORT)
    clock.advance(timedelta(hours=2))
    cast.step(cast.superior, clue.id, "approve", to="closed")
    assert _stages(app, clue.id) == [("screening", True), ("verification", False), ("review", True)]


def test_a_late_screening_and_a_late_appeal_decision_are_recorded(app, client, at):
    at(2026, 3, 2, 9, 0)
    cast = make_cast(app, client)
    clue = cast.file()
    clock.set_now(beijing(2026, 3, 5, 0, 0, 1))  # screening was due at the end of 3/4
    _assign(cast, clue.id)
    cast.step(cast.verifier, clue.id, "start", to="verifying")
    cast.step(cast.verifier, clue.id, "submit_report", to="reviewing", **REPORT)
    cast.step(cast.superior, clue.id, "approve", to="closed")
    assert cast.appeal(clue.tracking_no).status_code == 200  # Thursday 3/5: due Tuesday 3/10
    clock.set_now(beijing(2026, 3, 11, 9, 0))
    cast.step(cast.superior, clue.id, "uphold", to="closed", note="原结论正确")
    assert _stages(app, clue.id) == [
        ("screening", False),
        ("verification", True),
        ("review", True),
        ("appeal", False),
    ]


# ---------------------------------------------------------------- the overdue queue


def test_overdue_clues_are_listed_as_such(app, client, at):
    at(2026, 3, 2, 9, 0)
    cast = make_cast(app, client)
    late = cast.file()
    clock.set_now(beijing(2026, 3, 5, 9, 0))  # late's screening ended with 3/4
    fresh = cast.file(description="派出所接警后迟迟不出警，群众等了两个小时")
    screener = cast.as_(cast.screener)

    def listed(query: str) -> list[str]:
        response = client.get(f"/api/v1/clues?{query}", headers=screener)
        assert response.status_code == 200, response.json
        return [c["tracking_no"] for c in response.json["items"]]

    assert listed("overdue=true") == [late.tracking_no]
    assert listed("overdue=false") == [fresh.tracking_no]
    assert sorted(listed("")) == sorted([late.tracking_no, fresh.tracking_no])
    assert cast.detail(late.id)["is_overdue"] is True
    assert cast.detail(fresh.id)["is_overdue"] is False
    # Accepting does not end screening (审核交办 runs until assignment); assigning does,
    # and the verification deadline starts fresh.
    cast.step(cast.screener, late.id, "accept", to="accepted")
    assert listed("overdue=true") == [late.tracking_no]
    cast.step(cast.screener, late.id, "assign", to="assigned", unit_id=cast.units["station_a"].id)
    assert listed("overdue=true") == []
