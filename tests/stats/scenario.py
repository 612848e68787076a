"""November 2026 in the test city, built through the real API, with every figure counted by
hand in the comments. The statistics, ranking, officer and export tests check against it.

Timeline (Beijing time):
- Mon 26 Oct 09:00: the cast. Clue O (an October clue) is assigned to station A with a
  three-working-day deadline and verification starts.
- Sat 31 Oct 23:50: a rating of station A (level 5): October, outside the period.
- Mon 2 Nov 09:00: clue O's report is filed (late) and approved. Ratings of November, and the
  November clues C1–C10 about station A (all naming officer 李明) and C_b about station B.
- Tue 3 Nov 10:00: re-ratings of C3, C4, C6; the appeal of C8.
- Mon 30 Nov 23:30: a rating of station A (level 4): the last minutes of the period, counted.
- Tue 1 Dec 00:10: a rating of station A (level 1): December, not counted.
- Tue 1 Dec 10:00: the clock stays here for the checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.org.models import Officer, Role, StaffAccount
from tests.clues.factories import REPORT, Cast, Filed, make_cast
from tests.evaluations.helpers import h5_resident, rate
from tests.factories import bearer, make_officer, make_staff
from tests.qr.factories import make_code

UNFOUNDED = {
    "outcome": "unfounded",
    "findings": "经调取录像，未发现推诿行为",
    "reply_to_reporter": "经核查，反映的问题不属实",
}
PARTLY = {
    "outcome": "partly_substantiated",
    "findings": "部分属实：答复群众不够耐心",
    "persons_handled": 1,
    "reply_to_reporter": "经核查部分属实，已责令整改",
}
PHONE = "13912345678"

# The figures of November 2026 for the whole city, counted by hand.
CITY = {
    # Ratings: station A 5,4,3,2,1 (+ album scan, excluded) + 30 Nov 23:30 level 4;
    # court A 5,5; station B 5.
    "evaluations": 9,
    "satisfied": 6,
    "satisfaction_rate": 6 / 9,
    "bad_ratings": 2,
    "excluded_ratings": 1,
    # Clues received in November: C1–C10 about station A, C_b about station B.
    "clues_received": 11,
    "rejected": 2,  # C1, C_b
    "merged": 1,  # C5, merged into C4: counted here and nowhere else
    "forwarded": 1,  # C2
    "screened_out": 4,
    "pending_screening": 2,  # C9 submitted, C10 accepted
    "clues_assigned": 5,  # C3, C4, C6, C7, C8
    "unfounded": 1,  # C3 (C8 was closed unfounded too, but is under appeal)
    "substantiated": 2,  # C4 substantiated, C6 partly
    "partly_substantiated": 1,
    "under_verification": 2,  # C7 verifying, C8 appealed
    "persons_handled": 2,  # C4's report 1 + C6's report 1
    "referred": 1,  # C4
    "referral_persons_handled": 2,  # the liaison concluded C4 with 2 people
    # Verification stages: O finished 2 Nov late; C3, C4, C6, C8 finished 2 Nov on time;
    # C7 still open and past due (about 23 Nov) at the end of November.
    "stages": 6,
    "stages_on_time": 4,
    "on_time_rate": 4 / 6,
    # Re-ratings on 3 Nov: C3 level 5 resolved (satisfied), C6 level 4 unresolved, C4 level 2
    # by its reporter (C5's reporter, invited too, does not answer).
    "reratings": 3,
    "rerating_satisfied": 1,
    "rerating_satisfaction_rate": 1 / 3,
    "appeals": 1,
    "appeals_reopened": 0,
    "appeals_upheld": 0,  # C8
}

# District B: station B's rating and C_b.
DISTRICT_B = {
    "evaluations": 1,
    "satisfied": 1,
    "satisfaction_rate": 1.0,
    "bad_ratings": 0,
    "excluded_ratings": 0,
    "clues_received": 1,
    "rejected": 1,
    "merged": 0,
    "forwarded": 0,
    "screened_out": 1,
    "pending_screening": 0,
    "clues_assigned": 0,
    "unfounded": 0,
    "substantiated": 0,
    "partly_substantiated": 0,
    "under_verification": 0,
    "persons_handled": 0,
    "referred": 0,
    "referral_persons_handled": 0,
    "stages": 0,
    "stages_on_time": 0,
    "on_time_rate": None,
    "reratings": 0,
    "rerating_satisfied": 0,
    "rerating_satisfaction_rate": None,
    "appeals": 0,
    "appeals_reopened": 0,
    "appeals_upheld": 0,
}

# District A: the city without district B.
DISTRICT_A = {
    key: CITY[key] - DISTRICT_B[key]
    for key in CITY
    if key not in ("satisfaction_rate", "on_time_rate", "rerating_satisfaction_rate")
}
DISTRICT_A.update(satisfaction_rate=5 / 8, on_time_rate=4 / 6, rerating_satisfaction_rate=1 / 3)

# Station A alone (one unit): district A without the court's two ratings.
STATION_A = {**DISTRICT_A, "evaluations": 6, "satisfied": 3, "satisfaction_rate": 3 / 6}


@dataclass
class November:
    cast: Cast
    clues: dict[str, Filed] = field(default_factory=dict)
    officer_code: Any = None
    court_code: Any = None
    station_b_code: Any = None
    idle_officer: Officer | None = None
    retired_officer: Officer | None = None
    superior_b: StaffAccount | None = None

    def tracking(self, name: str) -> str:
        return self.clues[name].tracking_no


def _rate(cast: Cast, code: Any, level: int, **extra: Any) -> None:
    response = rate(cast.client, h5_resident(cast.client), code.token, level=level, **extra)
    assert response.status_code == 201, response.get_json()


def build_november(app, client, at) -> November:
    """The timeline of the module docstring; leaves the clock at Tue 1 Dec 10:00."""
    at(2026, 10, 26, 9, 0)
    cast = make_cast(app, client)
    world = November(cast)
    units = cast.units
    world.officer_code = make_code(app, units["station_a"], officer=cast.officer)
    world.court_code = make_code(app, units["court_a"])
    world.station_b_code = make_code(app, units["station_b"])
    world.idle_officer = make_officer(app, units["station_a"], name="王芳", staff_no="031002")
    world.retired_officer = make_officer(app, units["station_a"], name="赵强", staff_no="031003")
    world.superior_b = make_staff(app, Role.SUPERIOR, units["district_b"])
    response = client.post(
        f"/api/v1/officers/{world.retired_officer.id}/deactivate", headers=cast.as_(cast.admin)
    )
    assert response.status_code == 200, response.json

    # October: clue O, assigned with a three-working-day deadline.
    old = cast.file(resident=h5_resident(client))
    cast.step(cast.screener, old.id, "accept", to="accepted")
    cast.step(cast.screener, old.id, "assign", to="assigned", unit_id=units["station_a"].id, days=3)
    cast.step(cast.verifier, old.id, "start", to="verifying")
    world.clues["O"] = old
    at(2026, 10, 31, 23, 50)
    _rate(cast, cast.code, 5)

    at(2026, 11, 2, 9, 0)
    cast.step(cast.verifier, old.id, "submit_report", to="reviewing", **UNFOUNDED)
    cast.step(cast.superior, old.id, "approve", to="closed")

    # November's ratings.
    for level in (4, 3, 1):
        _rate(cast, cast.code, level)
    for level in (5, 2):
        _rate(cast, world.officer_code, level)
    _rate(cast, cast.code, 1, scene=1013)  # scanned from the photo album: excluded
    _rate(cast, world.court_code, 5)
    _rate(cast, world.court_code, 5)
    _rate(cast, world.station_b_code, 5)

    # November's clues, each from its own resident.
    residents = {
        name: h5_resident(client)
        for name in ("C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9", "C10")
    }
    clues = world.clues
    clues["C1"] = cast.drive("rejected", resident=residents["C1"])
    clues["C2"] = cast.drive("forwarded", resident=residents["C2"])
    clues["C3"] = cast.drive("closed", resident=residents["C3"], report=UNFOUNDED)
    # C5 reports the same matter as C4 and is merged into it before C4 is handled: its
    # reporter follows C4 (and is invited to re-rate it), the clue itself counts only once.
    clues["C4"] = cast.file(resident=residents["C4"])
    clues["C5"] = cast.file(
        resident=residents["C5"],
        identity="confidential",
        phone=PHONE,
        description="户籍窗口民警推诿，与此前反映的是同一件事",
    )
    cast.step(cast.screener, clues["C5"].id, "merge", to="merged", master_id=clues["C4"].id)
    for who, action, to, body in (
        (cast.screener, "accept", "accepted", {}),
        (cast.screener, "assign", "assigned", {"unit_id": units["station_a"].id}),
        (cast.verifier, "start", "verifying", {}),
        (cast.verifier, "submit_report", "reviewing", REPORT),
        (cast.superior, "approve", "closed", {}),
    ):
        cast.step(who, clues["C4"].id, action, to=to, **body)
    clues["C6"] = cast.drive("closed", resident=residents["C6"], report=PARTLY)
    clues["C7"] = cast.drive("verifying", resident=residents["C7"])
    clues["C8"] = cast.drive("closed", resident=residents["C8"], report=UNFOUNDED)
    clues["C9"] = cast.drive("submitted", resident=residents["C9"])
    clues["C10"] = cast.drive("accepted", resident=residents["C10"])
    registered = client.post(
        "/api/v1/clues",
        headers=cast.as_(cast.screener),
        json={
            "source": "survey",
            "category": "conduct",
            "unit_id": units["station_b"].id,
            "description": "民意测评中群众反映乙区派出所办事拖拉",
        },
    )
    assert registered.status_code == 201, registered.json
    clues["C_b"] = Filed(registered.json["tracking_no"], registered.json["id"])
    cast.step(
        cast.screener,
        clues["C_b"].id,
        "reject",
        to="rejected",
        reason="no_substance",
        message="反映内容不具体",
    )

    # C4 goes to the discipline-inspection liaison, who handles two people.
    cast.step(cast.screener, clues["C4"].id, "refer", to="closed")
    referrals = client.get("/api/v1/referrals", headers=cast.as_(cast.liaison)).json["items"]
    (referral,) = [r for r in referrals if r["clue_id"] == clues["C4"].id]
    for action, body in (
        ("receive", {}),
        ("conclude", {"persons_handled": 2, "measures": "诫勉谈话、调离岗位"}),
    ):
        response = client.post(
            f"/api/v1/referrals/{referral['id']}/{action}",
            json=body,
            headers=cast.as_(cast.liaison),
        )
        assert response.status_code == 200, response.json

    at(2026, 11, 3, 10, 0)
    for name, level, resolved in (("C3", 5, True), ("C6", 4, False), ("C4", 2, False)):
        response = cast.rerate(clues[name].tracking_no, level, resolved, resident=residents[name])
        assert response.status_code == 200, response.json
    response = cast.appeal(clues["C8"].tracking_no, resident=residents["C8"])
    assert response.status_code == 200, response.json

    at(2026, 11, 30, 23, 30)
    _rate(cast, cast.code, 4)
    at(2026, 12, 1, 0, 10)
    _rate(cast, cast.code, 1)
    at(2026, 12, 1, 10, 0)
    return world


def headers(world: November, who: StaffAccount) -> dict[str, str]:
    return bearer(world.cast.app, who)
