"""Each role's working day in headless Chromium against gunicorn, on a seeded world (twelve
weeks of ratings, clues in every state, a referral, a supervision letter, inbox messages):
the screener filters and accepts in a batch, the verifier opens a message and answers a
letter, the superior approves in a batch, the liaison receives a referral on its page, the
analyst drills into a unit, the administrator links an account to its officer and rotates a
code with a reason. Then axe-core checks every console page: no serious or critical
violation. Screenshots go to test-output/day-*.png."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.org.models import Role
from clues.models import Referral
from notifications.inbox import notify_staff
from tests.console.test_access import PAGES
from tests.console.test_browser import HOOKS, browser, seed_ratings, sign_in  # noqa: F401
from tests.fixtures.axe import serious_violations
from tests.fixtures.servers import OUTPUT, gunicorn_server

pytestmark = pytest.mark.browser

VIEW = {"width": 1366, "height": 768}


def _world(app, cast) -> dict[str, int]:
    app.config["RANKING_MIN_EVALUATIONS"] = 5
    seed_ratings(app, cast)
    for status in ("closed", "verifying", "rejected", "assigned"):
        cast.drive(status)
    fresh = [
        cast.file(description="办理户口迁移时材料不全，来回跑了三趟"),
        cast.file(description="值班民警态度生硬，不耐烦", officer=False),
    ]
    reviewing = [cast.drive("reviewing", description=f"第{n}件待审核") for n in (1, 2)]
    returned = cast.drive("reviewing", description="需要补充笔录的一件")
    cast.step(cast.superior, returned.id, "return", to="verifying", reason="请补充询问笔录")
    referred = cast.file(description="民警收了两条烟才给办证")
    photo_id = cast.attach_photo(referred.tracking_no)
    cast.close_and_refer(referred.id)
    letter_id = cast.supervise("day-letter", clue_id=returned.id)
    with app.app_context():
        notify_staff(
            roles=(Role.VERIFIER,),
            unit=db.session.merge(cast.units["station_a"]),
            kind="returned",
            title="核查报告被退回，请补充",
            dedupe_key="day-returned",
            clue_id=returned.id,
        )
        referral_id = db.session.scalar(
            sa.select(Referral.id).where(Referral.clue_id == referred.id)
        )
        db.session.commit()
    return {
        "fresh_a": fresh[0].id,
        "fresh_b": fresh[1].id,
        "review_a": reviewing[0].id,
        "review_b": reviewing[1].id,
        "returned": returned.id,
        "letter": letter_id,
        "referral": referral_id,
        "referred": referred.id,
        "photo": photo_id,
    }


def _desk(chromium, base, account):
    context = chromium.new_context(viewport=VIEW, locale="zh-CN", bypass_csp=True)
    page = context.new_page()
    sign_in(page, base, account)
    return context, page


def _shot(page, name: str, kind: str) -> None:
    page.screenshot(path=str(OUTPUT / f"day-{name}-{kind}.png"), full_page=True)


def test_each_role_walks_its_day(app, cast, browser, database, database_url):  # noqa: F811
    ids = _world(app, cast)
    kind = database.kind
    OUTPUT.mkdir(exist_ok=True)
    with gunicorn_server(
        database_url, log_name=f"console-day-{kind}", extra_args=["--config", HOOKS]
    ) as base:
        # The screener: find by a phrase, tick two, accept them together.
        context, page = _desk(browser, base, cast.screener)
        page.goto(f"{base}/console/clues?status=submitted&q=户口迁移")
        assert page.locator("table.dense tbody tr").count() == 1
        page.goto(f"{base}/console/queue")
        for clue_id in (ids["fresh_a"], ids["fresh_b"]):
            page.locator(f'input[name="clue_id"][value="{clue_id}"]').check()
        page.get_by_role("button", name="受理勾选的线索").click()
        page.locator("p.flash.ok", has_text="（2 条）").wait_for()
        _shot(page, "screener", kind)
        context.close()

        # The verifier: the unread count, the message to the returned report, the letter.
        context, page = _desk(browser, base, cast.verifier)
        unread = int(page.locator("header .count").inner_text())
        assert unread >= 1
        assert page.locator("a.badge", has_text="报告被退回").is_visible()
        page.get_by_role("link", name=re.compile("^消息")).click()
        page.locator("tr", has_text="核查报告被退回，请补充").get_by_role("button").click()
        assert page.url.endswith(f"/console/clues/{ids['returned']}")
        assert int(page.locator("header .count").inner_text()) == unread - 1
        page.goto(f"{base}/console/verification")
        page.get_by_role("link", name="查看并回复").click()
        page.get_by_label("逾期原因、已采取的措施和办理计划").fill("已补充询问笔录，三日内办结")
        page.get_by_role("button", name="提交回复").click()
        page.locator("p.flash.ok", has_text="已回复").wait_for()
        _shot(page, "verifier", kind)
        context.close()

        # The superior: complaint beside findings, approve two in a batch.
        context, page = _desk(browser, base, cast.superior)
        for clue_id in (ids["review_a"], ids["review_b"]):
            page.locator(f'input[name="clue_id"][value="{clue_id}"]').check()
        _shot(page, "superior", kind)
        page.get_by_role("button", name="审核通过勾选的报告").click()
        page.locator("p.flash.ok", has_text="（2 条）").wait_for()
        context.close()

        # The liaison: the compact list, the referral's page, receive.
        context, page = _desk(browser, base, cast.liaison)
        page.locator(f"#referral-{ids['referral']}").get_by_role("link", name="办理").click()
        assert page.get_by_text("卷宗完整").is_visible()
        page.get_by_role("button", name="签收").click()
        page.locator("p.flash.ok", has_text="已签收").wait_for()
        _shot(page, "liaison", kind)
        context.close()

        # The analyst: the 约谈 list and bottom named, drill into a unit, the officers.
        context, page = _desk(browser, base, cast.analyst)
        assert page.locator("#interview").is_visible() and page.locator("#bottom").is_visible()
        page.get_by_label("单位", exact=True).select_option(str(cast.units["district_a"].id))
        page.get_by_role("button", name="查看").click()
        page.get_by_role("heading", name="统计分析 · 甲区委政法委").wait_for()
        _shot(page, "analyst", kind)
        page.get_by_role("link", name="人员评价汇总").click()
        assert page.get_by_role("cell", name=cast.officer.name).is_visible()
        context.close()

        # The administrator: link the verifier's account to the officer; rotate with a reason.
        context, page = _desk(browser, base, cast.admin)
        page.goto(f"{base}/console/admin/staff/{cast.verifier.id}")
        page.get_by_label("本人警号/工号（清空即解除关联）").fill(cast.officer.staff_no)
        page.get_by_role("button", name="保存").click()
        page.locator("p.flash.ok", has_text="账号已修改").wait_for()
        page.goto(f"{base}/console/qr?unit_id={cast.units['station_a'].id}")
        row = page.locator(f"#code-{cast.code.id}")
        rotate = row.locator("details").first
        rotate.get_by_text("轮换…").click()
        rotate.get_by_label("轮换理由").fill("海报损毁")
        rotate.locator('input[name="confirm"]').check()
        rotate.get_by_role("button", name="确认轮换").click()
        page.locator("p.flash.ok", has_text="已轮换").wait_for()
        _shot(page, "admin", kind)
        # The posters of the station as one PDF, with the progress shown while it renders.
        page.get_by_role("button", name="开始导出").click()
        page.locator("#export-progress").wait_for()
        ids["export"] = int(page.url.rsplit("/", 1)[1])
        download_link = page.get_by_role("link", name=re.compile("^下载 qr-"))
        download_link.wait_for(timeout=90_000)  # the page reloads itself until done
        with page.expect_download() as download:
            download_link.click()
        assert download.value.suggested_filename.endswith(".pdf")
        context.close()

        # Every console page, opened by a role it serves: no serious or critical violation.
        _axe_every_page(browser, base, cast, ids)


def _fill(rule: str, cast, ids: dict[str, int]) -> str:
    return (
        rule.replace("<int:clue_id>", str(ids["referred"]))
        .replace("<int:photo_id>", str(ids["photo"]))
        .replace("<int:letter_id>", str(ids["letter"]))
        .replace("<int:referral_id>", str(ids["referral"]))
        .replace("<int:code_id>", str(cast.code.id))
        .replace("<int:unit_id>", str(cast.units["station_a"].id))
        .replace("<int:staff_id>", str(cast.verifier.id))
        .replace("<int:export_id>", str(ids["export"]))
    )


def _axe_every_page(chromium, base, cast, ids) -> None:
    staff = {
        Role.ADMIN: cast.admin,
        Role.SCREENER: cast.screener,
        Role.SUPERIOR: cast.superior,
        Role.VERIFIER: cast.verifier,
        Role.LIAISON: cast.liaison,
        Role.ANALYST: cast.analyst,
    }
    html = {
        rule: roles
        for rule, roles in PAGES.items()
        if rule != "/console/"
        and not rule.endswith((".svg", ".png", ".xlsx", "/pdf", "/file"))
        and "/photos/" not in rule
    }
    html["/console/login"] = frozenset()
    html["/console/no-such-page"] = frozenset()
    problems = {}
    desks = {}
    for rule, roles in html.items():
        role = next((r for r in staff if r in roles), Role.ADMIN)
        if role not in desks:
            desks[role] = _desk(chromium, base, staff[role])
        page = desks[role][1]
        page.goto(base + _fill(rule, cast, ids))
        found = serious_violations(page)
        if found:
            problems[rule] = found
    for context, _ in desks.values():
        context.close()
    assert problems == {}
