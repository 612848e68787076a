"""Two staff members acting on one clue at the same moment: exactly one wins, the other is
told the clue has moved on (409), and the trail holds one transition."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa

from app.errors import DomainError, http_status
from app.extensions import db
from app.org.models import Role, StaffAccount
from clues import service
from clues.models import Clue, ReratingInvitation
from clues.states import ClueStatus
from tests.clues.factories import make_cast
from tests.factories import bearer, make_staff

REJECT = {"reason": "no_substance", "message": "反映内容不具体，无法核查"}


def _at_once(
    app, requests: list[tuple[str, dict[str, str], dict[str, Any]]]
) -> list[tuple[int, dict[str, Any]]]:
    """POST every request from its own thread and test client, released together."""
    barrier = threading.Barrier(len(requests))
    results: list[Any] = [None] * len(requests)

    def send(index: int, path: str, headers: dict[str, str], body: dict[str, Any]) -> None:
        client = app.test_client()
        barrier.wait()
        try:
            response = client.post(path, headers=headers, json=body)
            results[index] = (response.status_code, response.get_json())
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results[index] = exc

    threads = [
        threading.Thread(target=send, args=(i, *request)) for i, request in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(not isinstance(result, BaseException) for result in results), results
    return results


def _one_wins(results: list[tuple[int, dict[str, Any]]]) -> tuple[dict, dict]:
    codes = sorted(code for code, _ in results)
    assert codes == [200, 409], results
    winner = next(body for code, body in results if code == 200)
    loser = next(body for code, body in results if code == 409)
    assert loser["error"] == "illegal_transition", loser
    assert "不能执行" in loser["message"]
    return winner, loser


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(("accept", {}), ("accept", {}), id="both-accept"),
        pytest.param(("accept", {}), ("reject", REJECT), id="accept-and-reject"),
    ],
)
def test_two_screeners_acting_at_once(app, client, first, second):
    cast = make_cast(app, client)
    other_screener = make_staff(app, Role.SCREENER, cast.units["city"])
    clue = cast.file()
    results = _at_once(
        app,
        [
            (f"/api/v1/clues/{clue.id}/{first[0]}", bearer(app, cast.screener), first[1]),
            (f"/api/v1/clues/{clue.id}/{second[0]}", bearer(app, other_screener), second[1]),
        ],
    )
    winner, _ = _one_wins(results)
    assert cast.detail(clue.id)["status"] == winner["status"]
    transitions = [e for e in cast.events(clue.id) if e["from_status"] is not None]
    assert len(transitions) == 1
    assert transitions[0]["to_status"] == winner["status"]


def test_two_superiors_approving_at_once(app, client):
    cast = make_cast(app, client)
    other_superior = make_staff(app, Role.SUPERIOR, cast.units["district_a"])
    clue = cast.drive("reviewing")
    results = _at_once(
        app,
        [
            (f"/api/v1/clues/{clue.id}/approve", bearer(app, cast.superior), {}),
            (f"/api/v1/clues/{clue.id}/approve", bearer(app, other_superior), {"note": "同意"}),
        ],
    )
    _one_wins(results)
    assert cast.detail(clue.id)["status"] == "closed"
    approvals = [e for e in cast.events(clue.id) if e["action"] == "approve"]
    assert len(approvals) == 1
    # The reporter is invited to re-rate once, not once per approver.
    with app.app_context():
        invitations = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(ReratingInvitation)
            .where(ReratingInvitation.clue_id == clue.id)
        )
    assert invitations == 1


@pytest.mark.postgres_only
def test_locking_a_clue_reads_the_state_another_transaction_committed(app, client):
    """The request's scope check loads the clue before the lock is granted; the locked read
    must not hand back that stale copy, or the second of two actors would win as well."""
    cast = make_cast(app, client)
    clue = cast.file()
    with app.app_context():
        seen = service.get_clue(clue.id)  # as the scope check does, without a lock
        assert seen.status is ClueStatus.SUBMITTED
        other = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
        try:
            with other.begin() as conn:  # meanwhile another screener accepts it
                conn.execute(
                    sa.update(Clue).where(Clue.id == clue.id).values(status=ClueStatus.ACCEPTED)
                )
        finally:
            other.dispose()
        locked = service.get_clue(clue.id, for_update=True)
        assert locked.status is ClueStatus.ACCEPTED
        with pytest.raises(DomainError) as refused:
            service.accept_clue(locked, staff=db.session.get(StaffAccount, cast.screener.id))
        assert (http_status(refused.value), refused.value.code) == (409, "illegal_transition")
        db.session.rollback()
