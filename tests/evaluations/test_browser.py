"""The H5 page in real headless Chromium at a phone viewport: rate, attach a clue, see the
receipt. Screenshots go to test-output/."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from clues.models import Clue
from evaluations.models import Evaluation
from tests.conftest import service_missing
from tests.factories import make_city, make_officer
from tests.fixtures.servers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    OUTPUT,
    chromium_available,
    gunicorn_server,
)
from tests.qr.factories import make_code

pytestmark = pytest.mark.browser


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


def test_rate_with_a_clue_on_a_phone(app, database_url, browser, database):
    city = make_city(app)
    officer = make_officer(
        app, city["station_a"], name="李明", staff_no="031001", position="户籍民警"
    )
    code = make_code(app, city["station_a"], officer=officer, label="户籍窗口 2 号")
    OUTPUT.mkdir(exist_ok=True)
    with gunicorn_server(database_url, log_name=f"browser-{database.kind}") as base:
        page = browser.new_page(
            viewport={"width": 390, "height": 844},
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            locale="zh-CN",
        )
        page.goto(f"{base}/q/{code.token}")
        assert page.get_by_role("heading", name="甲区派出所").is_visible()
        assert page.get_by_text("户籍民警 李明（编号 031001）").is_visible()
        # The reasons for a bad rating appear only once a bad level is chosen.
        assert not page.get_by_text("态度生硬").is_visible()
        page.get_by_text("不满意", exact=True).click()
        page.get_by_text("态度生硬").click()
        page.get_by_label("态度", exact=True).select_option("2")
        page.get_by_label("想说的话").fill("办个户口跑了三趟")
        assert page.get_by_text("如果希望有关部门调查处理").is_visible()
        page.get_by_role("checkbox", name="我要反映问题（可选）").check()
        page.get_by_label("问题类别").select_option("buck_passing")
        page.get_by_label("发生了什么？").fill(
            "户籍窗口以材料不全为由三次让我回去补材料，每次说法不一样"
        )
        assert not page.get_by_label("手机号", exact=True).is_visible()
        page.locator("label.choice", has_text="实名保密").click()
        page.get_by_label("手机号", exact=True).fill("13800138000")
        page.get_by_label("我同意留下手机号", exact=False).check()
        page.screenshot(path=str(OUTPUT / f"h5-form-{database.kind}.png"), full_page=True)
        page.get_by_role("button", name="提交评价").click()
        page.get_by_text("感谢您的评价").wait_for()
        assert re.fullmatch(r"XQ\d{8}-\d{4}", page.locator("#tracking-no").inner_text())
        assert page.get_by_text("不满意").first.is_visible()
        page.screenshot(path=str(OUTPUT / f"h5-receipt-{database.kind}.png"), full_page=True)
    with app.app_context():
        row = db.session.scalars(sa.select(Evaluation)).one()
        assert (row.level, row.reasons, row.dimensions, row.officer_id) == (
            2,
            ["态度生硬"],
            {"attitude": 2},
            officer.id,
        )
        assert db.session.scalars(sa.select(Clue.category)).one() == "buck_passing"
