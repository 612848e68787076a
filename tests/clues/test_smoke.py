"""One clue from report to re-rating, end to end through the API."""

from __future__ import annotations

from tests.clues.factories import make_cast


def test_report_screen_assign_verify_approve_rerate(app, client):
    cast = make_cast(app, client)
    summary = cast.report(identity="confidential", phone="13800138000")
    clue_id = cast.clue_id(summary["tracking_no"])
    assert cast.act(cast.screener, clue_id, "accept").json["status"] == "accepted"
    assigned = cast.act(cast.screener, clue_id, "assign", unit_id=cast.units["station_a"].id)
    assert assigned.status_code == 200, assigned.json
    assert assigned.json["status"] == "assigned" and assigned.json["due_at"]
    assert cast.act(cast.verifier, clue_id, "start").json["status"] == "verifying"
    report = cast.act(
        cast.verifier,
        clue_id,
        "submit_report",
        outcome="substantiated",
        findings="经调查属实",
        measures="批评教育",
        persons_handled=1,
        involves_misconduct=True,
        reply_to_reporter="已对相关民警批评教育",
    )
    assert report.json["status"] == "reviewing", report.json
    closed = cast.act(cast.superior, clue_id, "approve")
    assert closed.json["status"] == "closed" and closed.json["outcome"] == "substantiated"
    mine = client.get(f"/api/v1/me/clues/{summary['tracking_no']}", headers=cast.resident).json
    assert mine["outcome_label"] == "属实" and mine["rerating"]["status"] == "pending"
    rerated = client.post(
        f"/api/v1/me/clues/{summary['tracking_no']}/rerating",
        headers=cast.resident,
        json={"level": 5, "resolved": True},
    )
    assert rerated.status_code == 200, rerated.json
    referral = cast.act(cast.screener, clue_id, "refer", note="涉嫌违纪")
    assert referral.status_code == 200, referral.json
    inbox = client.get("/api/v1/referrals", headers=cast.as_(cast.liaison)).json
    assert inbox["total"] == 1 and inbox["items"][0]["seal_intact"]
