"""GET /stats/overview against hand-counted figures (tests/stats/scenario.py), and its edges:
no data, one unit, merged clues counted once, appeals, excluded ratings, Beijing-time period
boundaries, a period that has not ended, scope and roles, a fixed number of queries."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.org.models import Role, Unit
from stats.overview import overview
from tests.clues.factories import make_cast
from tests.evaluations.helpers import h5_resident, rate
from tests.factories import bearer, make_staff
from tests.stats.scenario import CITY, DISTRICT_A, DISTRICT_B, STATION_A, build_november

NOVEMBER = "from=2026-11-01&to=2026-11-30"


def figures_of(response) -> dict:
    assert response.status_code == 200, response.get_json()
    return {
        key: value for key, value in response.json.items() if key not in ("start", "end", "unit")
    }


def assert_figures(actual: dict, expected: dict) -> None:
    for key, value in expected.items():
        if isinstance(value, float):
            assert actual[key] == pytest.approx(value), key
        else:
            assert actual[key] == value, key


def test_november_by_city_district_and_single_unit(app, client, at):
    world = build_november(app, client, at)
    cast, units = world.cast, world.cast.units
    for unit, expected in (
        (units["city"], CITY),
        (units["district_a"], DISTRICT_A),
        (units["district_b"], DISTRICT_B),
        (units["station_a"], STATION_A),
    ):
        response = client.get(
            f"/api/v1/stats/overview?{NOVEMBER}&unit_id={unit.id}", headers=cast.as_(cast.analyst)
        )
        figures = figures_of(response)
        assert response.json["unit"] == {"id": unit.id, "name": unit.name}
        assert (response.json["start"], response.json["end"]) == ("2026-11-01", "2026-11-30")
        assert_figures(figures, expected)
        # Every key the brief names is there, and the funnel adds up.
        assert set(CITY) <= set(figures)
        assert figures["clues_received"] == (
            figures["screened_out"] + figures["clues_assigned"] + figures["pending_screening"]
        )
        assert figures["clues_assigned"] == (
            figures["unfounded"] + figures["substantiated"] + figures["under_verification"]
        )


def test_service_function_matches_the_endpoint(app, client, at):
    world = build_november(app, client, at)
    with app.app_context():
        city = db.session.get(Unit, world.cast.units["city"].id)
        figures = overview(start=date(2026, 11, 1), end=date(2026, 11, 30), root=city)
    assert_figures(figures, CITY)


def test_no_data_gives_null_rates_not_zero(app, client, at):
    at(2026, 11, 2, 9, 0)
    cast = make_cast(app, client)
    response = client.get(
        "/api/v1/stats/overview?from=2025-01-01&to=2025-01-31", headers=cast.as_(cast.screener)
    )
    figures = figures_of(response)
    by_category, targets = figures.pop("by_category"), figures.pop("targets")
    rates = {key for key in figures if key.endswith("_rate")}
    assert rates == {
        "satisfaction_rate",
        "on_time_rate",
        "rerating_satisfaction_rate",
        "rectification_rate",
        "callback_rate",
        "resolved_rate",
    }
    assert all(figures[key] is None for key in rates)
    assert all(figures[key] == 0 for key in set(figures) - rates)
    assert all(row["clues"] == 0 for row in by_category)
    assert targets == {"on_time_rate": 0.995, "satisfaction_rate": 0.836}


def test_october_does_not_see_november(app, client, at):
    """The October clue is October's cohort (and its late stage finished in November)."""
    world = build_november(app, client, at)
    cast = world.cast
    figures = figures_of(
        client.get(
            "/api/v1/stats/overview?from=2026-10-01&to=2026-10-31", headers=cast.as_(cast.admin)
        )
    )
    assert_figures(
        figures,
        {
            "evaluations": 1,
            "satisfied": 1,
            "clues_received": 1,
            "clues_assigned": 1,
            "unfounded": 1,
            "under_verification": 0,
            # Clue O was due on 29 Oct and still open at the end of October: late.
            "stages": 1,
            "stages_on_time": 0,
            "on_time_rate": 0.0,
            "reratings": 0,
            "rerating_satisfaction_rate": None,
            "appeals": 0,
        },
    )


def test_merged_clue_counts_once_even_after_its_master_closes(app, client, at):
    world = build_november(app, client, at)
    cast = world.cast
    figures = figures_of(
        client.get(f"/api/v1/stats/overview?{NOVEMBER}", headers=cast.as_(cast.screener))
    )
    # C5 (merged into C4) is one received clue screened out; C4 is one substantiated clue,
    # and C4's persons handled are counted once.
    assert (figures["merged"], figures["substantiated"], figures["persons_handled"]) == (1, 2, 2)


def test_appeal_decisions_are_counted(app, client, at):
    world = build_november(app, client, at)
    cast = world.cast
    cast.step(cast.superior, world.clues["C8"].id, "uphold", to="closed", note="原核查结论事实清楚")
    figures = figures_of(
        client.get(f"/api/v1/stats/overview?{NOVEMBER}", headers=cast.as_(cast.screener))
    )
    # C8 is closed unfounded again: no longer under verification; its appeal is upheld.
    assert_figures(
        figures,
        {
            "appeals": 1,
            "appeals_upheld": 1,
            "appeals_reopened": 0,
            "unfounded": 2,
            "under_verification": 1,
        },
    )


