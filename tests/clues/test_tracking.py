"""The tracking link: GET /api/v1/track/{secret}, the /t pages and the 查询码 look-up."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa

from app import clock
from app.extensions import db
from clues import service
from clues.tracking import ClueTracking
from tests.clues.factories import REPORT, make_cast
from tests.evaluations.helpers import h5_resident, rate

PHONE = "13912345678"
UNFOUNDED = {
    **REPORT,
    "outcome": "unfounded",
    "findings": "经调取录像，未发现推诿行为",
    "persons_handled": 0,
    "involves_misconduct": False,
}


def _secret(url: str) -> str:
    path = urlsplit(url).path
    assert path.startswith("/t/"), url
    return path[3:]


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_unknown_or_expired_links_answer_in_the_error_shape(app, client):
    missing = client.get("/api/v1/track/" + "A" * 32)
    assert missing.status_code == 404
    assert missing.json["error"] == "not_found" and "没有找到" in missing.json["message"]
    assert "details" in missing.json
    page = client.get("/t/" + "A" * 32)
    assert page.status_code == 404 and "没有找到这条线索" in page.get_data(as_text=True)

    cast = make_cast(app, client)
    filed = cast.report()
    secret = _secret(filed["tracking_url"])
    cast.step(
        cast.screener,
        cast.clue_id(filed["tracking_no"]),
        "reject",
        to="rejected",
        reason="no_substance",
        message="请补充时间地点",
    )
    assert client.get(f"/api/v1/track/{secret}").json["status"] == "rejected"
    clock.set_now(clock.utcnow() + timedelta(days=app.config["TRACKING_LINK_RETENTION_DAYS"] + 1))
    try:
        gone = client.get(f"/api/v1/track/{secret}")
        assert gone.status_code == 410 and gone.json["error"] == "gone"
        assert client.get(f"/t/{secret}").status_code == 410
    finally:
        clock.set_now(None)


def test_the_link_is_random_and_shows_progress_without_the_phone(app, client):
    cast = make_cast(app, client)
    filed = cast.report(identity="confidential", phone=PHONE)
    url = filed["tracking_url"]
    assert url.startswith("http://pingyi.test/t/")
    secret = _secret(url)
    assert len(secret) >= 22 and filed["tracking_no"] not in secret  # ≥128 bits, not derived
    view = client.get(f"/api/v1/track/{secret}")
    assert view.status_code == 200, view.json
    body = view.json
    assert (body["status"], body["status_label"]) == ("submitted", "待审核")
    assert body["promise"]["working_days"] >= 1 and body["promise"]["stage_label"] == "审核受理"
    assert body["next_step"] and body["handled_by"]
    assert [(a["action"], a["enabled"]) for a in body["actions"]] == [
        ("rerate", False),
        ("appeal", False),
    ]
    assert PHONE not in view.get_data(as_text=True)
    # The page shows the same, and nothing internal.
    html = client.get(url.removeprefix("http://pingyi.test")).get_data(as_text=True)
    assert "待审核" in html and PHONE not in html and "查否" not in html
    # Every clue has its own secret and 查询码.
    other = cast.report()
    assert _secret(other["tracking_url"]) != secret


def test_a_merged_follower_sees_the_masters_progress_but_not_its_reply(app, client):
    cast = make_cast(app, client)
    master = cast.file(description="户籍窗口民警李明态度生硬，让群众来回跑")
    follower = h5_resident(client)
    merged = cast.report(description="户籍窗口民警态度生硬，推诿群众", resident=follower)
    merged_id = cast.clue_id(merged["tracking_no"])
    cast.step(cast.screener, merged_id, "merge", to="merged", master_id=master.id)
    for who, action, to, body in cast.path_to_closed(UNFOUNDED):
        cast.step(who, master.id, action, to=to, **body)

    view = client.get(f"/api/v1/track/{_secret(merged['tracking_url'])}").json
    assert view["status"] == "closed" and view["master_tracking_no"] == master.tracking_no
    assert view["outcome_label"] == "未查实"  # in plain words, never 查否
    assert view["reply"] == "" and REPORT["reply_to_reporter"] not in str(view)
    assert "查否" not in str(view)
    # The follower may re-rate the master through the link, by the same rules as the API.
    assert {a["action"]: a["enabled"] for a in view["actions"]} == {
        "rerate": True,
        "appeal": True,
    }


def test_the_tracking_number_and_code_open_the_page_and_misses_say_nothing(app, client):
    app.config["RATE_LIMIT_TRACKING_CODE"] = "4/minute"
    cast = make_cast(app, client)
    filed = cast.report()
    with app.app_context():
        code = db.session.scalars(
            sa.select(ClueTracking.access_code).where(
                ClueTracking.clue_id == cast.clue_id(filed["tracking_no"])
            )
        ).one()
    csrf = _csrf(client.get("/t").get_data(as_text=True))
    typed = f"{code[:4].lower()} {code[4:]}"  # as a resident types it: spaced, lower case
    found = client.post(
        "/t", data={"csrf": csrf, "tracking_no": filed["tracking_no"], "access_code": typed}
    )
    assert found.status_code == 303
    assert found.headers["Location"].endswith("/t/" + _secret(filed["tracking_url"]))

    wrong_code = client.post(
        "/t", data={"csrf": csrf, "tracking_no": filed["tracking_no"], "access_code": "ABCD2345"}
    )
    no_such = client.post(
        "/t", data={"csrf": csrf, "tracking_no": "XQ20990101-1", "access_code": code}
    )
    for miss in (wrong_code, no_such):
        assert miss.status_code == 422
        assert "查询编号或查询码不正确" in miss.get_data(as_text=True)
    empty = client.post("/t", data={"csrf": csrf, "tracking_no": "", "access_code": ""})
    assert "请填写查询编号" in empty.get_data(as_text=True)
    # Guessing is slowed down: the fifth try within the minute is refused.
    limited = client.post("/t", data={"csrf": csrf, "tracking_no": "X", "access_code": "Y"})
    assert limited.status_code == 429 and "操作太频繁" in limited.get_data(as_text=True)


def test_the_page_refuses_what_the_api_refuses(app, client):
    cast = make_cast(app, client)
    filed = cast.report()
    path = "/t/" + _secret(filed["tracking_url"])
    csrf = _csrf(client.get("/t").get_data(as_text=True))  # one session for all of /t
    early = client.post(f"{path}/appeal", data={"csrf": csrf, "reason": "不满意"})
    assert early.status_code == 409 and "只有已办结的线索可以申请复核" in early.get_data(
        as_text=True
    )
    for who, action, to, body in cast.path_to_closed():
        cast.step(who, cast.clue_id(filed["tracking_no"]), action, to=to, **body)
    html = client.get(path).get_data(as_text=True)
    assert "评价办理结果" in html and "申请上级复核" in html and REPORT["reply_to_reporter"] in html
    incomplete = client.post(f"{path}/rerating", data={"csrf": csrf, "level": "2"})
    assert incomplete.status_code == 422
    assert 'id="rerate-resolved-error">请填写此项' in incomplete.get_data(as_text=True)
    done = client.post(f"{path}/rerating", data={"csrf": csrf, "level": "5", "resolved": "1"})
    assert done.status_code == 303
    again = client.post(f"{path}/rerating", data={"csrf": csrf, "level": "1", "resolved": "0"})
    assert again.status_code == 409 and "您已回评过" in again.get_data(as_text=True)
    # Satisfied: no appeal, the same rule as POST /me/clues/{no}/appeal.
    view = client.get(f"/api/v1/track/{_secret(filed['tracking_url'])}").json
    assert view["rerating"]["status"] == "rated"
    assert {a["action"]: a["enabled"] for a in view["actions"]} == {
        "rerate": False,
        "appeal": False,
    }


def test_a_12345_clue_shows_the_platforms_case_number_and_result(app, client):
    cast = make_cast(app, client)
    filed = cast.report(category="livelihood", description="小区门口路灯坏了一个月没人修")
    clue_id = cast.clue_id(filed["tracking_no"])
    cast.step(cast.screener, clue_id, "forward_12345", to="forwarded")
    with app.app_context():
        clue = service.get_clue(clue_id)
        clue.hotline_case_no = "12345-000042"
        db.session.commit()
    view = client.get(f"/api/v1/track/{_secret(filed['tracking_url'])}").json
    assert (view["status_label"], view["hotline_case_no"]) == ("已转 12345", "12345-000042")
    assert "12345" in view["handled_by"] and "12345" in view["next_step"]
    assert view["promise"]["stage_label"] == "12345 热线办理" and view["promise"]["working_days"]
    with app.app_context():
        service.close_forwarded(service.get_clue(clue_id), result="已联系路灯所，当天修复")
        db.session.commit()
    view = client.get(f"/api/v1/track/{_secret(filed['tracking_url'])}").json
    assert view["status"] == "closed" and view["hotline_result"] == "已联系路灯所，当天修复"
    html = client.get("/t/" + _secret(filed["tracking_url"])).get_data(as_text=True)
    assert "12345-000042" in html and "12345 办理结果：已联系路灯所，当天修复" in html


def test_a_rating_that_carries_a_clue_returns_its_link(app, client):
    cast = make_cast(app, client)
    clue = {"category": "conduct", "description": "窗口民警对群众大声呵斥", "identity": "anonymous"}
    answer = rate(client, h5_resident(client), cast.code.token, level=1, clue=clue)
    assert answer.status_code == 201, answer.json
    url = answer.json["clue"]["tracking_url"]
    view = client.get(f"/api/v1/track/{_secret(url)}").json
    assert view["tracking_no"] == answer.json["clue"]["tracking_no"]
    assert view["status_label"] == "待审核" and view["description"] == clue["description"]
    assert rate(client, h5_resident(client), cast.code.token).json["clue"] is None
