"""Where clues come from and what is worked out when one arrives: the rating that carries it
or a direct report, its tracking number, high-frequency warnings and duplicate suggestions."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from app import clock
from app.clock import LOCAL_TZ
from app.errors import ApiError
from tests.clues.factories import make_cast
from tests.evaluations.helpers import h5_resident, rate
from tests.factories import make_officer
from tests.qr.factories import make_code

CLUE = {
    "category": "conduct",
    "identity": "anonymous",
    "description": "户籍窗口民警让我来回跑了三趟，材料一次没说清楚",
}


@pytest.fixture
def at() -> Iterator:
    """Freeze the clock at a Beijing time; the real clock comes back afterwards."""
    yield lambda *args: clock.set_now(datetime(*args, tzinfo=LOCAL_TZ))
    clock.set_now(None)


# ---------------------------------------------------------------- sources


def test_a_rating_with_a_clue_files_it_about_the_officer_of_the_code(app, client):
    cast = make_cast(app, client)
    officer_code = make_code(
        app, cast.units["station_a"], officer=cast.officer, label="户籍窗口 2 号"
    )
    rated = rate(client, cast.resident, officer_code.token, level=1, clue=CLUE)
    assert rated.status_code == 201, rated.json
    summary = rated.json["clue"]
    assert summary["tracking_no"].startswith("XQ") and summary["status"] == "submitted"
    assert summary["due_at"]

    clue = cast.detail(cast.clue_id(summary["tracking_no"]))
    assert clue["source"] == "evaluation"
    assert clue["unit"]["id"] == cast.units["station_a"].id
    assert clue["officer"]["id"] == cast.officer.id
    assert clue["description"] == CLUE["description"] and clue["status"] == "submitted"
    mine = client.get("/api/v1/me/clues", headers=cast.resident).json["items"]
    assert [c["tracking_no"] for c in mine] == [summary["tracking_no"]]


def test_a_rating_without_a_clue_files_none(app, client):
    cast = make_cast(app, client)
    rated = rate(client, cast.resident, cast.code.token, level=2, comment="等太久")
    assert rated.status_code == 201 and rated.json["clue"] is None
    assert client.get("/api/v1/me/clues", headers=cast.resident).json["items"] == []


def test_a_rating_whose_clue_cannot_be_filed_is_not_kept(app, client, monkeypatch):
    """The rating and its clue are one transaction (a plain rating alone may skip it): when
    the clue fails after the rating was written, the resident can send both again."""
    cast = make_cast(app, client)

    def fails_after_the_rating(**_kwargs):
        raise ApiError(503, "unavailable", "服务繁忙，请稍后重试")

    monkeypatch.setattr("clues.intake.file_clue", fails_after_the_rating)
    assert rate(client, cast.resident, cast.code.token, level=1, clue=CLUE).status_code == 503
    monkeypatch.undo()
    again = rate(client, cast.resident, cast.code.token, level=1, clue=CLUE)
    assert again.status_code == 201, again.json  # not 409 "already rated"
    assert again.json["clue"] is not None


def test_a_clue_about_an_officer_of_another_unit_is_refused(app, client):
    cast = make_cast(app, client)
    elsewhere = make_officer(app, cast.units["station_b"], name="王五")
    rated = rate(
        client, cast.resident, cast.code.token, level=1, clue={**CLUE, "officer_id": elsewhere.id}
    )
    assert rated.status_code == 422, rated.json
    assert rated.json["error"] == "validation_error"
    assert client.get("/api/v1/clues", headers=cast.as_(cast.screener)).json["total"] == 0


def test_a_direct_report_through_a_code(app, client):
    cast = make_cast(app, client)
    response = client.post(
        "/api/v1/me/clues",
        headers=cast.resident,
        json={**CLUE, "qr_token": cast.code.token, "officer_id": cast.officer.id},
    )
    assert response.status_code == 201, response.json
    assert set(response.json) == {"tracking_no", "status", "due_at", "tracking_url"}
    assert response.json["tracking_url"].startswith("http://pingyi.test/t/")
    clue = cast.detail(cast.clue_id(response.json["tracking_no"]))
    assert (clue["source"], clue["unit"]["id"], clue["officer"]["id"]) == (
        "direct",
        cast.units["station_a"].id,
        cast.officer.id,
    )
    mine = cast.mine(response.json["tracking_no"]).json
    assert mine["status_label"] == "待审核" and mine["unit_name"] == "甲区派出所"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({**CLUE, "identity": "confidential"}, None, id="confidential-without-phone"),
        pytest.param({**CLUE, "phone": "13800138000"}, None, id="anonymous-with-phone"),
        pytest.param({**CLUE, "description": "差"}, "description", id="too-short"),
        pytest.param({**CLUE, "category": "weather"}, "category", id="unknown-category"),
    ],
)
def test_a_direct_report_is_validated(app, client, body, field):
    cast = make_cast(app, client)
    response = client.post(
        "/api/v1/me/clues", headers=cast.resident, json={**body, "qr_token": cast.code.token}
    )
    assert response.status_code == 422, response.json
    assert response.json["error"] == "validation_error" and response.json["message"]
    if field:
        assert field in response.json["details"]["fields"]


def test_a_direct_report_needs_a_resident(app, client):
    cast = make_cast(app, client)
    response = client.post("/api/v1/me/clues", json={**CLUE, "qr_token": cast.code.token})
    assert response.status_code == 401


# ---------------------------------------------------------------- tracking numbers


def test_tracking_numbers_count_per_beijing_day(app, client, at):
    at(2026, 3, 2, 10, 0)
    cast = make_cast(app, client)
    first, second = cast.report()["tracking_no"], cast.report()["tracking_no"]
    clock.set_now(datetime(2026, 3, 2, 23, 59, 59, tzinfo=LOCAL_TZ))
    third = cast.report()["tracking_no"]
    # 00:30 in Beijing is still the previous day in UTC: the Beijing day counts.
    clock.set_now(datetime(2026, 3, 3, 0, 30, tzinfo=LOCAL_TZ))
    next_day = cast.report()["tracking_no"]
    registered = client.post(
        "/api/v1/clues",
        headers=cast.as_(cast.screener),
        json={
            "source": "survey",
            "category": "conduct",
            "unit_id": cast.units["station_a"].id,
            "description": "民意测评中群众反映窗口服务态度差",
        },
    )
    assert registered.status_code == 201, registered.json
    assert [first, second, third, next_day, registered.json["tracking_no"]] == [
        "XQ20260302-0001",
        "XQ20260302-0002",
        "XQ20260302-0003",
        "XQ20260303-0001",
        "XQ20260303-0002",
    ]


def test_tracking_numbers_stay_unique_when_residents_report_at_once(app, client):
    cast = make_cast(app, client)
    residents = [h5_resident(client) for _ in range(4)]
    barrier = threading.Barrier(len(residents))
    answers: list = []

    def report(headers: dict[str, str]) -> None:
        own = app.test_client()
        barrier.wait()
        answers.append(
            own.post(
                "/api/v1/me/clues", headers=headers, json={**CLUE, "qr_token": cast.code.token}
            )
        )

    threads = [threading.Thread(target=report, args=(r,)) for r in residents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [a.status_code for a in answers] == [201] * 4, [a.json for a in answers]
    numbers = sorted(a.json["tracking_no"].rsplit("-", 1)[1] for a in answers)
    assert numbers == ["0001", "0002", "0003", "0004"]


# ---------------------------------------------------------------- high-frequency warnings


def _kinds(detail: dict) -> list[str]:
    return sorted(w["kind"] for w in detail["warnings"])


def test_three_residents_reporting_one_officer_within_30_days_raise_a_warning(app, client, at):
    at(2026, 3, 2, 10, 0)
    cast = make_cast(app, client)
    clues = []
    for day in (0, 12, 29):  # the third arrives on day 29: all three inside the window
        clock.set_now(datetime(2026, 3, 2, 10, 0, tzinfo=LOCAL_TZ) + timedelta(days=day))
        clues.append(cast.file(resident=h5_resident(client)))
    first, second, third = (cast.detail(c.id) for c in clues)
    assert first["warnings"] == [] and second["warnings"] == []
    assert _kinds(third) == ["officer_reported", "unit_reported"]
    officer_warning = next(w for w in third["warnings"] if w["kind"] == "officer_reported")
    assert (
        officer_warning["count"],
        officer_warning["window_days"],
        officer_warning["officer_id"],
    ) == (3, 30, cast.officer.id)

    # A fourth reporter: the target is already under warning, no new one.
    fourth = cast.file(resident=h5_resident(client))
    assert cast.detail(fourth.id)["warnings"] == []

    # The verifier who gets the clue does not see the warning (it is about who reports).
    cast.step(cast.screener, clues[2].id, "accept", to="accepted")
    cast.step(
        cast.screener, clues[2].id, "assign", to="assigned", unit_id=cast.units["station_a"].id
    )
    assert cast.detail(clues[2].id, cast.verifier)["warnings"] == []
    assert cast.detail(clues[2].id, cast.superior)["warnings"] == []
    assert _kinds(cast.detail(clues[2].id, cast.admin)) == ["officer_reported", "unit_reported"]


def test_reports_spread_over_more_than_30_days_raise_no_warning(app, client, at):
    at(2026, 3, 2, 10, 0)
    cast = make_cast(app, client)
    clues = []
    for day in (0, 15, 31):
        clock.set_now(datetime(2026, 3, 2, 10, 0, tzinfo=LOCAL_TZ) + timedelta(days=day))
        clues.append(cast.file(resident=h5_resident(client)))
    assert [cast.detail(c.id)["warnings"] for c in clues] == [[], [], []]


def test_one_resident_reporting_the_same_officer_again_and_again(app, client):
    cast = make_cast(app, client)
    clues = [cast.file(description=f"第{n}次反映：户籍窗口民警推诿") for n in range(1, 5)]
    assert [_kinds(cast.detail(c.id)) for c in clues] == [[], [], ["repeat"], []]
    repeat = cast.detail(clues[2].id)["warnings"][0]
    assert (repeat["count"], repeat["officer_id"]) == (3, cast.officer.id)


# ---------------------------------------------------------------- duplicate suggestions


def test_duplicate_suggestions_at_screening(app, client):
    cast = make_cast(app, client)
    other_officer = make_officer(app, cast.units["station_a"], name="赵六")
    other_code = make_code(app, cast.units["station_a"], officer=other_officer)
    similar = cast.file(
        description="户籍窗口民警李明态度生硬，推诿让我来回跑了好几趟", resident=h5_resident(client)
    )
    cast.file(
        description="派出所门口停车收费不合理，没有公示收费标准", resident=h5_resident(client)
    )
    handled = cast.file(
        description="户籍窗口民警态度生硬，推诿让我来回跑了三趟", resident=h5_resident(client)
    )
    cast.step(
        cast.screener,
        handled.id,
        "reject",
        to="rejected",
        reason="already_handled",
        message="已处理",
    )
    about_other = client.post(
        "/api/v1/me/clues",
        headers=h5_resident(client),
        json={
            **CLUE,
            "qr_token": other_code.token,
            "description": "户籍窗口民警态度生硬，推诿让我来回跑了三趟",
        },
    )
    assert about_other.status_code == 201
    clue = cast.file(description="户籍窗口民警态度生硬，推诿让我来回跑了三趟")

    response = client.get(f"/api/v1/clues/{clue.id}/duplicates", headers=cast.as_(cast.screener))
    assert response.status_code == 200, response.json
    suggested = response.json["items"]
    assert [s["tracking_no"] for s in suggested] == [similar.tracking_no]
    assert suggested[0]["same_officer"] is True and 0.2 <= suggested[0]["score"] <= 1
    assert suggested[0]["status"] == "submitted"

    verifier = client.get(f"/api/v1/clues/{clue.id}/duplicates", headers=cast.as_(cast.verifier))
    assert verifier.status_code == 403
