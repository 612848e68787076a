"""The console in real headless Chromium against gunicorn: the screener accepts and assigns
a clue, the verifier starts and files the report, the superior approves, and the dashboard
draws its charts. Screenshots go to test-output/console-*.png."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.auth import SYSTEM, set_actor
from app.clock import set_now, utcnow
from app.extensions import db
from clues.intake import submit_rating
from clues.models import Clue
from evaluations.identity import h5_sign_in, identity_of
from evaluations.schemas import EvaluationIn
from tests.clues.factories import REPORT
from tests.conftest import service_missing
from tests.factories import PASSWORD
from tests.fixtures.servers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    OUTPUT,
    chromium_available,
    gunicorn_server,
)
from tests.qr.factories import make_code

pytestmark = pytest.mark.browser

HOOKS = str(Path(__file__).with_name("gunicorn_console.py"))


@pytest.fixture
def browser():
    reason = chromium_available()
    if reason:
        service_missing(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def seed_ratings(app, cast) -> None:
    """Twelve weeks of ratings for three units, so the trends and the ranking have a shape."""
    codes = [
        cast.code,
        make_code(app, cast.units["court_a"]),
        make_code(app, cast.units["station_b"]),
    ]
    rng = random.Random(7)
    now = utcnow()
    try:
        with app.app_context():
            set_actor(SYSTEM)
            for week in range(12, -1, -1):
                for index, code in enumerate(codes):
                    for n in range(4 + rng.randrange(4)):
                        set_now(now - timedelta(weeks=week, hours=n + 1))
                        good = 0.55 + 0.1 * index + 0.02 * (12 - week)
                        level = rng.choice((4, 5)) if rng.random() < good else rng.choice((1, 2, 3))
                        submit_rating(
                            resident=identity_of(h5_sign_in()),
                            body=EvaluationIn(qr_token=code.token, level=level),
                            client_addr=f"10.{week}.{index}.{n}",
                        )
            db.session.commit()
    finally:
        set_now(None)


def sign_in(page, base: str, account) -> None:
    page.goto(f"{base}/console/login")
    page.get_by_label("用户名").fill(account.username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()


def test_screen_verify_approve_and_dashboard(app, cast, browser, database, database_url):
    app.config["RANKING_MIN_EVALUATIONS"] = 5
    seed_ratings(app, cast)
    for status in ("closed", "verifying", "rejected"):
        cast.drive(status)
    clue = cast.file(
        description="户籍窗口民警以材料不全为由三次让我回去补材料，每次说法不一样，"
        "<script>alert(1)</script>"
    )
    kind = database.kind
    OUTPUT.mkdir(exist_ok=True)
    with gunicorn_server(
        database_url, log_name=f"console-browser-{kind}", extra_args=["--config", HOOKS]
    ) as base:
        desk = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
        page = desk.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

        # The screener: the queue, the clue, accept, assign.
        sign_in(page, base, cast.screener)
        assert page.url.endswith("/console/queue")
        assert page.get_by_role("heading", name="审核队列").is_visible()
        page.screenshot(path=str(OUTPUT / f"console-queue-{kind}.png"), full_page=True)
        page.get_by_role("link", name=clue.tracking_no).first.click()
        assert page.locator("#description").inner_text().endswith("<script>alert(1)</script>")
        page.get_by_role("button", name="受理", exact=True).click()
        page.locator("p.flash.ok", has_text="已受理，请交办核查单位。").wait_for()
        page.get_by_label("核查单位").select_option(str(cast.units["station_a"].id))
        page.get_by_label("核查期限（工作日，可不填）").fill("10")
        page.get_by_role("button", name="交办", exact=True).click()
        page.locator("p.flash.ok", has_text="已交办。").wait_for()
        assert "已交办" in page.locator("h1 .badge").inner_text()
        page.screenshot(path=str(OUTPUT / f"console-clue-assigned-{kind}.png"), full_page=True)
        desk.close()

        # The verifier: the list coloured by time left, start, the report.
        desk = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
        page = desk.new_page()
        sign_in(page, base, cast.verifier)
        assert page.url.endswith("/console/verification")
        row = page.locator("tr", has_text=clue.tracking_no)
        assert row.locator(".due.ok").inner_text().startswith("剩 ")
        page.screenshot(path=str(OUTPUT / f"console-verification-{kind}.png"), full_page=True)
        row.get_by_role("link", name=clue.tracking_no).click()
        page.get_by_role("button", name="开始核查").click()
        page.locator("p.flash.ok", has_text="已开始核查。").wait_for()
        page.get_by_label("核查结论").select_option(label="查实")
        page.get_by_label("核查情况").fill(REPORT["findings"])
        page.get_by_label("处理措施").fill(REPORT["measures"])
        page.get_by_label("组织处理人数").fill("1")
        page.get_by_label("涉及违纪违规（可移交纪检）").check()
        page.get_by_label("答复反映人（办结后反映人可见）").fill(REPORT["reply_to_reporter"])
        page.get_by_role("button", name="提交核查报告").click()
        page.locator("p.flash.ok", has_text="核查报告已提交上级审核。").wait_for()
        desk.close()

        # The superior: the review queue, approve.
        desk = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
        page = desk.new_page()
        sign_in(page, base, cast.superior)
        assert page.url.endswith("/console/review")
        assert page.locator("tr", has_text=clue.tracking_no).is_visible()
        page.screenshot(path=str(OUTPUT / f"console-review-{kind}.png"), full_page=True)
        page.get_by_role("link", name=clue.tracking_no).click()
        page.get_by_role("button", name="审核通过").click()
        page.locator("p.flash.ok", has_text="已审核通过，线索办结，已邀请反映人回评。").wait_for()
        assert "已办结" in page.locator("h1 .badge").inner_text()
        page.screenshot(path=str(OUTPUT / f"console-clue-closed-{kind}.png"), full_page=True)

        # The dashboard draws its six charts.
        page.get_by_role("link", name="统计分析").click()
        page.wait_for_load_state()
        assert page.locator("svg.chart").count() == 6
        assert page.locator("#trend-satisfaction polyline.series").count() >= 1
        assert page.locator("#funnel rect.step").count() == 4
        assert page.locator("#ranking-satisfaction rect.bar").count() >= 2
        box = page.locator("#trend-satisfaction svg").bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100
        page.screenshot(path=str(OUTPUT / f"console-dashboard-{kind}.png"), full_page=True)

        # A phone can use it too.
        phone = browser.new_context(
            viewport={"width": 390, "height": 844},
            device_scale_factor=2,
            is_mobile=True,
            locale="zh-CN",
        )
        mobile = phone.new_page()
        sign_in(mobile, base, cast.screener)
        mobile.goto(f"{base}/console/clues/{clue.id}")
        assert mobile.get_by_role("heading", name=f"线索 {clue.tracking_no}").is_visible()
        mobile.screenshot(path=str(OUTPUT / f"console-clue-phone-{kind}.png"), full_page=True)
        phone.close()
        desk.close()
        assert dialogs == []  # no script ran: the description's <script> stayed text
    with app.app_context():
        row = db.session.get(Clue, clue.id)
        assert (row.status.value, row.outcome.value, row.persons_handled) == (
            "closed",
            "substantiated",
            1,
        )
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Clue)) == 4
