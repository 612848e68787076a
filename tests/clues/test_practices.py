"""The seed cities' practices through the API: 差评整改 of bad ratings without a clue, return
visits (回访) with the reporter's phone only for those who may read it, 约谈 records and
their follow-up, the public summary, and the new intake sources."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
import sqlalchemy as sa

from app import clock
from app.audit import AuditLog
from app.clock import LOCAL_TZ
from app.deadlines import DeadlineKind, DeadlineNotice
from app.extensions import db
from app.jobs import run_job
from app.org.models import Role
from notifications.models import InboxItem
from tests.clues.factories import Cast, make_cast
from tests.evaluations.helpers import h5_resident, rate
from tests.factories import make_staff

PHONE = "13912345678"


@pytest.fixture
def at() -> Iterator:
    def move(*fields: int) -> datetime:
        moment = datetime(*fields, tzinfo=LOCAL_TZ)
        clock.set_now(moment)
        return moment

    try:
        yield move
    finally:
        clock.set_now(None)


@pytest.fixture
def cast(app, client, at) -> Cast:
    at(2026, 11, 2, 9, 0)  # a Monday
    return make_cast(app, client)


def _bad_rating(cast: Cast, level: int = 1, comment: str = "窗口排队太久，态度生硬") -> None:
    response = rate(cast.client, h5_resident(cast.client), cast.code.token, level, comment=comment)
    assert response.status_code == 201, response.json


def _bad_ratings(cast: Cast, who=None, **query) -> dict:
    response = cast.client.get(
        "/api/v1/bad-ratings", headers=cast.as_(who or cast.verifier), query_string=query
    )
    assert response.status_code == 200, response.json
    return response.json


# ---------------------------------------------------------------- 差评整改


def test_a_bad_rating_without_a_clue_goes_to_its_unit_with_a_deadline(app, cast, at):
    _bad_rating(cast)
    rate(cast.client, h5_resident(cast.client), cast.code.token, 5)  # not bad: not listed
    with_clue = {
        "category": "buck_passing",
        "description": "推诿扯皮，来回跑了三趟",
        "identity": "anonymous",
    }
    assert (
        rate(cast.client, h5_resident(cast.client), cast.code.token, 2, clue=with_clue).status_code
        == 201
    )
    with app.app_context():
        assert run_job("bad_rating_intake") == {"opened": 1}
        assert run_job("bad_rating_intake") == {"opened": 0}  # once per rating
    (item,) = _bad_ratings(cast)["items"]
    assert item["level"] == 1 and item["status"] == "open" and item["status_label"] == "待整改"
    assert item["rated_on"] == "2026-11-02"  # the date, not the minute
    # 5 working days from Monday 2 Nov: the end of Monday 9 Nov, Beijing time.
    assert item["due_at"].startswith("2026-11-09T15:59:59")
    assert _bad_ratings(cast, status="rectified")["items"] == []
    # Another district's staff do not see it.
    other = _bad_ratings(cast, cast.superior)
    assert other["total"] == 1


def test_the_intake_job_looks_back_thirty_days_only(app, cast, at):
    _bad_rating(cast)  # Monday 2 November
    at(2026, 12, 10, 9, 0)
    with app.app_context():
        assert run_job("bad_rating_intake") == {"opened": 0}
    assert _bad_ratings(cast)["items"] == []


def test_rectify_records_measures_and_the_call_back_once(app, cast, at):
    _bad_rating(cast)
    with app.app_context():
        run_job("bad_rating_intake")
    (item,) = _bad_ratings(cast)["items"]
    url = f"/api/v1/bad-ratings/{item['id']}/rectify"
    body = {"measures": "已约谈窗口民警，增设叫号机", "callback_result": "basically_satisfied"}
    at(2026, 11, 4, 10, 0)
    done = cast.client.post(url, headers=cast.as_(cast.verifier), json=body)
    assert done.status_code == 200, done.json
    assert done.json["status"] == "rectified" and done.json["on_time"] is True
    assert done.json["callback_result_label"] == "基本满意"
    again = cast.client.post(url, headers=cast.as_(cast.verifier), json=body)
    assert again.status_code == 409 and again.json["error"] == "already_rectified"
    assert _bad_ratings(cast, status="open")["items"] == []


def test_rectify_refuses_bad_input_other_roles_and_units(app, cast, client):
    _bad_rating(cast)
    with app.app_context():
        run_job("bad_rating_intake")
    (item,) = _bad_ratings(cast)["items"]
    url = f"/api/v1/bad-ratings/{item['id']}/rectify"
    wrong = client.post(
        url, headers=cast.as_(cast.verifier), json={"measures": "", "callback_result": "ok"}
    )
    assert wrong.status_code == 422
    assert set(wrong.json["details"]["fields"]) == {"measures", "callback_result"}
    body = {"measures": "已整改", "callback_result": "satisfied"}
    assert client.post(url, headers=cast.as_(cast.analyst), json=body).status_code == 403
    outsider = make_staff(app, Role.VERIFIER, cast.units["station_b"])
    refused = client.post(url, headers=cast.as_(outsider), json=body)
    assert refused.status_code == 403 and refused.json["error"] == "out_of_scope"
    assert (
        client.post(
            "/api/v1/bad-ratings/999999/rectify", headers=cast.as_(cast.verifier), json=body
        ).status_code
        == 404
    )


def test_an_overdue_rectification_is_swept_like_a_stage(app, cast, at):
    _bad_rating(cast)
    with app.app_context():
        run_job("bad_rating_intake")
    at(2026, 11, 10, 9, 0)  # Tuesday: the first working day after the deadline
    with app.app_context():
        run_job("deadline_sweep")
        run_job("deadline_sweep")
        levels = db.session.scalars(
            sa.select(DeadlineNotice.level).where(DeadlineNotice.kind == DeadlineKind.BAD_RATING)
        ).all()
    assert 0 in levels and len(levels) == len(set(levels))


# ---------------------------------------------------------------- 回访


def _closed_confidential(cast: Cast) -> int:
    clue = cast.file(identity="confidential", phone=PHONE)
    for who, action, to, body in cast.path_to_closed():
        cast.step(who, clue.id, action, to=to, **body)
    return clue.id


def test_a_closed_clue_not_rerated_asks_the_screeners_for_a_callback(app, cast, at):
    clue_id = _closed_confidential(cast)
    url = f"/api/v1/clues/{clue_id}/callbacks"
    listed = cast.client.get(url, headers=cast.as_(cast.screener))
    assert listed.json["due"] is False  # the re-rating window is still open
    at(2026, 11, 12, 9, 0)
    with app.app_context():
        run_job("rerating_sweep")
        first = run_job("callback_requests")
        again = run_job("callback_requests")
        asked = db.session.scalars(
            sa.select(InboxItem.staff_id).where(InboxItem.kind == "callback_due")
        ).all()
    assert first["clues"] == 1 and again["clues"] == 0
    assert asked == [cast.screener.id]
    listed = cast.client.get(url, headers=cast.as_(cast.screener))
    assert listed.json["due"] is True and listed.json["reporter_phone"] is None
    assert listed.json["can_read_reporter"] is True
    made = cast.client.post(
        url, headers=cast.as_(cast.screener), json={"result": "satisfied", "note": "已电话回访"}
    )
    assert made.status_code == 201, made.json
    assert [c["result_label"] for c in made.json["items"]] == ["满意"]
    with app.app_context():
        assert run_job("callback_requests")["clues"] == 0  # done: nothing more to ask


def test_the_phone_for_a_callback_only_with_a_reason_and_audited(app, cast, at):
    clue_id = _closed_confidential(cast)
    url = f"/api/v1/clues/{clue_id}/callbacks"
    read = cast.client.get(url, headers=cast.as_(cast.screener), query_string={"reason": "回访"})
    assert read.status_code == 200 and read.json["reporter_phone"] == PHONE
    with app.app_context():
        audited = db.session.scalars(
            sa.select(AuditLog.action).where(AuditLog.action == "clue.reporter_read")
        ).all()
    assert audited == ["clue.reporter_read"]
    # The superior records callbacks but may not learn who reported.
    superior = cast.client.get(
        url, headers=cast.as_(cast.superior), query_string={"reason": "回访"}
    )
    assert superior.status_code == 200
    assert superior.json["reporter_phone"] is None and superior.json["can_read_reporter"] is False
    # The station's verifier has no access to callbacks at all.
    assert cast.client.get(url, headers=cast.as_(cast.verifier)).status_code == 403


def test_callbacks_only_after_closure_and_with_a_known_result(app, cast):
    clue = cast.file(identity="confidential", phone=PHONE)
    url = f"/api/v1/clues/{clue.id}/callbacks"
    early = cast.client.post(url, headers=cast.as_(cast.screener), json={"result": "satisfied"})
    assert early.status_code == 409 and early.json["error"] == "not_closed"
    bad = cast.client.post(url, headers=cast.as_(cast.screener), json={"result": "满意"})
    assert bad.status_code == 422 and "result" in bad.json["details"]["fields"]


# ---------------------------------------------------------------- 约谈


def test_an_interview_is_recorded_followed_up_and_swept(app, cast, at):
    body = {
        "unit_id": cast.units["station_a"].id,
        "held_on": "2026-11-02",
        "interviewer": "区委政法委副书记 王强",
        "interviewee": "甲区派出所所长 赵刚",
        "reason": "按期办结率 60%，低于 80%",
        "commitments": "一个月内清理逾期线索，建立每周调度",
        "follow_up_due_on": "2026-11-06",
    }
    made = cast.client.post("/api/v1/interviews", headers=cast.as_(cast.superior), json=body)
    assert made.status_code == 201, made.json
    assert made.json["follow_up_due_at"].startswith("2026-11-06T15:59:59")
    listed = cast.client.get(
        "/api/v1/interviews", headers=cast.as_(cast.superior), query_string={"open": "true"}
    )
    assert [i["id"] for i in listed.json["items"]] == [made.json["id"]]
    assert cast.client.get("/api/v1/interviews", headers=cast.as_(cast.verifier)).status_code == 403
    at(2026, 11, 9, 9, 0)  # the first working day after the follow-up date
    with app.app_context():
        run_job("deadline_sweep")
        levels = db.session.scalars(
            sa.select(DeadlineNotice.level).where(DeadlineNotice.kind == DeadlineKind.INTERVIEW)
        ).all()
    assert 0 in levels
    url = f"/api/v1/interviews/{made.json['id']}/follow-up"
    done = cast.client.post(url, headers=cast.as_(cast.superior), json={"note": "逾期线索已清零"})
    assert done.status_code == 200 and done.json["followed_up_at"] and not done.json["is_overdue"]
    assert (
        cast.client.post(url, headers=cast.as_(cast.superior), json={"note": "再次"}).status_code
        == 409
    )


def test_an_interview_outside_scope_or_with_a_bad_date_is_refused(app, cast):
    body = {
        "unit_id": cast.units["station_b"].id,
        "held_on": "2026-11-02",
        "interviewer": "王强",
        "interviewee": "赵刚",
        "commitments": "整改",
    }
    outside = cast.client.post("/api/v1/interviews", headers=cast.as_(cast.superior), json=body)
    assert outside.status_code == 403
    body["unit_id"] = cast.units["station_a"].id
    body["follow_up_due_on"] = "2026-11-01"
    early = cast.client.post("/api/v1/interviews", headers=cast.as_(cast.superior), json=body)
    assert early.status_code == 422 and "follow_up_due_on" in early.json["details"]["fields"]
    body.pop("follow_up_due_on")
    body["held_on"] = "2026-12-30"
    future = cast.client.post("/api/v1/interviews", headers=cast.as_(cast.superior), json=body)
    assert future.status_code == 422 and "held_on" in future.json["details"]["fields"]


# ---------------------------------------------------------------- public summary


def test_only_a_screener_approves_a_public_summary_of_a_closed_clue(app, cast):
    clue_id = _closed_confidential(cast)
    url = f"/api/v1/clues/{clue_id}/public-summary"
    text = {"text": "经核查属实，已对相关人员批评教育并整改"}
    assert cast.client.put(url, headers=cast.as_(cast.superior), json=text).status_code == 403
    approved = cast.client.put(url, headers=cast.as_(cast.screener), json=text)
    assert approved.status_code == 200 and approved.json["text"] == text["text"]
    open_clue = cast.file()
    early = cast.client.put(
        f"/api/v1/clues/{open_clue.id}/public-summary", headers=cast.as_(cast.screener), json=text
    )
    assert early.status_code == 409


# ---------------------------------------------------------------- intake: 信访, 网格员


def _register(cast: Cast, **body):
    payload = {
        "source": "petition",
        "category": "conduct",
        "unit_id": cast.units["station_a"].id,
        "description": "信访人反映派出所民警接警后迟迟不出警",
        **body,
    }
    return cast.client.post("/api/v1/clues", headers=cast.as_(cast.screener), json=payload)


def test_staff_register_petition_and_grid_clues_with_the_reporters_phone(app, cast, at):
    petition = _register(cast, phone=PHONE)
    assert petition.status_code == 201, petition.json
    assert petition.json["source"] == "petition"
    grid = _register(cast, source="grid", description="网格员走访发现：窗口长期无人值守")
    assert grid.status_code == 201 and grid.json["source"] == "grid"
    reporter = cast.client.get(
        f"/api/v1/clues/{petition.json['id']}/reporter",
        headers=cast.as_(cast.screener),
        query_string={"reason": "回访"},
    )
    assert reporter.json["identity"] == "confidential" and reporter.json["phone"] == PHONE
    refused = _register(cast, source="direct")
    assert refused.status_code == 422 and "source" in refused.json["details"]["fields"]
    no_phone = _register(cast, sms_consent=True)
    assert no_phone.status_code == 422


def test_a_registered_clue_with_a_phone_gets_a_callback_at_closure_unless_it_consented(
    app, cast, at
):
    plain = _register(cast, phone=PHONE, category="buck_passing").json["id"]
    consented = _register(cast, phone=PHONE, sms_consent=True, category="buck_passing").json["id"]
    for clue_id in (plain, consented):
        for who, action, to, body in cast.path_to_closed():
            cast.step(who, clue_id, action, to=to, **body)
    due = {
        clue_id: cast.client.get(
            f"/api/v1/clues/{clue_id}/callbacks", headers=cast.as_(cast.screener)
        ).json["due"]
        for clue_id in (plain, consented)
    }
    # No way to re-rate without SMS: the call back is due at once; the consenting reporter
    # gets the re-rating invitation by SMS and a call back only if the window passes.
    assert due == {plain: True, consented: False}
    at(2026, 11, 20, 9, 0)
    later = cast.client.get(f"/api/v1/clues/{consented}/callbacks", headers=cast.as_(cast.screener))
    assert later.json["due"] is True
