"""The action catalogue: one entry per staff action of the table, reachable through both
front doors, and `available_actions` telling the truth — a button is enabled exactly when the
action endpoint accepts it, and a disabled button gives the endpoint's own reason."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from app import create_app
from app.extensions import db
from clues.actions import CATALOGUE
from clues.service import ROLE_ACTORS
from clues.states import TRANSITIONS, Action
from tests.clues.factories import Cast, Filed, make_cast
from tests.clues.test_transitions import BODIES
from tests.conftest import base_config
from tests.console.helpers import sign_in

ROLES = ("screener", "verifier", "superior", "liaison", "analyst", "admin")


def test_every_staff_action_of_the_table_has_exactly_one_catalogue_entry():
    staff_actors = set(ROLE_ACTORS.values())
    table = {action for (_, action, actor) in TRANSITIONS if actor in staff_actors}
    assert list(CATALOGUE) == list(dict.fromkeys(CATALOGUE))  # no action twice
    assert set(CATALOGUE) == table
    for action, entry in CATALOGUE.items():
        assert entry.label and entry.help and entry.done, action
        # Roles come from the table, nowhere else.
        assert {ROLE_ACTORS[r] for r in entry.roles} == {
            actor for (_, a, actor) in TRANSITIONS if a is action and actor in staff_actors
        }


def test_every_catalogue_action_is_an_api_endpoint_and_a_console_form(app):
    rules = {rule.rule: rule.methods for rule in app.url_map.iter_rules()}
    for action in CATALOGUE:
        assert "POST" in rules[f"/api/v1/clues/<int:clue_id>/{action.value}"], action


@pytest.fixture(scope="module")
def cast(database, tmp_path_factory) -> Iterator[Cast]:
    app = create_app(base_config(database.fresh_url(tmp_path_factory.mktemp("actions"))))
    try:
        yield make_cast(app, app.test_client())
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _with_pending_extension(cast: Cast) -> Filed:
    clue = cast.drive("verifying")
    cast.step(cast.verifier, clue.id, "request_extension", to="verifying", days=3, reason="调录像")
    return clue


def _referred(cast: Cast) -> Filed:
    clue = cast.file()
    cast.close_and_refer(clue.id)
    return clue


def _unfounded(cast: Cast) -> Filed:
    return cast.drive(
        "closed",
        report={
            **BODIES[Action.SUBMIT_REPORT],
            "outcome": "unfounded",
            "involves_misconduct": False,
            "persons_handled": 0,
        },
    )


# Every status, and the variants where a business guard decides rather than the table.
SCENARIOS: dict[str, Callable[[Cast], Filed]] = {
    "submitted": lambda c: c.drive("submitted"),
    "submitted-livelihood": lambda c: c.drive("submitted", category="livelihood"),
    "accepted": lambda c: c.drive("accepted"),
    "assigned": lambda c: c.drive("assigned"),
    "verifying": lambda c: c.drive("verifying"),
    "verifying-extension-pending": _with_pending_extension,
    "reviewing": lambda c: c.drive("reviewing"),
    "closed-referable": lambda c: c.drive("closed"),
    "closed-referred": _referred,
    "closed-unfounded": _unfounded,
    "appealed": lambda c: c.drive("appealed"),
    "rejected": lambda c: c.drive("rejected"),
    "merged": lambda c: c.drive("merged"),
    "forwarded": lambda c: c.drive("forwarded"),
}


def _body(cast: Cast, action: Action) -> dict[str, Any]:
    body = dict(BODIES[action])
    if action is Action.MERGE:
        body["master_id"] = cast.file(description="另一位群众反映同一窗口推诿").id
    if action is Action.ASSIGN:
        body["unit_id"] = cast.units["station_a"].id
    if action is Action.REASSIGN:
        body["unit_id"] = cast.units["court_a"].id
    return body


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_available_actions_are_exactly_what_the_endpoints_accept(cast, scenario):
    make = SCENARIOS[scenario]
    parked = make(cast)
    for role in ROLES:
        who = getattr(cast, role)
        seen = cast.client.get(f"/api/v1/clues/{parked.id}", headers=cast.as_(who))
        offers = (
            {o["action"]: o for o in seen.json["available_actions"]}
            if seen.status_code == 200
            else {}
        )
        for action in CATALOGUE:
            offer = offers.get(action.value)
            if offer and offer["enabled"]:
                fresh = make(cast)  # an accepted action changes the clue: use a copy
                answer = cast.act(who, fresh.id, action.value, **_body(cast, action))
                assert answer.status_code == 200, (scenario, role, action, answer.json)
                assert offer["reason"] == ""
                continue
            before = cast.detail(parked.id)
            answer = cast.act(who, parked.id, action.value, **_body(cast, action))
            assert answer.status_code in (403, 409), (scenario, role, action, answer.json)
            assert cast.detail(parked.id) == before
            if offer is not None:  # shown disabled: with the endpoint's own reason
                assert offer["reason"] == answer.json["message"], (scenario, role, action)


def test_a_disabled_button_says_why_in_the_console(cast):
    clue = _with_pending_extension(cast)
    offers = cast.detail(clue.id, cast.verifier)["available_actions"]
    assert offers == [
        {"action": "send_back", "label": "退回交办", "enabled": True, "reason": ""},
        {"action": "submit_report", "label": "提交核查报告", "enabled": True, "reason": ""},
        {
            "action": "request_extension",
            "label": "申请延期",
            "enabled": False,
            "reason": "已有待审批的延期申请",
        },
    ]
    page = sign_in(cast.app, cast.verifier).get(f"/console/clues/{clue.id}")
    html = page.get_data(as_text=True)
    assert "已有待审批的延期申请" in html and 'id="action-submit_report"' in html
    assert 'id="action-request_extension"' not in html


def test_the_console_dispatches_every_action_through_the_catalogue(cast):
    # A form for each action reaches the catalogue: a bad form is a 422 form page, never 404.
    clue = cast.drive("submitted")
    for action in CATALOGUE:
        who = getattr(cast, next(r for r in ROLES if r == CATALOGUE[action].roles[0].value))
        answer = sign_in(cast.app, who).act(clue.id, action.value)
        assert answer.status_code != 404, action
    assert sign_in(cast.app, cast.screener).act(clue.id, "fly_away").status_code == 404
