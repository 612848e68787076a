"""The verifier's and the superior's desks: a report sent back is marked and linked, a
supervision letter waiting for the unit's answer is listed and answered from the letter,
reports are reviewed with the complaint beside the findings and approved in a batch."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.audit import AuditLog
from app.clock import utcnow
from app.extensions import db
from clues.models import Referral
from tests.clues.factories import REPORT
from tests.console.helpers import sign_in, text


def _to_reviewing(cast, description: str):
    clue = cast.file(description=description)
    for who, action, to, body in cast.path_to_closed()[:4]:
        cast.step(who, clue.id, action, to=to, **body)
    return clue


def test_verifier_sees_returned_reports_and_letters_to_answer(app, cast):
    clue = _to_reviewing(cast, "窗口推诿让我跑了三趟")
    cast.step(cast.superior, clue.id, "return", to="verifying", reason="请补充询问笔录")
    letter_id = cast.supervise("desk-test", clue_id=clue.id)
    desk = sign_in(app, cast.verifier)
    page = text(desk.get("/console/verification"))
    assert "报告被退回" in page and "请补充询问笔录" in page
    assert f"/console/clues/{clue.id}#report" in page
    assert f"/console/letters/{letter_id}#response" in page and "待回复的督办函" in page
    listed = text(sign_in(app, cast.screener).get("/console/clues?status=verifying"))
    assert "报告被退回" in listed  # not a plain 核查中 in the list either

    answered = desk.post(
        f"/console/letters/{letter_id}/response", response="已补充笔录，三日内办结"
    )
    assert answered.status_code == 303
    assert "待回复的督办函" not in text(desk.get("/console/verification"))


def test_superior_reviews_side_by_side_and_approves_in_a_batch(app, cast):
    first = _to_reviewing(cast, "户口迁移材料不全跑了三趟")
    second = _to_reviewing(cast, "办证窗口中午提前下班")
    desk = sign_in(app, cast.superior)
    page = text(desk.get("/console/review"))
    row = page.split(first.tracking_no, 1)[1].split("</tr>", 1)[0]
    assert "户口迁移材料不全跑了三趟" in row and REPORT["findings"] in row  # side by side

    response = desk.client.post(
        "/console/review/batch",
        data={"csrf": desk.csrf, "clue_id": [first.id, second.id]},
    )
    assert response.status_code == 303
    assert "（2 条）" in text(desk.get(response.headers["Location"]))
    assert cast.detail(first.id)["status"] == "closed"
    assert cast.detail(second.id)["status"] == "closed"


def test_liaison_list_marks_late_referrals_and_each_has_a_page(app, cast):
    clue = cast.file(description="民警收了两条烟才给办证")
    cast.close_and_refer(clue.id)
    with app.app_context():
        referral = db.session.scalars(sa.select(Referral).where(Referral.clue_id == clue.id)).one()
        referral.receive_due_at = utcnow() - timedelta(days=10)
        referral_id = referral.id
        db.session.commit()
    desk = sign_in(app, cast.liaison)
    listing = text(desk.get("/console/referrals"))
    row = listing.split(f'id="referral-{referral_id}"', 1)[1].split("</tr>", 1)[0]
    assert 'class="late"' in row and "已超期" in row
    assert "/receive" not in listing  # forms live on the referral's page
    assert len(listing) < 12_000

    page = text(desk.get(f"/console/referrals/{referral_id}"))
    assert "民警收了两条烟才给办证" in page and "卷宗完整" in page
    assert desk.post(f"/console/referrals/{referral_id}/receive").status_code == 303
    done = desk.post(
        f"/console/referrals/{referral_id}/conclude", persons_handled="1", measures="诫勉谈话"
    )
    assert done.headers["Location"] == f"/console/referrals/{referral_id}"
    with app.app_context():
        reads = db.session.scalar(
            sa.select(sa.func.count()).where(
                AuditLog.action == "referral.read", AuditLog.object_id == str(referral_id)
            )
        )
    assert reads == 1  # reading the dossier is on the trail, as through the API
