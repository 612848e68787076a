"""The H5 rating page, through the test client: forms, cookies, CSRF, escaping, errors."""

from __future__ import annotations

import io
import re

import sqlalchemy as sa
from PIL import Image

from app.extensions import db
from app.org.models import Role
from clues.models import Clue, CluePhoto, ClueReporter
from evaluations.models import Evaluation
from tests.factories import bearer, make_city, make_officer, make_staff, make_unit
from tests.qr.factories import make_code


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _submission(html: str) -> str:
    return re.search(r'name="submission_id" value="([^"]+)"', html).group(1)


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Evaluation))


def test_page_shows_unit_officer_and_questionnaire_with_no_external_assets(app, client):
    city = make_city(app)
    officer = make_officer(
        app, city["station_a"], name="李明", staff_no="031001", position="户籍民警"
    )
    code = make_code(app, city["station_a"], officer=officer, label="户籍窗口 2 号")
    page = client.get(f"/q/{code.token}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for text in (
        "甲区派出所",
        "户籍窗口 2 号",
        "李明",
        "031001",
        "非常满意",
        "非常不满意",
        "态度",
        "我要反映问题",
        "匿名反映",
        "实名保密",
    ):
        assert text in html, text
    assert '<html lang="zh-CN">' in html
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html), "页面不得引用外部资源"
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    # Every form control has a label.
    ids = set(re.findall(r'<(?:select|textarea|input)[^>]*\bid="([^"]+)"', html))
    labelled = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', html))
    assert ids <= labelled, ids - labelled


def test_submitting_the_form_rates_and_files_the_clue(app, client):
    city = make_city(app)
    code = make_code(app, city["station_a"])
    html = client.get(f"/q/{code.token}").get_data(as_text=True)
    form = {
        "csrf": _csrf(html),
        "submission_id": _submission(html),
        "level": "1",
        "reason": ["态度生硬", "办事高效"],
        "dim_attitude": "1",
        "comment": "等了两个小时",
        "with_clue": "1",
        "clue_category": "conduct",
        "clue_description": "窗口工作人员对群众大声呵斥",
        "clue_identity": "confidential",
        "clue_phone": "13800138000",
    }
    # The phone is kept only with the separate consent ticked.
    refused = client.post(f"/q/{code.token}", data=form)
    assert refused.status_code == 422 and "请勾选同意" in refused.get_data(as_text=True)
    assert _count(app) == 0
    form["clue_sms_consent"] = "1"
    receipt = client.post(f"/q/{code.token}", data=form)
    assert receipt.status_code == 201, receipt.get_data(as_text=True)
    text = receipt.get_data(as_text=True)
    assert "感谢您的评价" in text and "非常不满意" in text
    # True to the state: registered and waiting for screening, with the way back.
    assert "待审核" in text and "已受理" not in text
    assert re.search(r'href="http://[^"]+/t/[A-Za-z0-9_-]{32}"', text)
    assert 'src="data:image/png;base64,' in text and 'id="access-code"' in text
    assert "pingyi_device" in receipt.headers.get("Set-Cookie", "")
    with app.app_context():
        row = db.session.scalars(sa.select(Evaluation)).one()
        # "办事高效" belongs to the good levels: hidden for level 1, so not taken.
        assert (row.level, row.reasons, row.dimensions, row.channel) == (
            1,
            ["态度生硬"],
            {"attitude": 1},
            "h5",
        )
        assert db.session.scalars(sa.select(Clue.category)).one() == "conduct"
        assert db.session.scalars(sa.select(ClueReporter.sms_consent)).one() is True
    # The same form sent again (double tap, back button) is the same rating, not a second one.
    again = client.post(f"/q/{code.token}", data=form)
    assert again.status_code == 201 and _count(app) == 1
    html = client.get(f"/q/{code.token}").get_data(as_text=True)
    # A new form the same day: "今天已评价" up front, and the typed text kept for a report.
    assert "今天已评价" in html and 'name="level"' not in html
    second = client.post(f"/q/{code.token}", data={**form, "submission_id": _submission(html)})
    text = second.get_data(as_text=True)
    assert second.status_code == 409 and "今天已评价" in text
    assert "窗口工作人员对群众大声呵斥" in text and "/report" in text


def test_form_without_csrf_or_level_is_refused(app, client):
    city = make_city(app)
    code = make_code(app, city["station_a"])
    html = client.get(f"/q/{code.token}").get_data(as_text=True)
    stale = client.post(f"/q/{code.token}", data={"csrf": "forged", "level": "5"})
    assert stale.status_code == 400 and "页面已过期" in stale.get_data(as_text=True)
    missing = client.post(
        f"/q/{code.token}", data={"csrf": _csrf(html), "submission_id": _submission(html)}
    )
    assert missing.status_code == 422 and "请填写此项" in missing.get_data(as_text=True)
    confidential = client.post(
        f"/q/{code.token}",
        data={
            "csrf": _csrf(html),
            "submission_id": _submission(html),
            "level": "2",
            "with_clue": "1",
            "clue_category": "conduct",
            "clue_description": "工作人员态度恶劣",
            "clue_identity": "confidential",
        },
    )
    body = confidential.get_data(as_text=True)
    assert confidential.status_code == 422 and "实名保密反映须填写手机号" in body
    assert "工作人员态度恶劣" in body  # what the resident typed is kept
    assert _count(app) == 0


