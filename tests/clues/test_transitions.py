"""The transition table in full: every (status, action) pair through the real API.

Each test takes a clue to a status the way users do, then attempts one action as the role the
table names for it. An edge in the table succeeds and lands in its target status (on a fresh
clue); every other pair is 409 `illegal_transition` and changes nothing — which is also why
the refused pairs of one status may share one clue (and one database per engine, per module:
the ~400 pairs stay fast). Should a refused attempt change anything, its own test fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from app import create_app
from app.errors import DomainError, http_status
from app.extensions import db
from app.org.models import StaffAccount
from clues import service
from clues.models import Clue, Outcome
from clues.states import ACTORS_OF, TRANSITIONS, Action, Actor, ClueStatus, next_status
from tests.clues.factories import REPORT, Cast, Filed, make_cast
from tests.conftest import base_config


@dataclass
class World:
    """One cast per engine for this module, and one clue per status for the refused pairs."""

    cast: Cast
    parked: dict[ClueStatus, Filed] = field(default_factory=dict)
    master: Filed | None = None

    def parked_in(self, status: ClueStatus) -> Filed:
        if status not in self.parked:
            self.parked[status] = self.cast.drive(status)
        return self.parked[status]

    def merge_master(self) -> Filed:
        if self.master is None:
            self.master = self.cast.file(description="另一位群众反映同一窗口推诿")
        return self.master


@pytest.fixture(scope="module")
def world(database, tmp_path_factory) -> Iterator[World]:
    """A migrated database of each engine with the cast of a clue's life, for this module."""
    app = create_app(base_config(database.fresh_url(tmp_path_factory.mktemp("transitions"))))
    try:
        yield World(make_cast(app, app.test_client()))
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


BODIES: dict[Action, dict[str, Any]] = {
    Action.ACCEPT: {},
    Action.REJECT: {"reason": "out_of_scope", "message": "不属于政法机关职责，请向有关部门反映"},
    Action.MERGE: {},  # master_id: a second clue, filled in by the test
    Action.FORWARD_12345: {},
    Action.ASSIGN: {},  # unit_id: station A, filled in by the test
    Action.REASSIGN: {"reason": "涉及审判执行，改由法院核查"},  # unit_id: court A, by the test
    Action.SEND_BACK: {"reason": "反映的是法院执行问题，不属于本单位职责"},
    Action.START: {},
    Action.SUBMIT_REPORT: REPORT,
    Action.APPROVE: {"note": "同意"},
    Action.RETURN: {"reason": "未调取监控录像，请补充核查"},
    Action.REQUEST_EXTENSION: {"days": 5, "reason": "需要调取外地的监控录像"},
    Action.APPROVE_EXTENSION: {"note": "同意延期"},
    Action.DENY_EXTENSION: {"note": "不同意延期"},
    Action.REOPEN: {"note": "复核申请有理，重新核查"},
    Action.UPHOLD: {"note": "经复核，原结论正确"},
    Action.REFER: {"note": "涉嫌违纪，移交纪检"},
    Action.APPEAL: {"reason": "处理结果不公正，要求复核"},
    Action.CLOSE_12345: {"result": "12345 已协调社区解决"},
    Action.WITHDRAW: {"reason": "问题已经自行解决"},
}


def _pairs() -> list:
    """Every status × every action × each role the table names for that action."""
    pairs = []
    for status in ClueStatus:
        for action in Action:
            for actor in sorted(ACTORS_OF[action]):
                target = TRANSITIONS.get((status, action, actor))
                outcome = f"to-{target.value}" if target else "409"
                pairs.append(
                    pytest.param(
                        status,
                        action,
                        actor,
                        id=f"{status.value}-{action.value}-{actor.value}-{outcome}",
                    )
                )
    return pairs


def _staff(cast: Cast, actor: Actor) -> StaffAccount:
    return {
        Actor.SCREENER: cast.screener,
        Actor.VERIFIER: cast.verifier,
        Actor.SUPERIOR: cast.superior,
    }[actor]


