"""The loop's edges: a clue 12345 closed that the resident appeals and the superior reopens
always has a unit and a deadline; forwarded clues have an owner and a due date; 改派,
退回交办, 不予受理 after 受理, and the resident's withdrawal before screening."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from app import clock
from app.clock import LOCAL_TZ
from app.extensions import db
from clues import service
from clues.models import ClueStage
from notifications.models import InboxItem
from tests.clues.factories import REPORT, Cast, make_cast
from tests.evaluations.helpers import h5_resident


@pytest.fixture
def cast(app, client):
    clock.set_now(datetime(2026, 11, 2, 10, 0, tzinfo=LOCAL_TZ))
    yield make_cast(app, client)
    clock.set_now(None)


def open_stage(cast: Cast, clue_id: int) -> tuple[str, int | None]:
    with cast.app.app_context():
        stage = db.session.scalars(
            sa.select(ClueStage).where(
                ClueStage.clue_id == clue_id, ClueStage.finished_at.is_(None)
            )
        ).one()
        return stage.stage.value, stage.unit_id


def closed_by_12345(cast: Cast):
    clue = cast.drive("forwarded")
    with cast.app.app_context():
        service.close_forwarded(service.get_clue(clue.id), result="已协调社区处理")
        db.session.commit()
    return clue


def test_a_forwarded_clue_has_an_owner_and_a_due_date(cast):
    clue = cast.drive("forwarded")
    detail = cast.detail(clue.id)
    assert (detail["stage"], detail["stage_unit_id"]) == ("forwarded", cast.units["city"].id)
    assert detail["due_at"] is not None
    assert open_stage(cast, clue.id) == ("forwarded", cast.units["city"].id)


@pytest.mark.parametrize("named", [False, True], ids=["default-unit", "named-unit"])
def test_a_reopened_12345_clue_gets_a_unit_and_a_deadline(cast, named):
    clue = closed_by_12345(cast)
    assert cast.appeal(clue.tracking_no).json["status"] == "appealed"
    body = {
        "note": "群众反映问题没有解决",
        **({"unit_id": cast.units["court_a"].id} if named else {}),
    }
    reopened = cast.step(cast.superior, clue.id, "reopen", to="verifying", **body)
    unit = cast.units["court_a" if named else "station_a"]
    assert reopened["assigned_unit"]["id"] == unit.id
    assert reopened["due_at"] is not None and reopened["stage"] == "verification"
    assert open_stage(cast, clue.id) == ("verification", unit.id)
    if not named:
        # The station's verifier sees it, is told, and can finish it.
        assert cast.detail(clue.id, cast.verifier)["status"] == "verifying"
        with cast.app.app_context():
            told = db.session.scalars(
                sa.select(InboxItem.kind).where(
                    InboxItem.staff_id == cast.verifier.id, InboxItem.clue_id == clue.id
                )
            ).all()
        assert "clue_reopen" in told
        cast.step(cast.verifier, clue.id, "submit_report", to="reviewing", **REPORT)


def test_reopening_to_a_unit_out_of_scope_is_refused(cast):
    clue = closed_by_12345(cast)
    cast.appeal(clue.tracking_no)
    refused = cast.act(cast.superior, clue.id, "reopen", unit_id=cast.units["station_b"].id)
    assert (refused.status_code, refused.json["error"]) == (403, "out_of_scope")
    assert cast.detail(clue.id)["status"] == "appealed"


@pytest.mark.parametrize("status", ["assigned", "verifying"])
def test_a_screener_reassigns_with_a_reason(cast, status):
    clue = cast.drive(status)
    moved = cast.step(
        cast.screener,
        clue.id,
        "reassign",
        to="assigned",
        unit_id=cast.units["court_a"].id,
        reason="反映的是法院执行问题",
    )
    assert moved["assigned_unit"]["id"] == cast.units["court_a"].id
    assert open_stage(cast, clue.id) == ("verification", cast.units["court_a"].id)
    event = cast.events(clue.id)[-1]
    assert (event["action"], event["note"]) == ("reassign", "反映的是法院执行问题")
    # The station no longer handles it.
    gone = cast.act(cast.verifier, clue.id, "start")
    assert (gone.status_code, gone.json["error"]) == (403, "out_of_scope")


def test_reassigning_needs_a_reason_and_a_change(cast):
    clue = cast.drive("assigned")
    no_reason = cast.act(cast.screener, clue.id, "reassign", unit_id=cast.units["court_a"].id)
    assert no_reason.status_code == 422 and "reason" in no_reason.json["details"]["fields"]
    same = cast.act(
        cast.screener, clue.id, "reassign", unit_id=cast.units["station_a"].id, reason="重新交办"
    )
    assert same.status_code == 422
    assert same.json["message"] == "改派须换一个核查单位或承办人"


def test_a_verifier_sends_a_wrongly_assigned_clue_back(cast):
    clue = cast.drive("verifying")
    missing = cast.act(cast.verifier, clue.id, "send_back")
    assert missing.status_code == 422 and "reason" in missing.json["details"]["fields"]
    back = cast.step(
        cast.verifier, clue.id, "send_back", to="accepted", reason="不属于本所辖区，应交乙区"
    )
    assert back["assigned_unit"] is None and back["stage"] == "screening"
    assert back["due_at"] is not None
    with cast.app.app_context():
        told = db.session.scalars(
            sa.select(InboxItem.body).where(
                InboxItem.staff_id == cast.screener.id, InboxItem.kind == "clue_send_back"
            )
        ).all()
    assert told == ["不属于本所辖区，应交乙区"]
    # The screener assigns it again.
    cast.step(cast.screener, clue.id, "assign", to="assigned", unit_id=cast.units["court_a"].id)


def test_a_screener_may_still_reject_after_accepting(cast):
    clue = cast.drive("accepted")
    cast.step(
        cast.screener,
        clue.id,
        "reject",
        to="rejected",
        reason="out_of_scope",
        message="属于民事纠纷，请通过诉讼途径解决",
    )
    mine = cast.mine(clue.tracking_no).json
    assert mine["status"] == "rejected" and "民事纠纷" in mine["timeline"][-1]["note"]
    assert cast.detail(clue.id)["due_at"] is None


def test_a_resident_withdraws_a_clue_before_screening(cast, client):
    clue = cast.file()
    stranger = client.post(
        f"/api/v1/me/clues/{clue.tracking_no}/withdraw", headers=h5_resident(client), json={}
    )
    assert stranger.status_code == 404
    withdrawn = client.post(
        f"/api/v1/me/clues/{clue.tracking_no}/withdraw",
        headers=cast.resident,
        json={"reason": "已经私下协商解决"},
    )
    assert withdrawn.status_code == 200, withdrawn.json
    assert withdrawn.json["status"] == "withdrawn"
    detail = cast.detail(clue.id)
    assert (detail["status_label"], detail["due_at"]) == ("已撤回", None)
    with cast.app.app_context():
        stages = db.session.scalars(
            sa.select(ClueStage.finished_at).where(ClueStage.clue_id == clue.id)
        ).all()
    assert all(stages)
    refused = cast.act(cast.screener, clue.id, "accept")
    assert refused.status_code == 409


def test_a_clue_already_accepted_cannot_be_withdrawn(cast, client):
    clue = cast.drive("accepted")
    late = client.post(
        f"/api/v1/me/clues/{clue.tracking_no}/withdraw", headers=cast.resident, json={}
    )
    assert (late.status_code, late.json["error"]) == (409, "illegal_transition")
    assert cast.detail(clue.id)["status"] == "accepted"


def test_the_console_forms_reassign_and_send_back(cast):
    from tests.console.helpers import sign_in

    clue = cast.drive("verifying")
    verifier = sign_in(cast.app, cast.verifier)
    page = verifier.get(f"/console/clues/{clue.id}").get_data(as_text=True)
    assert 'id="send-back-reason"' in page
    assert verifier.act(clue.id, "send_back", reason="应由法院核查").status_code == 303
    cast.step(cast.screener, clue.id, "assign", to="assigned", unit_id=cast.units["station_a"].id)
    screener = sign_in(cast.app, cast.screener)
    assert 'id="reassign-unit"' in screener.get(f"/console/clues/{clue.id}").get_data(as_text=True)
    court = cast.units["court_a"].id
    assert (
        screener.act(clue.id, "reassign", unit_id=court, reason="法院执行问题").status_code == 303
    )
    assert cast.detail(clue.id)["assigned_unit"]["id"] == court
