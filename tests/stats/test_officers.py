"""GET /stats/officers: per-officer counts and rates for the analyst, nothing about residents."""

from __future__ import annotations

import json

from app.org.models import Role
from tests.factories import bearer, make_staff
from tests.stats.scenario import PHONE, build_november

NOVEMBER = "from=2026-11-01&to=2026-11-30"


def test_officer_summaries_of_november(app, client, at):
    world = build_november(app, client, at)
    cast = world.cast
    response = client.get(f"/api/v1/stats/officers?{NOVEMBER}", headers=cast.as_(cast.analyst))
    assert response.status_code == 200, response.json
    assert response.json["unit"]["id"] == cast.units["city"].id
    rows = {row["name"]: row for row in response.json["items"]}
    # 赵强 is deactivated and has no figures: not listed. 王芳 is active: listed with zeros.
    assert set(rows) == {"李明", "王芳"}
    li = rows["李明"]
    assert {
        key: li[key]
        for key in (
            "staff_no",
            "position",
            "unit",
            "evaluations",
            "satisfied",
            "satisfaction_rate",
            "bad_ratings",
            "clues_received",
            "substantiated",
            "unfounded",
            "under_verification",
        )
    } == {
        "staff_no": cast.officer.staff_no,
        "position": "户籍民警",
        "unit": "甲区派出所",
        # Through his own code: levels 5 and 2.
        "evaluations": 2,
        "satisfied": 1,
        "satisfaction_rate": 0.5,
        "bad_ratings": 1,
        # C1–C10 name him; C4 and C6 substantiated, C3 unfounded, C7 and C8 under way.
        "clues_received": 10,
        "substantiated": 2,
        "unfounded": 1,
        "under_verification": 2,
    }
    wang = rows["王芳"]
    assert (wang["evaluations"], wang["satisfaction_rate"], wang["clues_received"]) == (0, None, 0)
    # Counts and rates only: no resident, reporter or free text anywhere in the answer.
    text = json.dumps(response.json, ensure_ascii=False)
    assert PHONE not in text and "resident" not in text and "推诿" not in text


def test_officers_of_a_subtree_and_who_may_ask(app, client, at):
    world = build_november(app, client, at)
    cast, units = world.cast, world.cast.units
    district_b = client.get(
        f"/api/v1/stats/officers?{NOVEMBER}&unit_id={units['district_b'].id}",
        headers=cast.as_(cast.admin),
    )
    assert district_b.status_code == 200 and district_b.json["items"] == []
    for who in (cast.screener, cast.superior, cast.verifier, cast.liaison):
        denied = client.get("/api/v1/stats/officers", headers=cast.as_(who))
        assert (denied.status_code, denied.json["error"]) == (403, "forbidden")
    analyst_b = make_staff(app, Role.ANALYST, units["district_b"])
    outside = client.get(
        f"/api/v1/stats/officers?unit_id={units['station_a'].id}", headers=bearer(app, analyst_b)
    )
    assert (outside.status_code, outside.json["error"]) == (403, "out_of_scope")
    # The analyst's own subtree by default: district B has no officers.
    own = client.get(f"/api/v1/stats/officers?{NOVEMBER}", headers=bearer(app, analyst_b))
    assert own.json["unit"]["id"] == units["district_b"].id and own.json["items"] == []
