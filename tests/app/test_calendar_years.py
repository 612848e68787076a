"""The holiday calendar's years: a warning (/healthz, console, CLI) when a year deadlines can
reach is not loaded, an admin path to load it, deadlines beyond the known years flagged, and
notices that wait for the first working day."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa

from app import clock
from app.clock import LOCAL_TZ
from app.extensions import db
from app.org.models import Role
from notifications.models import Letter, LetterKind
from stats.notices import monthly_notice, weekly_notice
from tests.clues.factories import make_cast
from tests.console.helpers import sign_in
from tests.factories import bearer, make_city, make_staff

# A schedule in the published format (test data, not the official 2027 schedule).
SCHEDULE_2027 = {
    "year": 2027,
    "source": "测试用放假安排",
    "holidays": [
        {"name": "元旦", "from": "2027-01-01", "to": "2027-01-03"},
        {"name": "春节", "from": "2027-02-06", "to": "2027-02-13"},
    ],
    "workdays": [{"name": "春节调休上班", "date": "2027-02-14"}],
}


@pytest.fixture
def moment():
    yield lambda *args: clock.set_now(datetime(*args, tzinfo=LOCAL_TZ))
    clock.set_now(None)


def test_the_coming_year_is_asked_for_once_deadlines_can_reach_it(app, client, runner, moment):
    moment(2026, 6, 15, 10, 0)
    june = client.get("/healthz").json["calendar"]
    assert (june["ok"], june["missing_years"]) == (True, [])
    moment(2026, 12, 4, 10, 0)
    december = client.get("/healthz").json
    assert december["status"] == "ok"  # still alive: a detail, not an outage
    assert (december["calendar"]["ok"], december["calendar"]["missing_years"]) == (False, [2027])
    assert "2027 年" in december["calendar"]["message"]
    result = runner.invoke(args=["calendar", "status"])
    assert result.exit_code == 1 and "2027 年" in result.output


def test_the_console_shows_the_missing_year_on_every_page(app, moment):
    moment(2026, 12, 4, 10, 0)
    admin = make_staff(app, Role.ADMIN, make_city(app)["city"])
    page = sign_in(app, admin).get("/console/inbox").get_data(as_text=True)
    assert 'role="alert"' in page and "尚未载入 2027 年的法定节假日安排" in page


def test_an_admin_loads_the_coming_year(app, client, moment):
    moment(2026, 12, 4, 10, 0)
    units = make_city(app)
    admin = bearer(app, make_staff(app, Role.ADMIN, units["city"]))
    screener = bearer(app, make_staff(app, Role.SCREENER, units["city"]))
    refused = client.post("/api/v1/calendar/schedules", headers=screener, json=SCHEDULE_2027)
    assert refused.status_code == 403
    backwards = {
        **SCHEDULE_2027,
        "holidays": [{"name": "元旦", "from": "2027-01-03", "to": "2027-01-01"}],
    }
    bad = client.post("/api/v1/calendar/schedules", headers=admin, json=backwards)
    assert bad.status_code == 422 and "holidays.0.to" in bad.json["details"]["fields"]
    stray = {**SCHEDULE_2027, "workdays": [{"name": "调休", "date": "2026-12-26"}]}
    assert client.post("/api/v1/calendar/schedules", headers=admin, json=stray).status_code == 422

    before = client.get(
        "/api/v1/calendar/add-working-days?start=2026-12-31&days=1", headers=screener
    ).json
    assert (before["result"], before["beyond_known_years"]) == ("2027-01-01", True)
    loaded = client.post("/api/v1/calendar/schedules", headers=admin, json=SCHEDULE_2027)
    assert loaded.status_code == 201 and loaded.json == {"year": 2027, "days": 12}
    after = client.get(
        "/api/v1/calendar/add-working-days?start=2026-12-31&days=1", headers=screener
    ).json
    assert (after["result"], after["beyond_known_years"]) == ("2027-01-04", False)
    status = client.get("/api/v1/calendar/status", headers=screener).json
    assert status["ok"] and 2027 in status["known_years"]
    assert client.get("/healthz").json["calendar"]["ok"] is True


def test_a_deadline_in_an_unloaded_year_is_flagged(app, client, moment):
    moment(2026, 12, 21, 10, 0)
    cast = make_cast(app, client)
    late = cast.drive("assigned")  # 15 working days: January 2027
    flagged = cast.detail(late.id)
    assert flagged["due_at"].startswith("2027-01") and flagged["due_beyond_calendar"] is True
    early = cast.drive("accepted")
    station = cast.units["station_a"].id
    soon = cast.step(cast.screener, early.id, "assign", to="assigned", unit_id=station, days=3)
    assert soon["due_at"].startswith("2026-12") and soon["due_beyond_calendar"] is False


def _notices(app, kind: str) -> list[tuple[str, date, date]]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(Letter.issued_at, Letter.period_start, Letter.period_end)
            .where(Letter.kind == LetterKind.NOTICE, Letter.dedupe_key.like(f"notice:{kind}:%"))
            .order_by(Letter.id)
        ).all()
    return [(clock.local_date(i).isoformat(), s, e) for i, s, e in rows]


def run(app, job, *args: int) -> dict:
    now = datetime(*args, tzinfo=LOCAL_TZ)
    clock.set_now(now)
    with app.app_context():
        result = job(now=now)
        db.session.commit()
    return result


def test_notices_wait_for_the_first_working_day(app, moment):
    make_city(app)
    # 国庆 2026: Monday 5 October and Thursday 1 October are holidays; Thursday 8 works.
    assert run(app, weekly_notice, 2026, 10, 5, 9)["issued"] == 0
    assert run(app, monthly_notice, 2026, 10, 1, 9)["issued"] == 0
    assert run(app, weekly_notice, 2026, 10, 8, 9)["issued"] == 1
    assert run(app, monthly_notice, 2026, 10, 8, 9)["issued"] == 1
    assert run(app, weekly_notice, 2026, 10, 9, 9)["issued"] == 0
    assert _notices(app, "weekly") == [("2026-10-08", date(2026, 9, 28), date(2026, 10, 4))]
    assert _notices(app, "monthly") == [("2026-10-08", date(2026, 9, 1), date(2026, 9, 30))]


def test_a_week_of_holidays_hands_its_notice_on(app, moment):
    """春节 2026: 16–20 February are all holidays; Tuesday 24 issues both weeks' notices."""
    make_city(app)
    assert run(app, weekly_notice, 2026, 2, 16, 9)["issued"] == 0
    assert run(app, weekly_notice, 2026, 2, 23, 9)["issued"] == 0
    assert run(app, weekly_notice, 2026, 2, 24, 9)["issued"] == 2
    assert [(issued, start) for issued, start, _ in _notices(app, "weekly")] == [
        ("2026-02-24", date(2026, 2, 9)),
        ("2026-02-24", date(2026, 2, 16)),
    ]
