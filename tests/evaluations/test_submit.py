"""Submitting a rating: the whole path, the integrity rules, and every bad input."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.crypto import decrypt_text
from app.extensions import db
from app.org.models import Role
from clues.models import Clue, ClueReporter
from evaluations.models import Evaluation, IdempotencyKey
from tests.app.test_errors import assert_error_shape
from tests.evaluations.helpers import h5_resident, rate, use_sandbox, wechat_resident
from tests.factories import bearer, make_city, make_officer, make_staff
from tests.qr.factories import make_code


def _evaluations(app) -> list[Evaluation]:
    with app.app_context():
        rows = db.session.scalars(sa.select(Evaluation).order_by(Evaluation.id)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


@pytest.fixture
def world(app, client, wechat_sandbox):
    use_sandbox(app, wechat_sandbox)
    city = make_city(app)
    officer = make_officer(app, city["station_a"], name="李明", staff_no="031001")
    return {
        "city": city,
        "officer": officer,
        "code": make_code(app, city["station_a"]),
        "officer_code": make_code(app, city["station_a"], officer=officer),
        "resident": wechat_resident(client),
    }


def test_sandbox_login_scan_rate_duplicate_and_replay(app, client, world):
    code = world["code"]
    assert client.get(f"/api/v1/scan/{code.token}").status_code == 200
    first = rate(
        client,
        world["resident"],
        code.token,
        level=4,
        key="k-1",
        dimensions={"attitude": 5, "efficiency": 4},
        reasons=["办事高效"],
        comment="民警很耐心",
        scene=1011,
        scancode_time=1_795_000_000,
    )
    assert first.status_code == 201, first.json
    assert first.json == {"id": first.json["id"], "clue": None}
    # Same key, same body: the first answer again, nothing new written.
    replay = rate(
        client,
        world["resident"],
        code.token,
        level=4,
        key="k-1",
        dimensions={"attitude": 5, "efficiency": 4},
        reasons=["办事高效"],
        comment="民警很耐心",
        scene=1011,
        scancode_time=1_795_000_000,
    )
    assert replay.status_code == 201 and replay.json == first.json
    assert replay.headers["Idempotent-Replayed"] == "true"
    # Same key, other body: 422.
    assert_error_shape(
        rate(client, world["resident"], code.token, level=1, key="k-1"),
        422,
        "idempotency_key_reused",
    )
    # Another rating of the same code today (new key): 409.
    body = assert_error_shape(
        rate(client, world["resident"], code.token, level=3, key="k-2"), 409, "already_rated"
    )
    assert (
        body["details"]["next_allowed_on"] == (clock.local_date() + timedelta(days=1)).isoformat()
    )
    rows = _evaluations(app)
    assert len(rows) == 1
    row = rows[0]
    assert (row.level, row.dimensions, row.reasons, row.comment) == (
        4,
        {"attitude": 5, "efficiency": 4},
        ["办事高效"],
        "民警很耐心",
    )
    assert (row.channel, row.entry_scene) == ("wechat", 1011)
    assert row.scanned_at == datetime.fromtimestamp(1_795_000_000, UTC)
    assert row.flags == [] and row.is_excluded is False


def test_the_next_period_is_allowed_and_the_limit_is_configurable(app, client, world):
    code = world["code"]
    clock.set_now(datetime(2026, 11, 20, 15, 0, tzinfo=UTC))  # 23:00 Beijing time
    try:
        resident = wechat_resident(client)
        assert rate(client, resident, code.token).status_code == 201
        clock.advance(timedelta(hours=1))  # 00:00 the next day in Beijing
        assert rate(client, resident, code.token).status_code == 201
        app.config["EVALUATION_PERIOD_DAYS"] = 0
        assert rate(client, resident, code.token).status_code == 201
    finally:
        clock.set_now(None)
    assert len(_evaluations(app)) == 3


def test_idempotent_retries_racing_write_one_row(app, client, world):
    code = world["code"]
    results: list[int] = []

    def submit() -> None:
        with app.test_client() as own:
            results.append(rate(own, world["resident"], code.token, key="race").status_code)

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Each twin either replays the first answer (201) or is told it is in flight (409).
    assert set(results) <= {201, 409} and 201 in results
    assert len(_evaluations(app)) == 1
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(IdempotencyKey)) == 1


@pytest.mark.postgres_only
def test_key_in_flight_is_409(app, client, world):
    """While the first request holds the key, a twin is told so instead of waiting."""
    import hashlib

    with app.app_context():
        from evaluations.identity import resident_id_from_token

        rid = resident_id_from_token(world["resident"]["Authorization"].split()[1])
        digest = hashlib.sha256(f"idem:{rid}:held".encode()).digest()
        lock_id = int.from_bytes(digest[:8], "big", signed=True)
        with db.engine.connect() as other:
            with other.begin():
                other.execute(sa.select(sa.func.pg_advisory_xact_lock(lock_id)))
                response = rate(client, world["resident"], world["code"].token, key="held")
        assert_error_shape(response, 409, "idempotency_in_flight")
    assert rate(client, world["resident"], world["code"].token, key="held").status_code == 201


def test_rating_an_officer(app, client, world):
    officer_code = world["officer_code"]
    response = rate(client, world["resident"], officer_code.token, level=5)
    assert response.status_code == 201
    other = make_officer(app, world["city"]["station_a"])
    assert_error_shape(
        rate(client, wechat_resident(client), officer_code.token, officer_id=other.id), 422
    )
    rows = _evaluations(app)
    assert [row.officer_id for row in rows] == [world["officer"].id]
    # A unit code lets the resident name one of the unit's officers.
    assert (
        rate(
            client, world["resident"], world["code"].token, officer_id=world["officer"].id
        ).status_code
        == 201
    )


BAD_INPUTS = [
    ("level zero", {"level": 0}, 422, "level"),
    ("level six", {"level": 6}, 422, "level"),
    ("level as text", {"level": "5"}, 422, "level"),
    ("level missing", {"level": None}, 422, "level"),
    ("unknown dimension", {"dimensions": {"speed": 5}}, 422, "dimensions"),
    ("dimension score 6", {"dimensions": {"attitude": 6}}, 422, "dimensions.attitude"),
    ("reason of another level", {"level": 5, "reasons": ["态度生硬"]}, 422, "reasons"),
    ("comment too long", {"comment": "长" * 501}, 422, "comment"),
    ("unknown field", {"stars": 5}, 422, "stars"),
    ("unknown code", {"qr_token": "NoSuchTokenNoSuchToken0"}, 404, None),
    (
        "clue without phone",
        {
            "clue": {
                "category": "conduct",
                "description": "窗口人员态度恶劣",
                "identity": "confidential",
            }
        },
        422,
        "clue",
    ),
    (
        "anonymous clue with phone",
        {
            "clue": {
                "category": "conduct",
                "description": "态度恶劣了",
                "identity": "anonymous",
                "phone": "13800138000",
            }
        },
        422,
        "clue",
    ),
    (
        "bad phone",
        {
            "clue": {
                "category": "conduct",
                "description": "窗口人员态度恶劣",
                "identity": "confidential",
                "phone": "12345",
            }
        },
        422,
        "clue.phone",
    ),
    (
        "unknown category",
        {
            "clue": {
                "category": "weather",
                "description": "窗口人员态度恶劣",
                "identity": "anonymous",
            }
        },
        422,
        "clue.category",
    ),
]


@pytest.mark.parametrize(
    ("case", "change", "status", "field"), BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS]
)
def test_bad_input_is_refused_and_writes_nothing(app, client, world, case, change, status, field):
    body = {"qr_token": world["code"].token, "level": 4, **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = client.post("/api/v1/evaluations", headers=world["resident"], json=body)
    error = assert_error_shape(response, status)
    if field:
        assert field in error["details"]["fields"], error
    assert _evaluations(app) == []


def test_malformed_json_and_revoked_code_write_nothing(app, client, world):
    assert_error_shape(
        client.post(
            "/api/v1/evaluations",
            data="{level: 5",
            headers={**world["resident"], "Content-Type": "application/json"},
        ),
        400,
        "invalid_json",
    )
    admin = make_staff(app, Role.ADMIN, world["city"]["city"])
    client.post(f"/api/v1/qr-codes/{world['code'].id}/revoke", headers=bearer(app, admin), json={})
    assert_error_shape(rate(client, world["resident"], world["code"].token), 410, "qr_revoked")
    assert _evaluations(app) == []


def test_album_scans_and_bursts_are_flagged_and_excluded(app, client, world):
    code = world["code"]
    album = rate(client, world["resident"], code.token, level=1, scene=1013)
    assert album.status_code == 201
    # Three more residents from the same network within minutes: the third is a burst.
    for _ in range(3):
        assert rate(client, wechat_resident(client), code.token, level=1).status_code == 201
    rows = _evaluations(app)
    assert rows[0].flags == ["album_scan"] and rows[0].is_excluded
    assert [row.flags for row in rows[1:]] == [[], [], ["burst_same_network"]]
    assert [row.is_excluded for row in rows] == [True, False, False, True]


def test_a_clue_is_filed_with_a_tracking_number_and_the_phone_encrypted(app, client, world):
    response = rate(
        client,
        world["resident"],
        world["code"].token,
        level=1,
        comment="等了两个小时没人管",
        clue={
            "category": "buck_passing",
            "description": "窗口推诿，让我跑了三趟",
            "identity": "confidential",
            "phone": "13800138000",
            "officer_id": world["officer"].id,
        },
    )
    assert response.status_code == 201
    clue = response.json["clue"]
    assert re.fullmatch(r"XQ\d{8}-\d{4}", clue["tracking_no"])
    assert clue["status"] == "submitted" and clue["due_at"]
    with app.app_context():
        dump = "".join(
            str(tuple(row))
            for table in ("clues", "clue_reporters", "evaluations")
            for row in db.session.execute(sa.text(f"SELECT * FROM {table}"))
        )
        assert "13800138000" not in dump
        reporter = db.session.scalars(sa.select(ClueReporter)).one()
        assert decrypt_text(reporter.phone_encrypted) == "13800138000"
        filed = db.session.scalars(sa.select(Clue)).one()
        assert (filed.category, filed.officer_id, filed.source) == (
            "buck_passing",
            world["officer"].id,
            "evaluation",
        )


def test_h5_resident_token_and_wechat_token_both_rate(app, client, world):
    assert rate(client, h5_resident(client), world["code"].token).status_code == 201
    assert rate(client, world["resident"], world["code"].token).status_code == 201
    assert len(_evaluations(app)) == 2


def test_missing_or_bad_token(client, world):
    assert_error_shape(
        client.post("/api/v1/evaluations", json={"qr_token": world["code"].token, "level": 5}), 401
    )
    assert_error_shape(rate(client, {"Authorization": "Bearer nope"}, world["code"].token), 401)
    assert_error_shape(rate(client, world["resident"], world["code"].token, key="x" * 101), 422)
