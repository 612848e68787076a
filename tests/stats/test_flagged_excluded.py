"""Flagged ratings stay in the database but never reach a figure: a unit stuffed with one-star
ratings from one network keeps its satisfaction in the ranking, the weekly notice and the
overview, and stays off the 约谈 list."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa

from app.clock import LOCAL_TZ
from app.extensions import db
from app.org.models import Unit
from evaluations.models import Evaluation
from notifications.models import Letter, LetterKind
from stats.notices import weekly_notice
from stats.overview import overview
from stats.ranking import unit_ranking
from tests.factories import make_city
from tests.qr.factories import make_code

WEEK = (date(2026, 11, 23), date(2026, 11, 29))


def rate_from(client, address: str, token: str, level: int):
    """One rating by a fresh H5 identity from `address`."""
    where = {"REMOTE_ADDR": address}
    token_response = client.post("/api/v1/auth/h5", environ_base=where)
    response = client.post(
        "/api/v1/evaluations",
        headers={"Authorization": f"Bearer {token_response.json['token']}"},
        json={"qr_token": token, "level": level},
        environ_base=where,
    )
    assert response.status_code == 201, response.get_json()


def build(app, client, at) -> dict[str, Unit]:
    """In the week of 23–29 Nov 2026: court A 5,5 (100 %); station B 5,1 (50 %, last);
    station A 5,5 from two residents of one IPv6 /64, then twenty one-star ratings from other
    addresses of that /64 — a burst, every one of them flagged."""
    app.config.update(RANKING_MIN_EVALUATIONS=2, RANKING_MIN_STAGES=1, BURST_SAME_NETWORK_LIMIT=2)
    city = make_city(app)
    at(2026, 11, 25, 10, 0)
    codes = {name: make_code(app, city[name]) for name in ("station_a", "court_a", "station_b")}
    for n, level in enumerate((5, 5), start=1):
        rate_from(client, f"203.0.113.{n}", codes["court_a"].token, level)
    for n, level in enumerate((5, 1), start=11):
        rate_from(client, f"203.0.113.{n}", codes["station_b"].token, level)
    for n in range(1, 23):
        rate_from(client, f"2001:db8:7:7::{n:x}", codes["station_a"].token, 5 if n <= 2 else 1)
    return city


def test_flagged_ratings_are_kept_but_reach_no_figure(app, client, at):
    city = build(app, client, at)
    with app.app_context():
        rows = db.session.scalars(
            sa.select(Evaluation).where(Evaluation.unit_id == city["station_a"].id)
        ).all()
        assert len(rows) == 22
        assert sorted(row.level for row in rows if row.is_excluded) == [1] * 20
        assert all(row.flags == ["burst_same_network"] for row in rows if row.is_excluded)

        ranking = unit_ranking(start=WEEK[0], end=WEEK[1])
        figures = {unit.unit_id: unit for unit in ranking.units}
        station_a = figures[city["station_a"].id]
        assert (station_a.evaluations, station_a.satisfaction_rate) == (2, 1.0)
        assert station_a.interview_reasons == []
        assert [unit.unit_id for unit in ranking.interview_list] == [city["station_b"].id]

        figures = overview(start=WEEK[0], end=WEEK[1], root=db.session.get(Unit, city["city"].id))
        assert figures["evaluations"] == 6
        assert figures["excluded_ratings"] == 20
        assert figures["satisfaction_rate"] == 5 / 6


def test_the_weekly_notice_ignores_flagged_ratings(app, client, at):
    city = build(app, client, at)
    with app.app_context():
        weekly_notice(now=datetime(2026, 11, 30, 9, 0, tzinfo=LOCAL_TZ).astimezone(UTC))
        db.session.commit()
        content = db.session.scalars(
            sa.select(Letter.content).where(Letter.kind == LetterKind.NOTICE)
        ).one()
    rows = {row["unit_id"]: row for row in content["units"]}
    station_a = rows[city["station_a"].id]
    assert (station_a["evaluations"], station_a["satisfaction_rate"]) == (2, 1.0)
    assert station_a["reasons"] == []
    assert [row["unit_id"] for row in content["interview_list"]] == [city["station_b"].id]