def _through_the_service(
    cast: Cast, clue: Filed, action: Action, actor: Actor, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """Call the action's service function directly (the 12345 callback has no route here;
    a verifier cannot address a clue outside their unit over HTTP at all)."""
    with cast.app.app_context():
        row = service.get_clue(clue.id, for_update=True)
        try:
            if action is Action.CLOSE_12345:
                service.close_forwarded(row, result=body["result"])
            else:
                staff = db.session.get(StaffAccount, _staff(cast, actor).id)
                perform = {
                    Action.START: lambda: service.start_verification(row, staff=staff),
                    Action.SUBMIT_REPORT: lambda: service.submit_report(
                        row, staff=staff, **{**body, "outcome": Outcome(body["outcome"])}
                    ),
                    Action.REQUEST_EXTENSION: lambda: service.request_extension(
                        row, staff=staff, days=body["days"], reason=body["reason"]
                    ),
                    Action.SEND_BACK: lambda: service.send_back_clue(
                        row, staff=staff, reason=body["reason"]
                    ),
                }[action]
                perform()
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            return http_status(error), {
                "error": error.code,
                "message": error.message,
                "details": error.details,
            }
        return 200, {"status": db.session.get(Clue, clue.id).status.value}


def _attempt(
    cast: Cast, clue: Filed, action: Action, actor: Actor, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    if action is Action.CLOSE_12345:
        return _through_the_service(cast, clue, action, actor, body)
    if action in (Action.APPEAL, Action.WITHDRAW):
        response = cast.client.post(
            f"/api/v1/me/clues/{clue.tracking_no}/{action.value}", headers=cast.resident, json=body
        )
    else:
        response = cast.act(_staff(cast, actor), clue.id, action.value, **body)
    return response.status_code, response.json


# Before assignment no unit is verifying the clue: a verifier cannot even address it.
UNASSIGNED = {
    ClueStatus.SUBMITTED,
    ClueStatus.ACCEPTED,
    ClueStatus.REJECTED,
    ClueStatus.MERGED,
    ClueStatus.FORWARDED,
    ClueStatus.WITHDRAWN,
}


@pytest.mark.parametrize(("status", "action", "actor"), _pairs())
def test_every_status_action_pair(world, status, action, actor):
    cast = world.cast
    target = TRANSITIONS.get((status, action, actor))
    if target is None:
        clue = world.parked_in(status)
    else:
        clue = cast.drive(status, category="livelihood" if action is Action.FORWARD_12345 else None)
    body = dict(BODIES[action])
    if action is Action.MERGE:
        body["master_id"] = world.merge_master().id
    if action is Action.ASSIGN:
        body["unit_id"] = cast.units["station_a"].id
    if action is Action.REASSIGN:
        body["unit_id"] = cast.units["court_a"].id
    if (
        action in (Action.APPROVE_EXTENSION, Action.DENY_EXTENSION)
        and status is ClueStatus.VERIFYING
    ):
        cast.step(
            cast.verifier,
            clue.id,
            "request_extension",
            to="verifying",
            **BODIES[Action.REQUEST_EXTENSION],
        )
    before, events_before = cast.detail(clue.id), cast.events(clue.id)

    code, answer = _attempt(cast, clue, action, actor, body)

    if target is not None:
        assert code == 200, answer
        assert cast.detail(clue.id)["status"] == target.value
        events = cast.events(clue.id)
        assert len(events) == len(events_before) + 1
        assert (
            events[-1]["action"],
            events[-1]["from_status"],
            events[-1]["to_status"],
            events[-1]["role"],
        ) == (action.value, status.value, target.value, actor.value)
        return
    if actor is Actor.VERIFIER and status in UNASSIGNED:
        assert (code, answer["error"]) == (403, "out_of_scope"), answer
        code, answer = _through_the_service(cast, clue, action, actor, body)
    assert code == 409, answer
    assert set(answer) == {"error", "message", "details"}
    assert answer["error"] == "illegal_transition", answer
    # A merged clue's reporter follows the master clue: their appeal is judged on the master
    # (still awaiting screening here).
    judged = (
        ClueStatus.SUBMITTED if (status, action) == (ClueStatus.MERGED, Action.APPEAL) else status
    )
    assert judged.label in answer["message"] and action.label in answer["message"]
    assert answer["details"]["status"] == judged.value
    assert cast.detail(clue.id) == before
    assert cast.events(clue.id) == events_before


STAFF_ACTIONS = [a for a in Action if a not in (Action.APPEAL, Action.CLOSE_12345, Action.WITHDRAW)]
# Where each staff action is allowed, so that only the role stands in the way.
ALLOWED_FROM = {
    action: next(s for (s, a, _) in TRANSITIONS if a == action) for action in STAFF_ACTIONS
}


@pytest.mark.parametrize("action", STAFF_ACTIONS, ids=lambda a: a.value)
def test_a_role_the_action_never_serves_is_refused_with_403(world, action):
    cast = world.cast
    status = ALLOWED_FROM[action]
    category = "livelihood" if action is Action.FORWARD_12345 else None
    clue = cast.drive(status, category=category)
    body = dict(BODIES[action])
    if action is Action.MERGE:
        body["master_id"] = world.merge_master().id
    if action is Action.ASSIGN:
        body["unit_id"] = cast.units["station_a"].id
    if action is Action.REASSIGN:
        body["unit_id"] = cast.units["court_a"].id
    if action in (Action.APPROVE_EXTENSION, Action.DENY_EXTENSION):
        cast.step(
            cast.verifier,
            clue.id,
            "request_extension",
            to="verifying",
            **BODIES[Action.REQUEST_EXTENSION],
        )
    before, events_before = cast.detail(clue.id), cast.events(clue.id)
    everyone = {
        "screener": cast.screener,
        "verifier": cast.verifier,
        "superior": cast.superior,
        "liaison": cast.liaison,
        "analyst": cast.analyst,
        "admin": cast.admin,
    }
    served = {actor.value for actor in ACTORS_OF[action]}
    refused = {role: who for role, who in everyone.items() if role not in served}
    assert refused
    for role, who in refused.items():
        response = cast.act(who, clue.id, action.value, **body)
        assert response.status_code == 403, (role, response.json)
        assert response.json["error"] == "forbidden"
        assert response.json["message"]
    assert cast.detail(clue.id) == before
    assert cast.events(clue.id) == events_before


@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.value)
def test_the_table_refuses_actors_outside_it_with_403(action):
    for actor in set(Actor) - ACTORS_OF[action]:
        for status in ClueStatus:
            with pytest.raises(DomainError) as refused:
                next_status(status, action, actor)
            assert (http_status(refused.value), refused.value.code) == (403, "forbidden")
