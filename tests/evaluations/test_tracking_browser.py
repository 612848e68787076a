"""The resident's whole loop on a phone outside WeChat, in headless Chromium at 390×844: a bad
rating with a clue (photo, 实名保密, consent), the receipt's link opened in a fresh browser,
staff handling through the API, the outcome, re-rating and appeal on the page, the superior's
decision. Also: every field reachable without CSS :has(), no horizontal scrolling at 200 %
zoom, axe-core clean on every H5 page, and the SMS the consenting reporter receives."""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from PIL import Image

from app.extensions import db
from clues.models import CluePhoto, ClueReporter
from notifications.dispatcher import dispatch_outbox
from tests.clues.factories import make_cast
from tests.conftest import service_missing
from tests.fixtures.axe import serious_violations
from tests.fixtures.servers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    OUTPUT,
    chromium_available,
    gunicorn_server,
)
from tests.fixtures.sms import use_sms

pytestmark = pytest.mark.browser

PHONE = "13900001111"
PHONE_VIEWPORT = {"width": 390, "height": 844}
# 200 % zoom on that phone: the page lays out in half the CSS pixels.
ZOOMED_VIEWPORT = {"width": 195, "height": 422}
STRIP_HAS = """() => {
  for (const sheet of document.styleSheets) {
    for (let i = sheet.cssRules.length - 1; i >= 0; i--) {
      const rule = sheet.cssRules[i];
      if (rule.cssText.includes(':has(')) sheet.deleteRule(i);
    }
  }
}"""


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


def _phone(browser, viewport=PHONE_VIEWPORT):
    # bypass_csp: only so the test can inject axe-core; the pages themselves run no script.
    context = browser.new_context(
        viewport=viewport,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        bypass_csp=True,
    )
    return context, context.new_page()


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(out, "JPEG")
    return out.getvalue()


def _clean(page, name: str) -> None:
    assert serious_violations(page) == [], name


def _fits(page, name: str) -> None:
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{name}: 横向溢出 {overflow}px"


