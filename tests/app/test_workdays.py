"""Working days: weekends, holidays and adjusted working days (调休), editable by admins."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.clock import LOCAL_TZ
from app.org.models import Role
from app.workdays import WorkingCalendar, load_calendar
from tests.factories import bearer, make_city, make_staff


@pytest.fixture
def calendar(app) -> WorkingCalendar:
    with app.app_context():
        return load_calendar()


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # 2026 春节: 2/15–2/23 off; Saturday 2/14 and Saturday 2/28 are working days.
        (date(2026, 2, 13), 1, date(2026, 2, 14)),
        (date(2026, 2, 13), 2, date(2026, 2, 24)),
        (date(2026, 2, 12), 15, date(2026, 3, 11)),
        # 2026 国庆: 10/1–10/7 off; Sunday 9/20 and Saturday 10/10 are working days.
        (date(2026, 9, 19), 1, date(2026, 9, 20)),
        (date(2026, 9, 30), 1, date(2026, 10, 8)),
        (date(2026, 9, 30), 3, date(2026, 10, 10)),
        (date(2026, 9, 30), 4, date(2026, 10, 12)),
        # 2025 春节 (1/28–2/4 off, 1/26 and 2/8 working) and 国庆 (10/1–10/8 off, 10/11 working).
        (date(2025, 1, 24), 1, date(2025, 1, 26)),
        (date(2025, 1, 27), 1, date(2025, 2, 5)),
        (date(2025, 9, 30), 1, date(2025, 10, 9)),
        (date(2025, 10, 10), 1, date(2025, 10, 11)),
        # An ordinary week: Friday + 1 is Monday; + 0 is the same day.
        (date(2026, 11, 20), 1, date(2026, 11, 23)),
        (date(2026, 11, 21), 0, date(2026, 11, 21)),
    ],
)
def test_add_working_days(calendar, start, days, expected):
    assert calendar.add_working_days(start, days) == expected


def test_working_days_between_is_the_inverse(calendar):
    start = date(2026, 2, 10)
    for days in range(0, 30):
        end = calendar.add_working_days(start, days)
        assert calendar.working_days_between(start, end) == days


def test_year_totals_match_the_published_schedules(calendar):
    # 2025: 261 weekdays − 18 holiday weekdays + 5 adjusted working days = 248.
    # 2026: 261 weekdays − 19 holiday weekdays + 6 adjusted working days = 248.
    for year in (2025, 2026):
        total = calendar.working_days_between(date(year - 1, 12, 31), date(year, 12, 31))
        assert total == 248, year


def test_deadline_is_end_of_local_day(calendar):
    # Submitted 2026-02-13 23:30 Beijing time; 2 working days later is 2/24, due 23:59:59 local.
    start = datetime(2026, 2, 13, 23, 30, tzinfo=LOCAL_TZ).astimezone(UTC)
    due = calendar.deadline(start, 2)
    assert due.tzinfo is not None
    assert due.astimezone(LOCAL_TZ).replace(microsecond=0) == datetime(
        2026, 2, 24, 23, 59, 59, tzinfo=LOCAL_TZ
    )


def test_admin_edits_change_the_computation(app, client):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["city"])
    headers = bearer(app, admin)

    def add(start: str, days: int) -> str:
        return client.get(
            f"/api/v1/calendar/add-working-days?start={start}&days={days}", headers=headers
        ).json["result"]

    assert add("2026-11-20", 1) == "2026-11-23"
    response = client.put(
        "/api/v1/calendar/2026-11-23",
        headers=headers,
        json={"is_working": False, "name": "临时放假"},
    )
    assert response.status_code == 200 and response.json["source"] == "admin"
    assert add("2026-11-20", 1) == "2026-11-24"
    assert client.delete("/api/v1/calendar/2026-11-23", headers=headers).status_code == 204
    assert add("2026-11-20", 1) == "2026-11-23"
    days = client.get("/api/v1/calendar?year=2026", headers=headers).json
    assert days["working_days"] == 248
    assert {
        "day": "2026-02-14",
        "is_working": True,
        "name": "春节调休上班",
        "source": "official",
    } in days["days"]


def test_bad_dates_are_422(app, client):
    city = make_city(app)
    admin = make_staff(app, Role.ADMIN, city["city"])
    response = client.put(
        "/api/v1/calendar/2026-13-01",
        headers=bearer(app, admin),
        json={"is_working": False, "name": "x"},
    )
    assert response.status_code == 422 and "day" in response.json["details"]["fields"]
