"""Acting through the console: the same service functions as the API, one commit a request,
errors shown on the page with the right status, the form kept as it was filled in."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from clues.models import Clue, ClueEvent, Referral
from tests.clues.factories import REPORT
from tests.console.helpers import sign_in, text

FORM_REPORT = {
    "outcome": "substantiated",
    "findings": "经调取录像核实，该民警确有推诿行为",
    "measures": "批评教育，责令书面检查",
    "persons_handled": "1",
    "involves_misconduct": "1",
    "reply_to_reporter": "经核查属实，已批评教育",
}


def _status(app, clue_id: int) -> str:
    with app.app_context():
        return db.session.get(Clue, clue_id).status.value


def test_a_clue_from_screening_to_referral_through_the_console(app, cast):
    clue = cast.file()
    screener = sign_in(app, cast.screener)
    response = screener.act(clue.id, "accept", note="属于受理范围")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/console/clues/{clue.id}"
    assert "已受理" in text(screener.get(response.headers["Location"]))
    station = cast.units["station_a"]
    assert (
        screener.act(
            clue.id, "assign", unit_id=str(station.id), days="10", assignee_id="", note=""
        ).status_code
        == 303
    )
    detail = cast.detail(clue.id)
    assert detail["status"] == "assigned" and detail["assigned_unit"]["id"] == station.id

    verifier = sign_in(app, cast.verifier)
    assert clue.tracking_no in text(verifier.get("/console/verification"))
    assert verifier.act(clue.id, "start").status_code == 303
    assert (
        verifier.act(clue.id, "request_extension", days="3", reason="需要调取外地录像").status_code
        == 303
    )
    superior = sign_in(app, cast.superior)
    review = text(superior.get("/console/review"))
    assert "需要调取外地录像" in review
    before = cast.detail(clue.id)["due_at"]
    response = superior.act(clue.id, "approve_extension", next="/console/review")
    assert response.status_code == 303 and response.headers["Location"] == "/console/review"
    assert cast.detail(clue.id)["due_at"] > before
    assert verifier.act(clue.id, "submit_report", **FORM_REPORT).status_code == 303
    assert _status(app, clue.id) == "reviewing"
    assert clue.tracking_no in text(superior.get("/console/review"))
    assert superior.act(clue.id, "return", reason="请补充当事民警的陈述").status_code == 303
    assert _status(app, clue.id) == "verifying"
    assert verifier.act(clue.id, "submit_report", **FORM_REPORT).status_code == 303
    assert superior.act(clue.id, "approve", note="同意").status_code == 303
    detail = cast.detail(clue.id)
    assert (
        detail["status"],
        detail["outcome"],
        detail["persons_handled"],
        detail["involves_misconduct"],
    ) == ("closed", "substantiated", 1, True)
    assert screener.act(clue.id, "refer", note="移交纪检").status_code == 303

    liaison = sign_in(app, cast.liaison)
    with app.app_context():
        referral_id = db.session.scalar(sa.select(Referral.id).where(Referral.clue_id == clue.id))
    assert clue.tracking_no in text(liaison.get("/console/referrals"))
    assert liaison.post(f"/console/referrals/{referral_id}/receive").status_code == 303
    bad = liaison.post(
        f"/console/referrals/{referral_id}/conclude", persons_handled="", measures="诫勉谈话"
    )
    assert bad.status_code == 422 and "处理人数：请填写此项" in text(bad)
    assert 'value="诫勉谈话"' in text(bad) or "诫勉谈话</textarea>" in text(bad)
    assert (
        liaison.post(
            f"/console/referrals/{referral_id}/conclude", persons_handled="1", measures="诫勉谈话"
        ).status_code
        == 303
    )
    with app.app_context():
        referral = db.session.get(Referral, referral_id)
        assert (referral.status.value, referral.persons_handled) == ("concluded", 1)
        events = db.session.scalars(
            sa.select(ClueEvent).where(ClueEvent.clue_id == clue.id).order_by(ClueEvent.id)
        ).all()
    # Every step is on the trail in the name of the console user who took it.
    steps = [(e.action, e.actor_name) for e in events if e.actor_type == "staff"]
    assert steps == [
        ("accept", cast.screener.username),
        ("assign", cast.screener.username),
        ("start", cast.verifier.username),
        ("request_extension", cast.verifier.username),
        ("approve_extension", cast.superior.username),
        ("submit_report", cast.verifier.username),
        ("return", cast.superior.username),
        ("submit_report", cast.verifier.username),
        ("approve", cast.superior.username),
        ("refer", cast.screener.username),
    ]


def test_reject_forward_and_merge(app, cast):
    screener = sign_in(app, cast.screener)
    rejected = cast.file()
    assert (
        screener.act(
            rejected.id, "reject", reason="no_substance", message="请补充时间地点后重新反映"
        ).status_code
        == 303
    )
    assert cast.mine(rejected.tracking_no).json["status"] == "rejected"
    livelihood = cast.file(category="livelihood", description="小区门口路灯坏了很久没人修")
    assert screener.act(livelihood.id, "forward_12345").status_code == 303
    assert _status(app, livelihood.id) == "forwarded"
    master = cast.file(description="户籍窗口民警态度恶劣，多次推诿群众办事")
    duplicate = cast.file(description="户籍窗口民警态度恶劣，推诿群众办事")
    unknown = screener.act(duplicate.id, "merge", master="XQ20000101-9999")
    assert unknown.status_code == 422 and "没有编号为 XQ20000101-9999 的线索" in text(unknown)
    itself = screener.act(duplicate.id, "merge", master=duplicate.tracking_no)
    assert itself.status_code == 409 and "不能并入线索本身" in text(itself)
    merged = screener.act(duplicate.id, "merge", master=master.tracking_no.lower())
    assert merged.status_code == 303
    assert cast.detail(duplicate.id)["master_id"] == master.id
    page = text(screener.get(f"/console/clues/{master.id}"))
    assert duplicate.tracking_no in page  # 并入本线索


def test_form_errors_keep_the_form_and_change_nothing(app, cast):
    screener = sign_in(app, cast.screener)
    clue = cast.file()
    response = screener.act(clue.id, "reject", reason="no_substance", message="")
    assert response.status_code == 422
    body = text(response)
    assert "告诉反映人的话：请填写此项" in body
    assert 'id="action-reject"' in body and "action failed" in body
    assert 'value="no_substance" selected' in body
    wrong_reason = screener.act(clue.id, "reject", reason="because", message="不受理")
    assert wrong_reason.status_code == 422 and "理由：请选择一项" in text(wrong_reason)
    assert _status(app, clue.id) == "submitted"

    screener.act(clue.id, "accept")
    too_long = screener.act(clue.id, "assign", unit_id=str(cast.units["station_a"].id), days="200")
    assert too_long.status_code == 422 and "期限（工作日）：不能大于 90" in text(too_long)
    not_number = screener.act(clue.id, "assign", unit_id="station")
    assert not_number.status_code == 422 and "核查单位：请填写整数" in text(not_number)
    outside = cast.units["station_b"]
    wrong_unit = screener.act(
        clue.id, "assign", unit_id=str(outside.id), assignee_id=str(cast.screener.id)
    )
    assert wrong_unit.status_code == 422
    assert "承办人：承办人须是该单位的核查人员" in text(wrong_unit)
    assert _status(app, clue.id) == "accepted"

    screener.act(clue.id, "assign", unit_id=str(cast.units["station_a"].id))
    verifier = sign_in(app, cast.verifier)
    verifier.act(clue.id, "start")
    bad = verifier.act(
        clue.id, "submit_report", **{**FORM_REPORT, "persons_handled": "一人", "findings": "  "}
    )
    assert bad.status_code == 422
    body = text(bad)
    assert "组织处理人数：请填写整数" in body and "核查情况：请填写此项" in body
    assert "批评教育，责令书面检查</textarea>" in body  # what was typed stays
    misconduct = verifier.act(clue.id, "submit_report", **{**FORM_REPORT, "outcome": "unfounded"})
    assert misconduct.status_code == 422 and "查否时不能为是" in text(misconduct)
    assert _status(app, clue.id) == "verifying"


def test_a_stale_form_meets_the_transition_table(app, cast):
    clue = cast.file()
    first, second = sign_in(app, cast.screener), sign_in(app, cast.screener)
    assert first.act(clue.id, "accept").status_code == 303
    stale = second.act(clue.id, "accept")
    assert stale.status_code == 409
    assert "线索当前状态为“已受理”，不能执行“受理”" in text(stale)
    # The page re-rendered around the error offers what is possible now.
    assert 'id="action-assign"' in text(stale)


def test_roles_the_action_never_serves_are_refused(app, cast):
    clue = cast.drive("reviewing")
    verifier = sign_in(app, cast.verifier)
    response = verifier.act(clue.id, "approve")
    assert response.status_code == 403 and "该角色不能执行“审核通过”" in text(response)
    # Liaisons and analysts do not act on clues at all.
    for who in (cast.liaison, cast.analyst, cast.admin):
        assert sign_in(app, who).act(clue.id, "approve").status_code == 403
    assert _status(app, clue.id) == "reviewing"
    # Unknown actions are a 404 page, not an error of the API.
    missing = sign_in(app, cast.superior).act(clue.id, "delete")
    assert missing.status_code == 404 and "没有这个操作" in text(missing)
    assert sign_in(app, cast.superior).act(999999, "approve").status_code == 404


def test_out_of_scope_clues_are_refused(app, cast):
    from app.org.models import Role
    from tests.factories import make_staff

    clue = cast.file()
    outsider = sign_in(app, make_staff(app, Role.SCREENER, cast.units["district_b"]))
    assert outsider.get(f"/console/clues/{clue.id}").status_code == 403
    response = outsider.act(clue.id, "accept")
    assert response.status_code == 403 and "不在您的办理范围内" in text(response)
    assert clue.tracking_no not in text(outsider.get("/console/queue"))
    assert _status(app, clue.id) == "submitted"


def test_appeal_reopen_and_uphold(app, cast):
    from tests.evaluations.helpers import h5_resident

    superior = sign_in(app, cast.superior)
    clue = cast.drive("appealed")
    page = text(superior.get("/console/review"))
    assert clue.tracking_no in page and "处理结果不公正，要求复核" in page
    assert superior.act(clue.id, "reopen", note="重新调查").status_code == 303
    assert _status(app, clue.id) == "verifying"

    resident = h5_resident(cast.client)
    other = cast.drive("appealed", resident=resident)
    missing_reason = superior.act(other.id, "uphold", note="")
    assert missing_reason.status_code == 422
    assert superior.act(other.id, "uphold", note="经复查，原结论无误").status_code == 303
    assert _status(app, other.id) == "closed"
    timeline = cast.mine(other.tracking_no, resident=resident).json["timeline"]
    assert timeline[-1]["note"] == "上级机关维持原核查结论：经复查，原结论无误"


def test_deny_extension_from_the_review_queue(app, cast):
    clue = cast.drive("verifying")
    cast.step(
        cast.verifier, clue.id, "request_extension", to="verifying", days=5, reason="证人外出"
    )
    before = cast.detail(clue.id)["due_at"]
    superior = sign_in(app, cast.superior)
    response = superior.act(clue.id, "deny_extension", next="/console/review")
    assert response.status_code == 303
    after = superior.get("/console/review")
    assert "已不批准延期" in text(after) and "证人外出" not in text(after)
    assert cast.detail(clue.id)["due_at"] == before
    # Nothing left to decide: the same form again meets the service's guard.
    again = superior.act(clue.id, "deny_extension")
    assert again.status_code == 409 and "没有待审批的延期申请" in text(again)


def test_report_by_the_api_shows_in_the_review_queue(app, cast):
    clue = cast.drive("reviewing", report=REPORT)
    page = text(sign_in(app, cast.superior).get("/console/review"))
    assert clue.tracking_no in page and "涉及违纪违规" in page and "1 人" in page