def test_the_residents_loop_on_any_phone(app, client, database_url, browser, database, sms_sandbox):
    use_sms(app, sms_sandbox)
    cast = make_cast(app, client)
    token = cast.code.token
    OUTPUT.mkdir(exist_ok=True)
    with gunicorn_server(database_url, log_name=f"tracking-{database.kind}") as base:
        # ---- a bad rating that reports a problem, with a photo, 实名保密 and consent
        context, page = _phone(browser)
        page.goto(f"{base}/q/{token}")
        _clean(page, "评价页")
        page.get_by_text("非常不满意", exact=True).click()
        page.get_by_label("想说的话").fill("办个户口跑了三趟")
        page.get_by_role("checkbox", name="我要反映问题（可选）").check()
        page.get_by_label("问题类别").select_option("buck_passing")
        page.get_by_label("发生了什么？").fill(
            "户籍窗口以材料不全为由三次让我回去补材料，每次说法不一样"
        )
        page.get_by_label("照片").set_input_files(
            files=[{"name": "window.jpg", "mimeType": "image/jpeg", "buffer": _jpeg()}]
        )
        page.locator("label.choice", has_text="实名保密").click()
        page.get_by_label("手机号", exact=True).fill(PHONE)
        page.get_by_label("我同意留下手机号", exact=False).check()
        page.get_by_role("button", name="提交评价").click()
        page.get_by_text("感谢您的评价").wait_for()
        receipt = page.locator("main").inner_text()
        assert "待审核" in receipt and "已受理" not in receipt
        assert page.locator("img.qr").is_visible()
        assert re.fullmatch(r"[2-9A-Z]{4} [2-9A-Z]{4}", page.locator("#access-code").inner_text())
        tracking_no = page.locator("#tracking-no").inner_text()
        link = page.locator("#tracking-link").get_attribute("href")
        _clean(page, "回执")
        page.screenshot(path=str(OUTPUT / f"tracking-receipt-{database.kind}.png"), full_page=True)
        # Back the same day: said up front, with the report form instead of the rating.
        page.goto(f"{base}/q/{token}")
        assert page.get_by_text("今天已评价").is_visible()
        assert page.get_by_role("button", name="提交反映").is_visible()
        _clean(page, "今天已评价")
        page.goto(f"{base}/q/me")
        assert tracking_no in page.locator("main").inner_text()
        _clean(page, "我的评价和线索")
        context.close()
        path = re.sub(r"^https?://[^/]+", "", link)
        assert re.fullmatch(r"/t/[A-Za-z0-9_-]{32}", path)

        # ---- a fresh browser (another phone) opens the link: 待审核
        context, page = _phone(browser)
        page.goto(base + path)
        assert page.locator("#status").inner_text() == "待审核"
        assert "个工作日内" in page.locator("#promise").inner_text()
        _clean(page, "查询页（待审核）")

        # ---- staff accept, assign, verify and approve, through the API
        clue_id = cast.clue_id(tracking_no)
        for who, action, to, body in cast.path_to_closed():
            cast.step(who, clue_id, action, to=to, **body)
        page.reload()
        assert page.locator("#status").inner_text() == "已办结"
        assert page.locator("#outcome").inner_text() == "核查结论：属实"
        assert "已对相关民警批评教育" in page.locator("#reply").inner_text()
        assert "查否" not in page.locator("main").inner_text()

        # ---- the resident re-rates unsatisfied and appeals, on the page
        page.locator("#rerating label.level").filter(has=page.locator("input[value='2']")).click()
        page.locator("#rerating label.choice", has_text="没有解决").click()
        page.get_by_label("想说的话").fill("还是要我跑第四趟")
        page.get_by_role("button", name="提交评价").click()
        assert "您的评价已提交" in page.locator("p.done").inner_text()
        page.get_by_label("为什么不满意？").fill("核查没有问我本人，结论和事实不符")
        page.get_by_role("button", name="申请复核").click()
        assert "您的复核申请已提交" in page.locator("p.done").inner_text()
        assert page.locator("#status").inner_text() == "复核申请中"
        assert page.locator("#appeal-decision").inner_text() == "上级机关的决定：待上级机关决定"

        # ---- the superior decides; the page shows the decision
        cast.step(cast.superior, clue_id, "uphold", to="closed", note="录像显示窗口依规一次告知")
        page.goto(base + path)
        assert "维持原结论" in page.locator("#appeal-decision").inner_text()
        assert "录像显示窗口依规一次告知" in page.locator("main").inner_text()
        _clean(page, "查询页（复核决定）")
        page.screenshot(path=str(OUTPUT / f"tracking-page-{database.kind}.png"), full_page=True)

        # ---- error pages
        page.goto(f"{base}/t/{'x' * 32}")
        assert page.get_by_role("heading", name="没有找到").is_visible()
        _clean(page, "链接无效")
        page.goto(f"{base}/t")
        page.get_by_label("查询编号").fill(tracking_no)
        page.get_by_label("查询码").fill("AAAA2222")
        page.get_by_role("button", name="查询").click()
        assert "查询编号或查询码不正确" in page.locator("#lookup-error").inner_text()
        _clean(page, "查询码页（输错）")
        context.close()

        # ---- 200 % zoom: no horizontal scrolling on the rating form, receipt or tracking page
        context, page = _phone(browser, ZOOMED_VIEWPORT)
        page.goto(f"{base}/q/{token}")
        _fits(page, "评价页")
        page.goto(base + path)
        _fits(page, "查询页")

        # ---- without :has(): every field is there before any choice is made, an anonymous
        # report still goes through (a new browser: a new device identity)
        context.close()
        context, page = _phone(browser)
        page.goto(f"{base}/q/{token}")
        page.evaluate(STRIP_HAS)
        assert page.get_by_text("态度生硬").first.is_visible()  # reasons of every level
        for label in ("问题类别", "发生了什么？", "照片"):
            assert page.get_by_label(label).is_visible(), label
        assert page.locator("#clue_phone").is_visible()
        assert page.get_by_label("我同意留下手机号", exact=False).is_visible()
        page.get_by_text("不满意", exact=True).click()
        page.get_by_role("checkbox", name="我要反映问题（可选）").check()
        page.get_by_label("问题类别").select_option("buck_passing")
        page.get_by_label("发生了什么？").fill("窗口午休提前半小时关门，群众排队无人理会")
        page.get_by_role("button", name="提交评价").click()
        page.get_by_text("感谢您的评价").wait_for()
        _fits(page, "回执")
        anonymous_no = page.locator("#tracking-no").inner_text()
        context.close()

    cast.step(cast.screener, cast.clue_id(anonymous_no), "accept", to="accepted")
    with app.app_context():
        photos = db.session.scalars(sa.select(CluePhoto).where(CluePhoto.clue_id == clue_id)).all()
        reporter = db.session.get(ClueReporter, clue_id)
        assert len(photos) == 1 and photos[0].content[:2] == b"\xff\xd8"  # re-encoded JPEG
        assert (reporter.identity, reporter.sms_consent) == ("confidential", True)
        counts = dispatch_outbox()
    # The SMS gateway got the link at acceptance, closure and the appeal decision; nothing
    # for the anonymous reporter.
    messages = sms_sandbox.messages()
    assert counts["sent"] >= 3
    assert [m["phone"] for m in messages] == [f"+86{PHONE}"] * 3
    assert all(path in m["content"] for m in messages)
