"""One clue through every path of SPEC.md "Clues", as the people involved see it: rejected,
merged, forwarded to 12345, verified (returned once), approved and re-rated; appealed and
reopened or upheld; referred to the discipline-inspection liaison."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.audit import AuditLog
from app.clock import LOCAL_TZ
from app.extensions import db
from clues import service
from clues.models import Referral, ReratingInvitation
from tests.clues.factories import REPORT, make_cast
from tests.evaluations.helpers import h5_resident

UNFOUNDED = {
    "outcome": "unfounded",
    "findings": "经调取录像，未发现推诿行为",
    "reply_to_reporter": "经核查，反映的问题不属实",
}


@pytest.fixture
def frozen() -> Iterator[None]:
    """A frozen clock (a working Monday morning in Beijing), restored afterwards."""
    clock.set_now(datetime(2026, 3, 2, 9, 0, tzinfo=LOCAL_TZ))
    try:
        yield
    finally:
        clock.set_now(None)


def _statuses(timeline: list[dict]) -> list[str]:
    return [item["status"] for item in timeline]


# ---------------------------------------------------------------- screening


def test_reject_tells_the_reporter_why(app, client):
    cast = make_cast(app, client)
    clue = cast.file()
    rejected = cast.step(
        cast.screener,
        clue.id,
        "reject",
        to="rejected",
        reason="already_handled",
        message="该问题已于上月处理完毕，请查看原答复",
    )
    assert rejected["reject_reason"] == "already_handled"
    assert rejected["stage"] is None and rejected["due_at"] is None

    mine = cast.mine(clue.tracking_no).json
    assert mine["status"] == "rejected" and mine["status_label"] == "不予受理"
    assert mine["reply"] == "该问题已于上月处理完毕，请查看原答复"
    assert (
        mine["timeline"][-1]["note"] == "不予受理：已经处理过。该问题已于上月处理完毕，请查看原答复"
    )
    assert mine["can_appeal"] is False and mine["rerating"] is None


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"reason": "rude", "message": "理由"}, id="unknown-reason-code"),
        pytest.param({"reason": "abusive", "message": ""}, id="empty-message"),
        pytest.param({"reason": "abusive"}, id="no-message"),
    ],
)
def test_reject_needs_a_known_reason_code_and_a_message(app, client, body):
    cast = make_cast(app, client)
    clue = cast.file()
    response = cast.act(cast.screener, clue.id, "reject", **body)
    assert response.status_code == 422, response.json
    assert response.json["error"] == "validation_error"
    assert cast.detail(clue.id)["status"] == "submitted"


def test_a_merged_clues_reporter_follows_the_master_and_rerates_it(app, client):
    cast = make_cast(app, client)
    master = cast.file(description="户籍窗口民警李明态度生硬，让群众来回跑")
    follower = h5_resident(client)
    merged = cast.file(description="户籍窗口民警态度生硬，推诿群众", resident=follower)

    assert (
        cast.act(cast.screener, merged.id, "merge", master_id=merged.id).json["error"]
        == "merge_into_self"
    )
    answer = cast.step(cast.screener, merged.id, "merge", to="merged", master_id=master.id)
    assert answer["master_id"] == master.id

    mine = client.get("/api/v1/me/clues", headers=follower).json["items"]
    assert [(c["tracking_no"], c["master_tracking_no"], c["status"]) for c in mine] == [
        (merged.tracking_no, master.tracking_no, "submitted")
    ]
    assert f"与编号 {master.tracking_no} 的线索为同一事项" in mine[0]["timeline"][-1]["note"]

    cast.step(cast.screener, master.id, "accept", to="accepted")
    assert cast.mine(merged.tracking_no, follower).json["status"] == "accepted"
    cast.step(cast.screener, master.id, "assign", to="assigned", unit_id=cast.units["station_a"].id)
    cast.step(cast.verifier, master.id, "start", to="verifying")
    cast.step(cast.verifier, master.id, "submit_report", to="reviewing", **REPORT)
    cast.step(cast.superior, master.id, "approve", to="closed")

    followed = cast.mine(merged.tracking_no, follower).json
    assert followed["status"] == "closed" and followed["outcome_label"] == "属实"
    # The reply is addressed to the master's own reporter: the follower reads the outcome only.
    assert followed["reply"] == ""
    assert REPORT["reply_to_reporter"] not in str(followed)
    assert followed["timeline"][-1]["note"] == "已办结，核查结论：属实。"
    assert cast.mine(master.tracking_no).json["reply"] == REPORT["reply_to_reporter"]
    assert followed["rerating"]["status"] == "pending"
    # Both reporters are invited to re-rate the master, each once.
    with app.app_context():
        invited = sorted(
            db.session.scalars(
                sa.select(ReratingInvitation.clue_id).where(
                    ReratingInvitation.clue_id.in_([master.id, merged.id])
                )
            )
        )
    assert invited == [master.id, master.id]
    rerated = cast.rerate(merged.tracking_no, 4, True, resident=follower)
    assert rerated.status_code == 200, rerated.json
    assert rerated.json["rerating"]["status"] == "rated"
    assert cast.mine(master.tracking_no).json["rerating"]["status"] == "pending"
    # The master's reporter re-rates and appeals: none of it shows in the follower's timeline.
    assert cast.rerate(master.tracking_no, 1, False).status_code == 200
    assert cast.appeal(master.tracking_no).status_code == 200
    notes = [item["note"] for item in cast.mine(merged.tracking_no, follower).json["timeline"]]
    assert not [note for note in notes if "回评" in note or "复核申请" in note], notes


def test_only_open_clues_can_be_merge_masters(app, client):
    cast = make_cast(app, client)
    rejected = cast.drive("rejected")
    clue = cast.file()
    response = cast.act(cast.screener, clue.id, "merge", master_id=rejected.id)
    assert response.status_code == 409 and response.json["error"] == "bad_master"
    assert cast.detail(clue.id)["status"] == "submitted"


def test_forward_to_12345_only_for_livelihood_clues(app, client):
    cast = make_cast(app, client)
    conduct = cast.file(category="conduct")
    refused = cast.act(cast.screener, conduct.id, "forward_12345")
    assert refused.status_code == 409, refused.json
    assert refused.json["error"] == "not_livelihood"
    assert refused.json["message"] == "只有民生类诉求可以转 12345"
    assert cast.detail(conduct.id)["status"] == "submitted"

    livelihood = cast.file(category="livelihood", description="小区门口路灯坏了两个月没人修")
    cast.step(cast.screener, livelihood.id, "forward_12345", to="forwarded")
    mine = cast.mine(livelihood.tracking_no).json
    assert mine["status_label"] == "已转 12345"
    assert "12345" in mine["timeline"][-1]["note"]

    # The platform's result closes it and invites the reporter to re-rate.
    with app.app_context():
        service.close_forwarded(
            service.get_clue(livelihood.id, for_update=True), result="已协调供电部门修复路灯"
        )
        db.session.commit()
    mine = cast.mine(livelihood.tracking_no).json
    assert mine["status"] == "closed" and mine["reply"] == "已协调供电部门修复路灯"
    assert mine["rerating"]["status"] == "pending"


@pytest.mark.skipif(
    importlib.util.find_spec("notifications.outbox") is None,
    reason="notifications.outbox 尚未实现（通知议题）",
)
def test_forwarding_queues_the_12345_message_in_the_outbox(app, client):
    from notifications.models import Channel, OutboxMessage

    cast = make_cast(app, client)
    clue = cast.file(category="livelihood", description="小区门口路灯坏了两个月没人修")
    cast.step(cast.screener, clue.id, "forward_12345", to="forwarded")
    with app.app_context():
        rows = db.session.scalars(
            sa.select(OutboxMessage).where(
                OutboxMessage.clue_id == clue.id, OutboxMessage.channel == Channel.HOTLINE
            )
        ).all()
        assert len(rows) == 1
        assert rows[0].payload["tracking_no"] == clue.tracking_no


# ---------------------------------------------------------------- verification and review


def test_assign_verify_return_verify_approve_and_rerate_satisfied(app, client):
    cast = make_cast(app, client)
    clue = cast.file()
    cast.step(cast.screener, clue.id, "accept", to="accepted")
    assigned = cast.step(
        cast.screener,
        clue.id,
        "assign",
        to="assigned",
        unit_id=cast.units["station_a"].id,
        assignee_id=cast.verifier.id,
    )
    assert assigned["assigned_unit"]["id"] == cast.units["station_a"].id
    assert assigned["assignee_id"] == cast.verifier.id and assigned["stage"] == "verification"
    cast.step(cast.verifier, clue.id, "start", to="verifying")
    first = cast.step(cast.verifier, clue.id, "submit_report", to="reviewing", **UNFOUNDED)
    assert first["report"]["outcome"] == "unfounded" and first["stage"] == "review"

    returned = cast.step(
        cast.superior, clue.id, "return", to="verifying", reason="未调取当日监控录像，请补充核查"
    )
    assert returned["report"]["decision"] == "returned"
    assert returned["report"]["return_reason"] == "未调取当日监控录像，请补充核查"
    assert returned["stage"] == "verification" and returned["due_at"]
    # The verifier reads why; the reporter only learns that more checking is under way.
    seen_by_verifier = cast.detail(clue.id, cast.verifier)
    assert seen_by_verifier["report"]["return_reason"] == "未调取当日监控录像，请补充核查"
    mine = cast.mine(clue.tracking_no).json
    assert mine["timeline"][-1]["note"] == "上级要求补充核查。"
    assert "监控录像" not in str(mine)

    second = cast.step(cast.verifier, clue.id, "submit_report", to="reviewing", **REPORT)
    assert second["report"]["decision"] is None
    closed = cast.step(cast.superior, clue.id, "approve", to="closed")
    assert closed["outcome"] == "substantiated" and closed["persons_handled"] == 1
    assert closed["closed_at"] and closed["rerating_due_at"] and closed["stage"] is None

    mine = cast.mine(clue.tracking_no).json
    assert mine["outcome_label"] == "属实" and mine["reply"] == REPORT["reply_to_reporter"]
    assert mine["can_appeal"] is True
    assert _statuses(mine["timeline"]) == [
        "submitted",
        "accepted",
        "assigned",
        "verifying",
        "reviewing",
        "verifying",
        "reviewing",
        "closed",
    ]
    rerated = cast.rerate(clue.tracking_no, 5, True)
    assert rerated.status_code == 200, rerated.json
    assert rerated.json["rerating"] | {"expires_at": None} == {
        "status": "rated",
        "level": 5,
        "resolved": True,
        "expires_at": None,
    }

    again = cast.rerate(clue.tracking_no, 1, False)
    assert (again.status_code, again.json["error"]) == (409, "already_rerated")
    # Satisfied and resolved: there is nothing left to appeal, and no button says otherwise.
    assert cast.mine(clue.tracking_no).json["can_appeal"] is False
    appeal = cast.appeal(clue.tracking_no)
    assert (appeal.status_code, appeal.json["error"]) == (409, "satisfied")
    assert cast.detail(clue.id)["status"] == "closed"


def test_rerating_before_closure_is_refused(app, client):
    cast = make_cast(app, client)
    clue = cast.drive("verifying")
    response = cast.rerate(clue.tracking_no, 5, True)
    assert (response.status_code, response.json["error"]) == (409, "not_invited")


def test_appeal_reopen_and_approve_again(app, client):
    cast = make_cast(app, client)
    clue = cast.drive("closed", report=UNFOUNDED)
    unhappy = cast.rerate(clue.tracking_no, 1, False)
    assert unhappy.status_code == 200, unhappy.json
    assert unhappy.json["can_appeal"] is True
    appealed = cast.appeal(clue.tracking_no, "民警当天确实推诿，有同行人可以作证")
    assert appealed.status_code == 200, appealed.json
    assert appealed.json["status"] == "appealed" and appealed.json["can_appeal"] is False
    assert cast.detail(clue.id, cast.superior)["stage"] == "appeal"

    reopened = cast.step(cast.superior, clue.id, "reopen", to="verifying", note="请补充询问证人")
    assert reopened["stage"] == "verification" and reopened["due_at"]
    cast.step(cast.verifier, clue.id, "submit_report", to="reviewing", **REPORT)
    closed = cast.step(cast.superior, clue.id, "approve", to="closed")
    assert closed["outcome"] == "substantiated"

    # A new closure: a new invitation, and the reporter may re-rate it once more.
    mine = cast.mine(clue.tracking_no).json
    assert mine["outcome_label"] == "属实" and mine["rerating"]["status"] == "pending"
    assert cast.rerate(clue.tracking_no, 4, True).status_code == 200
    with app.app_context():
        rounds = db.session.execute(
            sa.select(ReratingInvitation.round, ReratingInvitation.level)
            .where(ReratingInvitation.clue_id == clue.id)
            .order_by(ReratingInvitation.round)
        ).all()
    assert [tuple(r) for r in rounds] == [(1, 1), (2, 4)]
    assert _statuses(mine["timeline"])[-4:] == ["appealed", "verifying", "reviewing", "closed"]


def test_appeal_upheld_with_the_reason_told_to_the_reporter(app, client):
    cast = make_cast(app, client)
    clue = cast.drive("appealed", report=UNFOUNDED)
    refused = cast.act(cast.superior, clue.id, "uphold")
    assert refused.status_code == 422, refused.json  # the reporter must be told why
    upheld = cast.step(
        cast.superior, clue.id, "uphold", to="closed", note="经复核，监控录像显示民警依规办理"
    )
    assert upheld["outcome"] == "unfounded"
    mine = cast.mine(clue.tracking_no).json
    assert mine["status"] == "closed"
    assert (
        mine["timeline"][-1]["note"] == "上级机关维持原核查结论：经复核，监控录像显示民警依规办理"
    )


# ---------------------------------------------------------------- re-rating and appeal windows


def test_rerating_closes_after_seven_days(app, client, frozen):
    cast = make_cast(app, client)
    clue = cast.drive("closed", report=UNFOUNDED)
    clock.advance(timedelta(days=7, seconds=1))
    late = cast.rerate(clue.tracking_no, 2, False)
    assert (late.status_code, late.json["error"]) == (409, "rerating_closed")
    assert late.json["message"] == "回评期限已过"


def test_rerating_on_the_last_day_of_the_window_counts(app, client, frozen):
    cast = make_cast(app, client)
    clue = cast.drive("closed", report=UNFOUNDED)
    clock.advance(timedelta(days=6, hours=23))
    assert cast.rerate(clue.tracking_no, 2, False).status_code == 200


def test_appeal_closes_after_seven_days(app, client, frozen):
    cast = make_cast(app, client)
    clue = cast.drive("closed", report=UNFOUNDED)
    clock.advance(timedelta(days=7, seconds=1))
    assert cast.mine(clue.tracking_no).json["can_appeal"] is False
    late = cast.appeal(clue.tracking_no)
    assert (late.status_code, late.json["error"]) == (409, "appeal_window_closed")
    assert cast.detail(clue.id)["status"] == "closed"


def test_an_appeal_on_the_last_day_of_the_window_counts(app, client, frozen):
    cast = make_cast(app, client)
    clue = cast.drive("closed", report=UNFOUNDED)
    clock.advance(timedelta(days=6, hours=23))
    assert cast.mine(clue.tracking_no).json["can_appeal"] is True
    assert cast.appeal(clue.tracking_no).status_code == 200


def test_someone_elses_clue_cannot_be_rerated_or_appealed(app, client):
    cast = make_cast(app, client)
    clue = cast.drive("closed", report=UNFOUNDED)
    stranger = h5_resident(client)
    assert cast.rerate(clue.tracking_no, 1, False, resident=stranger).status_code == 404
    assert cast.appeal(clue.tracking_no, resident=stranger).status_code == 404
    assert cast.detail(clue.id)["status"] == "closed"


# ---------------------------------------------------------------- discipline referral


def _audit_actions(app, referral_id: int) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(AuditLog.action)
                .where(AuditLog.object_type == "referral", AuditLog.object_id == str(referral_id))
                .order_by(AuditLog.id)
            )
        )


def test_refer_receive_conclude_with_a_sealed_dossier(app, client):
    cast = make_cast(app, client)
    clue = cast.drive("closed")
    liaison = cast.as_(cast.liaison)
    assert client.get("/api/v1/referrals", headers=liaison).json["total"] == 0

    cast.step(cast.superior, clue.id, "refer", to="closed", note="涉嫌违反工作纪律")
    again = cast.act(cast.screener, clue.id, "refer")
    assert (again.status_code, again.json["error"]) == (409, "already_referred")

    inbox = client.get("/api/v1/referrals", headers=liaison).json
    assert inbox["total"] == 1
    referral = inbox["items"][0]
    assert referral["tracking_no"] == clue.tracking_no and referral["status"] == "pending"
    assert referral["seal_intact"] is True and len(referral["dossier_sha256"]) == 64
    dossier = referral["dossier"]
    assert dossier["clue"]["officer"]["name"] == cast.officer.name
    assert [r["findings"] for r in dossier["reports"]] == [REPORT["findings"]]
    assert [e["action"] for e in dossier["events"]][-2:] == ["approve", "refer"]

    rid = referral["id"]
    early = client.post(
        f"/api/v1/referrals/{rid}/conclude",
        headers=liaison,
        json={"persons_handled": 1, "measures": "诫勉谈话"},
    )
    assert (early.status_code, early.json["error"]) == (409, "illegal_transition")
    received = client.post(f"/api/v1/referrals/{rid}/receive", headers=liaison)
    assert received.status_code == 200 and received.json["status"] == "received"
    twice = client.post(f"/api/v1/referrals/{rid}/receive", headers=liaison)
    assert twice.status_code == 409
    concluded = client.post(
        f"/api/v1/referrals/{rid}/conclude",
        headers=liaison,
        json={"persons_handled": 1, "measures": "诫勉谈话"},
    )
    assert concluded.status_code == 200, concluded.json
    assert (
        concluded.json["status"],
        concluded.json["persons_handled"],
        concluded.json["measures"],
    ) == ("concluded", 1, "诫勉谈话")
    assert concluded.json["seal_intact"] is True
    # Listing the referrals hands out the dossier, so it is a read on the trail like GET /{id}.
    assert _audit_actions(app, rid) == [
        "referral.create",
        "referral.read",
        "referral.receive",
        "referral.conclude",
    ]

    # Anyone editing the sealed dossier afterwards shows.
    with app.app_context():
        row = db.session.get(Referral, rid)
        tampered = {**row.dossier, "clue": {**row.dossier["clue"], "persons_handled": 0}}
        db.session.execute(sa.update(Referral).where(Referral.id == rid).values(dossier=tampered))
        db.session.commit()
    shown = client.get(f"/api/v1/referrals/{rid}", headers=liaison).json
    assert shown["seal_intact"] is False
    assert client.get("/api/v1/referrals", headers=liaison).json["items"][0]["seal_intact"] is False


@pytest.mark.parametrize(
    "report",
    [
        pytest.param(UNFOUNDED, id="unfounded"),
        pytest.param({**REPORT, "involves_misconduct": False}, id="substantiated-no-misconduct"),
    ],
)
def test_only_substantiated_misconduct_is_referred(app, client, report):
    cast = make_cast(app, client)
    clue = cast.drive("closed", report=report)
    events = cast.events(clue.id)
    response = cast.act(cast.screener, clue.id, "refer", note="移交")
    assert (response.status_code, response.json["error"]) == (409, "not_referable")
    assert cast.events(clue.id) == events
    assert client.get("/api/v1/referrals", headers=cast.as_(cast.liaison)).json["total"] == 0


def test_an_unfounded_report_cannot_claim_misconduct(app, client):
    cast = make_cast(app, client)
    clue = cast.drive("verifying")
    response = cast.act(
        cast.verifier, clue.id, "submit_report", **{**UNFOUNDED, "involves_misconduct": True}
    )
    assert response.status_code == 422
    assert response.json["details"]["fields"] == {"involves_misconduct": ["查否时不能为是"]}
    assert cast.detail(clue.id)["status"] == "verifying"