def test_everything_typed_or_entered_is_escaped(app, client):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["city"])
    evil = make_unit(app, parent=city["station_a"], name='<script>alert("单位")</script>')
    code = make_code(app, evil, label="<img src=x onerror=alert(1)>")
    html = client.get(f"/q/{code.token}").get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "<img src=x" not in html
    page = client.post(
        f"/q/{code.token}",
        data={
            "csrf": _csrf(html),
            "submission_id": _submission(html),
            "level": "2",
            "comment": "<script>steal()</script>",
            "with_clue": "1",
            "clue_category": "conduct",
            "clue_description": "</textarea><script>x()</script>",
            "clue_identity": "confidential",
        },
    )
    body = page.get_data(as_text=True)
    assert page.status_code == 422
    assert "<script>steal" not in body and "&lt;script&gt;steal()" in body
    assert "</textarea><script>" not in body
    assert bearer(app, admin)  # the admin exists; nothing else to check for them here


def test_revoked_and_unknown_codes_get_a_clear_page(app, client):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["city"])
    current = make_code(app, city["station_a"])
    old = make_code(app, city["station_a"], label="旧窗口")
    client.post(f"/api/v1/qr-codes/{old.id}/revoke", headers=bearer(app, admin), json={})
    page = client.get(f"/q/{old.token}")
    assert page.status_code == 410
    assert f"/q/{current.token}" in page.get_data(as_text=True)
    assert client.get("/q/NoSuchTokenNoSuchToken0").status_code == 404


def test_a_bad_rating_with_a_comment_can_become_a_report_with_a_photo(app, client):
    city = make_city(app)
    code = make_code(app, city["station_a"])
    html = client.get(f"/q/{code.token}").get_data(as_text=True)
    form = {"csrf": _csrf(html), "submission_id": _submission(html), "level": "1"}
    receipt = client.post(f"/q/{code.token}", data={**form, "comment": "窗口民警让我跑了三趟"})
    text = receipt.get_data(as_text=True)
    assert receipt.status_code == 201 and "把这条意见作为问题反映" in text
    assert ">窗口民警让我跑了三趟</textarea>" in text  # pre-filled with the comment
    report = {"csrf": _csrf(text), "submission_id": _submission(text)}
    refused = client.post(
        f"/q/{code.token}/report",
        data={**report, "clue_category": "", "clue_description": "窗口民警让我跑了三趟"},
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "String should" not in page
    assert 'id="clue_category-error">' in page and ">窗口民警让我跑了三趟</textarea>" in page
    not_an_image = client.post(
        f"/q/{code.token}/report",
        data={
            **report,
            "clue_category": "buck_passing",
            "clue_description": "窗口民警让我跑了三趟",
            "clue_identity": "anonymous",
            "clue_photo": (io.BytesIO(b"%PDF-1.4 not a photo"), "a.jpg"),
        },
        content_type="multipart/form-data",
    )
    page = not_an_image.get_data(as_text=True)
    assert not_an_image.status_code == 422 and 'id="clue_photo-error">' in page
    assert ">窗口民警让我跑了三趟</textarea>" in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Clue.id))) == 0  # all or nothing
    photo = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 10)).save(photo, "JPEG")
    filed = client.post(
        f"/q/{code.token}/report",
        data={
            **report,
            "clue_category": "buck_passing",
            "clue_description": "窗口民警让我跑了三趟",
            "clue_identity": "anonymous",
            "clue_photo": (io.BytesIO(photo.getvalue()), "a.jpg"),
        },
        content_type="multipart/form-data",
    )
    text = filed.get_data(as_text=True)
    assert filed.status_code == 201 and "待审核" in text and 'id="tracking-link"' in text
    with app.app_context():
        clue = db.session.scalars(sa.select(Clue)).one()
        assert clue.source == "direct" and clue.description == "窗口民警让我跑了三趟"
        assert db.session.scalar(sa.select(sa.func.count(CluePhoto.id))) == 1
    # The same report sent again (back button, double tap): the same clue, no second one.
    twice = client.post(
        f"/q/{code.token}/report",
        data={
            **report,
            "clue_category": "buck_passing",
            "clue_description": "窗口民警让我跑了三趟",
            "clue_identity": "anonymous",
        },
    )
    assert twice.status_code == 200 and clue.tracking_no in twice.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Clue.id))) == 1
    # The device's own page lists the rating and the clue, with its link.
    mine = client.get("/q/me").get_data(as_text=True)
    assert "我的评价和线索" in mine and clue.tracking_no in mine and "/t/" in mine
    assert "非常不满意" in mine and "窗口民警让我跑了三趟" in mine
    # Another browser has none of it.
    assert clue.tracking_no not in app.test_client().get("/q/me").get_data(as_text=True)