def test_beijing_day_boundaries(app, client, at):
    at(2026, 11, 2, 9, 0)
    cast = make_cast(app, client)
    for moment, level in (
        ((2026, 10, 31, 23, 59), 1),  # October
        ((2026, 11, 1, 0, 0), 5),  # the first instant of November
        ((2026, 11, 30, 23, 30), 4),  # the last day, late evening
        ((2026, 12, 1, 0, 10), 1),
    ):  # December
        at(*moment)
        response = rate(client, h5_resident(client), cast.code.token, level=level)
        assert response.status_code == 201, response.json
    at(2026, 12, 2, 9, 0)
    figures = figures_of(
        client.get(f"/api/v1/stats/overview?{NOVEMBER}", headers=cast.as_(cast.admin))
    )
    assert (figures["evaluations"], figures["satisfied"], figures["bad_ratings"]) == (2, 2, 0)
    # In UTC the 23:30 rating is on 30 Nov 15:30 and the 00:10 one on 30 Nov 16:10: a UTC
    # period would count the wrong one. One day alone works the same way.
    last_day = figures_of(
        client.get(
            "/api/v1/stats/overview?from=2026-11-30&to=2026-11-30", headers=cast.as_(cast.admin)
        )
    )
    assert (last_day["evaluations"], last_day["satisfaction_rate"]) == (1, 1.0)


def test_a_period_not_yet_over_counts_only_what_is_already_late(app, client, at):
    """Mid-November, clue C7's stage (due about 23 Nov) is not late yet."""
    at(2026, 11, 2, 9, 0)
    cast = make_cast(app, client)
    cast.drive("verifying", resident=h5_resident(client))
    at(2026, 11, 10, 9, 0)
    figures = figures_of(
        client.get(f"/api/v1/stats/overview?{NOVEMBER}", headers=cast.as_(cast.admin))
    )
    assert (figures["stages"], figures["on_time_rate"]) == (0, None)
    at(2026, 12, 1, 9, 0)
    figures = figures_of(
        client.get(f"/api/v1/stats/overview?{NOVEMBER}", headers=cast.as_(cast.admin))
    )
    assert (figures["stages"], figures["on_time_rate"]) == (1, 0.0)


def test_defaults_are_the_callers_unit_and_this_month(app, client, at):
    at(2026, 11, 18, 9, 0)
    cast = make_cast(app, client)
    response = client.get("/api/v1/stats/overview", headers=cast.as_(cast.superior))
    assert response.status_code == 200, response.json
    assert response.json["unit"]["id"] == cast.units["district_a"].id
    assert (response.json["start"], response.json["end"]) == ("2026-11-01", "2026-11-18")
    only_to = client.get("/api/v1/stats/overview?to=2026-10-15", headers=cast.as_(cast.admin))
    assert (only_to.json["start"], only_to.json["end"]) == ("2026-10-01", "2026-10-15")


@pytest.mark.parametrize(
    "query, status",
    [
        ("from=2026-11-30&to=2026-11-01", 422),
        ("from=2026-13-01", 422),
        ("unit_id=999999", 404),
    ],
)
def test_bad_parameters(app, client, at, query, status):
    at(2026, 11, 2, 9, 0)
    cast = make_cast(app, client)
    response = client.get(f"/api/v1/stats/overview?{query}", headers=cast.as_(cast.admin))
    assert response.status_code == status, response.json
    assert "error" in response.json


def test_roles_and_scope(app, client, at):
    at(2026, 11, 2, 9, 0)
    cast = make_cast(app, client)
    units = cast.units
    for who in (cast.screener, cast.superior, cast.analyst, cast.admin, cast.liaison):
        assert client.get("/api/v1/stats/overview", headers=cast.as_(who)).status_code == 200
    denied = client.get("/api/v1/stats/overview", headers=cast.as_(cast.verifier))
    assert (denied.status_code, denied.json["error"]) == (403, "forbidden")
    outside = client.get(
        f"/api/v1/stats/overview?unit_id={units['district_b'].id}", headers=cast.as_(cast.superior)
    )
    assert (outside.status_code, outside.json["error"]) == (403, "out_of_scope")
    assert client.get("/api/v1/stats/overview").status_code == 401
    district_analyst = make_staff(app, Role.ANALYST, units["district_b"])
    upward = client.get(
        f"/api/v1/stats/overview?unit_id={units['city'].id}", headers=bearer(app, district_analyst)
    )
    assert upward.status_code == 403


def test_a_fixed_number_of_queries(app, client, at):
    world = build_november(app, client, at)

    def statements(day_from: date, day_to: date) -> int:
        count = 0

        def tally(*_: object) -> None:
            nonlocal count
            count += 1

        with app.app_context():
            city = db.session.get(Unit, world.cast.units["city"].id)
            db.session.execute(sa.text("SELECT 1"))
            sa.event.listen(db.engine, "before_cursor_execute", tally)
            try:
                overview(start=day_from, end=day_to, root=city)
            finally:
                sa.event.remove(db.engine, "before_cursor_execute", tally)
        return count

    empty = statements(date(2025, 1, 1), date(2025, 1, 31))
    full = statements(date(2026, 10, 1), date(2026, 11, 30))
    # Four for the figures of SPEC.md "Statistics" (the rollups of ratings, of clues by
    # category and of handling; the stages still late), two for the practices' own
    # (rectifications, return visits; 案结事了 comes from the handling rollup).
    assert empty == full == 4 + 2
