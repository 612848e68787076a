"""Rules decided after the first round of tests: the screening deadline runs until
assignment, one appeal per closure, nobody acts on a clue about themselves, and a reporter
merged into an already-closed clue may re-rate it."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.org.models import StaffAccount
from clues.models import ClueStage, ReratingInvitation, Stage
from tests.app.test_errors import assert_error_shape
from tests.clues.factories import make_cast
from tests.evaluations.helpers import h5_resident


def test_screening_runs_until_the_clue_is_assigned(app, client):
    cast = make_cast(app, client)
    clue = cast.file()
    accepted = cast.step(cast.screener, clue.id, "accept", to="accepted")
    assert accepted["stage"] == "screening" and accepted["due_at"]
    cast.step(cast.screener, clue.id, "assign", to="assigned", unit_id=cast.units["station_a"].id)
    with app.app_context():
        stages = db.session.scalars(
            sa.select(ClueStage).where(ClueStage.clue_id == clue.id).order_by(ClueStage.id)
        ).all()
        assert [(s.stage, s.finished_at is not None) for s in stages] == [
            (Stage.SCREENING, True),
            (Stage.VERIFICATION, False),
        ]


def test_one_appeal_per_closure(app, client):
    cast = make_cast(app, client)
    clue = cast.drive("appealed")
    cast.step(cast.superior, clue.id, "uphold", to="closed", note="原结论事实清楚")
    body = assert_error_shape(cast.appeal(clue.tracking_no), 409, "already_appealed")
    assert "已" in body["message"]
    assert cast.mine(clue.tracking_no).json["can_appeal"] is False


def test_a_reopened_and_closed_again_clue_may_be_appealed_again(app, client):
    cast = make_cast(app, client)
    clue = cast.drive("appealed")
    cast.step(cast.superior, clue.id, "reopen", to="verifying")
    cast.step(
        cast.verifier,
        clue.id,
        "submit_report",
        to="reviewing",
        outcome="unfounded",
        findings="补充核查仍查无实据",
    )
    cast.step(cast.superior, clue.id, "approve", to="closed")
    assert cast.appeal(clue.tracking_no).status_code == 200


def test_no_role_acts_on_a_clue_about_themselves(app, client):
    cast = make_cast(app, client)
    clue = cast.file()
    with app.app_context():
        db.session.get(StaffAccount, cast.screener.id).officer_id = cast.officer.id
        db.session.commit()
    # The clue is out of their sight altogether (no hint that it exists), so out of scope.
    assert_error_shape(cast.act(cast.screener, clue.id, "accept"), 403, "out_of_scope")
    assert cast.detail(clue.id, cast.admin)["status"] == "submitted"


def test_merging_into_a_closed_clue_invites_the_reporter(app, client):
    cast = make_cast(app, client)
    master = cast.drive("closed")
    newcomer = h5_resident(client)
    late = cast.file(resident=newcomer, description="同一件事：户籍窗口推诿群众")
    cast.step(cast.screener, late.id, "merge", to="merged", master_id=master.id)
    mine = cast.mine(late.tracking_no, resident=newcomer).json
    assert mine["master_tracking_no"] == master.tracking_no
    assert mine["rerating"]["status"] == "pending"
    assert cast.rerate(late.tracking_no, 4, True, resident=newcomer).status_code == 200
    with app.app_context():
        rated = db.session.scalars(
            sa.select(ReratingInvitation.status).where(ReratingInvitation.clue_id == master.id)
        ).all()
    assert sorted(rated) == ["pending", "rated"]
