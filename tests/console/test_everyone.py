"""What every staff member does in the console whatever their role: read the inbox (the
unread count on every page, each message opening its object), change their own password,
get HTML pages for unknown addresses; deadlines in working days; the trail names people."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.org.models import Role
from clues.models import Referral
from console.web import due_state
from notifications.inbox import notify_staff
from tests.console.helpers import login_form, sign_in, text
from tests.factories import PASSWORD


def _message(app, cast, *, clue_id=None, title="新交办线索") -> None:
    with app.app_context():
        unit = db.session.merge(cast.units["station_a"])
        notify_staff(
            roles=(Role.VERIFIER,),
            unit=unit,
            kind="assigned",
            title=title,
            dedupe_key=f"test-{title}-{clue_id}",
            clue_id=clue_id,
        )
        db.session.commit()


def test_inbox_counts_unread_and_opens_the_clue(app, cast):
    clue = cast.file()
    _message(app, cast, clue_id=clue.id, title="线索已交办贵单位核查")
    _message(app, cast, title="本周工作提示")
    desk = sign_in(app, cast.verifier)
    landing = text(desk.get("/console/verification"))
    assert 'aria-label="2 条未读"' in landing

    page = text(desk.get("/console/inbox"))
    assert "线索已交办贵单位核查" in page and "本周工作提示" in page
    item_ids = sorted(int(x) for x in re.findall(r"/console/inbox/(\d+)/open", page))
    assert len(item_ids) == 2
    # The older message is about the clue: opening it leads to the clue page.
    opened = desk.post(f"/console/inbox/{item_ids[0]}/open")
    assert opened.status_code == 303
    assert opened.headers["Location"] == f"/console/clues/{clue.id}"
    assert 'aria-label="1 条未读"' in text(desk.get("/console/inbox"))
    assert "线索已交办贵单位核查" not in text(desk.get("/console/inbox?unread=1"))

    desk.post("/console/inbox/read-all")
    assert "条未读" not in text(desk.get("/console/inbox"))
    # Someone else's message does not exist for another account.
    other = sign_in(app, cast.screener)
    assert other.post(f"/console/inbox/{item_ids[0]}/open").status_code == 404


def test_change_own_password(app, cast):
    desk = sign_in(app, cast.analyst)
    new = "NewSecret2026"
    wrong = desk.post("/console/password", current_password="nope", new_password=new, confirm=new)
    assert wrong.status_code == 403 and "原密码不正确" in text(wrong)
    weak = desk.post(
        "/console/password", current_password=PASSWORD, new_password="short", confirm="short"
    )
    assert weak.status_code == 422 and "至少 8 位" in text(weak)
    mismatch = desk.post(
        "/console/password", current_password=PASSWORD, new_password=new, confirm=new + "x"
    )
    assert mismatch.status_code == 422 and "两次输入的新密码不一致" in text(mismatch)

    other_browser = sign_in(app, cast.analyst)
    done = desk.post("/console/password", current_password=PASSWORD, new_password=new, confirm=new)
    assert done.status_code == 303
    assert "密码已修改" in text(desk.get(done.headers["Location"]))  # this session goes on
    assert other_browser.get("/console/dashboard").status_code == 303  # others end
    fresh = app.test_client()
    assert login_form(fresh, cast.analyst.username, PASSWORD).status_code != 303
    assert login_form(fresh, cast.analyst.username, new).status_code == 303


def test_unknown_console_address_is_an_html_page(app, cast):
    anonymous = app.test_client().get("/console/no-such-page")
    assert anonymous.status_code == 404
    assert anonymous.mimetype == "text/html" and "页面不存在" in text(anonymous)
    desk = sign_in(app, cast.screener)
    signed = desk.get("/console/clues/999999/nothing/here")
    assert signed.status_code == 404 and "<nav" in text(signed)  # with the menu
    missing_clue = desk.get("/console/clues/999999")
    assert missing_clue.status_code == 404 and missing_clue.mimetype == "text/html"


def test_dashboard_follows_the_api_rule(app, cast):
    verifier = sign_in(app, cast.verifier)
    assert verifier.get("/console/dashboard").status_code == 403
    assert "统计分析" not in text(verifier.get("/console/verification"))
    api = cast.client.get("/api/v1/stats/overview", headers=cast.as_(cast.verifier))
    assert api.status_code == 403


@pytest.mark.parametrize(
    ("now", "due", "expected"),
    [
        # Friday 2026-12-04 18:00 Beijing; due Thursday → 1 working day late.
        ("2026-12-04T10:00:00+00:00", "2026-12-03T15:59:59+00:00", "已超期 1 个工作日"),
        # Monday 2026-12-07; due Friday 12-04 → the weekend does not count.
        ("2026-12-07T10:00:00+00:00", "2026-12-04T15:59:59+00:00", "已超期 1 个工作日"),
        ("2026-12-04T02:00:00+00:00", "2026-12-08T15:59:59+00:00", "剩 2 个工作日"),
    ],
)
def test_deadlines_in_working_days(app, monkeypatch, now, due, expected):
    import console.web

    monkeypatch.setattr(console.web, "utcnow", lambda: datetime.fromisoformat(now))
    with app.test_request_context():
        assert due_state(datetime.fromisoformat(due)).text == expected


def test_trail_shows_names_not_logins(app, cast):
    clue = cast.file()
    cast.step(cast.screener, clue.id, "accept", to="accepted")
    desk = sign_in(app, cast.superior)
    page = text(desk.get(f"/console/clues/{clue.id}"))
    timeline = page.split("办理记录", 1)[1]
    assert cast.screener.display_name in timeline
    assert cast.screener.username not in timeline


def test_every_page_has_an_icon(app, cast):
    assert 'rel="icon" href="data:image/svg+xml' in text(app.test_client().get("/console/login"))


def test_a_message_opens_the_most_specific_page(app, cast):
    clue = cast.file()
    cast.close_and_refer(clue.id)
    letter_id = cast.supervise("inbox-letter", clue_id=clue.id)
    with app.app_context():
        referral_id = db.session.scalar(sa.select(Referral.id).where(Referral.clue_id == clue.id))
        city = db.session.merge(cast.units["city"])
        station = db.session.merge(cast.units["station_a"])
        notify_staff(
            roles=(Role.LIAISON,),
            unit=city,
            kind="referral",
            title="新移交案件",
            dedupe_key="t-referral",
            clue_id=clue.id,
            referral_id=referral_id,
        )
        notify_staff(
            roles=(Role.VERIFIER,),
            unit=station,
            kind="letter",
            title="督办函",
            dedupe_key="t-letter",
            clue_id=clue.id,
            letter_id=letter_id,
        )
        db.session.commit()
    for account, target in (
        (cast.liaison, f"/console/referrals/{referral_id}"),
        (cast.verifier, f"/console/letters/{letter_id}"),
    ):
        desk = sign_in(app, account)
        page = text(desk.get("/console/inbox"))
        row = page.split("新移交案件" if account is cast.liaison else "督办函</strong>", 1)[1]
        item_id = re.search(r"/console/inbox/(\d+)/open", row).group(1)
        assert desk.post(f"/console/inbox/{item_id}/open").headers["Location"] == target
