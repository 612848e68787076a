"""Retention: with the clock moving over a year, the sweep erases exactly what is due, audits
each erasure without the value, leaves every figure as it was, and an erased phone cannot be
read back anywhere."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import url_for

from app import clock
from app.audit import AuditLog
from app.extensions import db
from app.jobs import run_job
from clues.models import ClueReporter
from clues.tracking import ClueTracking
from evaluations.identity import Resident
from evaluations.models import Evaluation
from tests.clues.factories import Cast, make_cast
from tests.console.helpers import sign_in
from tests.evaluations.helpers import h5_resident, rate

CLOSED_PHONE = "13912340001"
OPEN_PHONE = "13912340002"
REJECTED_PHONE = "13912340003"
DAY = timedelta(days=1)
# Defaults: phones and links 180 days after the case is over (appeal window 7 days), photos
# 365 days, H5 device identities 90 days after last seen, network hashes 30 days.


def _at(moment: datetime) -> None:
    clock.set_now(moment)


def _sweep(app) -> dict[str, int]:
    with app.app_context():
        return run_job("retention_sweep")


def _figures(cast: Cast, day: str) -> dict[str, object]:
    """What statistics, rankings and the ledger say about the period of the test."""
    who = cast.as_(cast.admin)
    period = {"from": "2026-01-01", "to": day}
    overview = cast.client.get("/api/v1/stats/overview", query_string=period, headers=who)
    ranking = cast.client.get(
        "/api/v1/stats/ranking", query_string={"period": "month", "date": day}, headers=who
    )
    ledger = cast.client.get("/api/v1/exports/clues.csv", query_string=period, headers=who)
    for response in (overview, ranking, ledger):
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return {
        "overview": overview.get_json(),
        "ranking": ranking.get_json(),
        "ledger": ledger.get_data(as_text=True),
    }


def _phone_via_api(cast: Cast, clue_id: int) -> str | None:
    response = cast.client.get(
        f"/api/v1/clues/{clue_id}/reporter",
        query_string={"reason": "核实反映人联系方式以便回访"},
        headers=cast.as_(cast.screener),
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["phone"]


def _state(app, clue_ids: dict[str, int]) -> dict[str, object]:
    with app.app_context():
        reporters = {
            name: db.session.get(ClueReporter, clue_id).phone_encrypted is not None
            for name, clue_id in clue_ids.items()
        }
        links = set(db.session.scalars(sa.select(ClueTracking.clue_id)))
        hashes = db.session.scalar(sa.select(sa.func.count()).where(Evaluation.client_hash != ""))
        devices = db.session.scalar(
            sa.select(sa.func.count()).where(Resident.identity_hash.startswith("erased:"))
        )
    return {
        "phones": {name for name, kept in reporters.items() if kept},
        "links": {name for name, clue_id in clue_ids.items() if clue_id in links},
        "hashed_ratings": hashes,
        "erased_devices": devices,
    }


def test_the_sweep_erases_exactly_what_is_due(app, client):
    cast = make_cast(app, client)
    t0 = clock.utcnow()
    _at(t0)
    try:
        _run_the_year(app, cast, t0)
    finally:
        clock.set_now(None)


def _run_the_year(app, cast: Cast, t0: datetime) -> None:
    closed = cast.file(identity="confidential", phone=CLOSED_PHONE)
    photo_id = cast.attach_photo(closed.tracking_no)
    for who, action, to, body in cast.path_to_closed():
        cast.step(who, closed.id, action, to=to, **body)
    still_open = cast.file(identity="confidential", phone=OPEN_PHONE)
    rater = h5_resident(cast.client)
    assert rate(cast.client, rater, cast.code.token, level=4).status_code == 201
    _at(t0 + 2 * DAY)
    rejected = cast.file(identity="confidential", phone=REJECTED_PHONE)
    cast.step(
        cast.screener,
        rejected.id,
        "reject",
        to="rejected",
        reason="no_substance",
        message="反映内容不具体，请补充时间地点后重新反映",
    )
    ids = {"closed": closed.id, "open": still_open.id, "rejected": rejected.id}
    everything = {"closed", "open", "rejected"}
    assert _phone_via_api(cast, closed.id) == CLOSED_PHONE

    # A month: only the ratings' network hashes (30 days) are due.
    _at(t0 + 29 * DAY)
    assert _sweep(app)["address_hashes"] == 0
    _at(t0 + 31 * DAY)
    assert _sweep(app)["address_hashes"] == 1  # the rater's (the clues came without ratings)
    assert _state(app, ids) == {
        "phones": everything,
        "links": everything,
        "hashed_ratings": 0,
        "erased_devices": 0,
    }
    # 90 days after it was last seen, the rater's device identity; the reporter follows a
    # case still open, so theirs stays.
    _at(t0 + 91 * DAY)
    assert _sweep(app)["device_identities"] == 1

    # The closed case is over a week after closure: its phone and link go 187 days after t0;
    # the rejected one two days later; the open one never.
    _at(t0 + 186 * DAY)
    assert _sweep(app) == dict.fromkeys(_KINDS, 0)
    _at(t0 + 188 * DAY)
    day = clock.local_date(clock.utcnow()).isoformat()
    before = _figures(cast, day)
    assert _sweep(app) == {**dict.fromkeys(_KINDS, 0), "reporter_phones": 1, "tracking_links": 1}
    assert _figures(cast, day) == before  # statistics, rankings and the ledger unchanged
    assert _state(app, ids)["phones"] == {"open", "rejected"}
    assert _sweep(app) == dict.fromkeys(_KINDS, 0)  # idempotent
    _assert_unreadable(app, cast, closed.id, CLOSED_PHONE)
    assert _phone_via_api(cast, still_open.id) == OPEN_PHONE

    _at(t0 + 190 * DAY)
    assert _sweep(app)["reporter_phones"] == 1
    assert _state(app, ids)["phones"] == {"open"}
    assert _state(app, ids)["links"] == {"open"}

    # Photos a year after the case was over.
    photo = f"/api/v1/clues/{closed.id}/photos/{photo_id}"
    _at(t0 + 371 * DAY)
    assert _sweep(app)["photos"] == 0
    assert cast.client.get(photo, headers=cast.as_(cast.screener)).status_code == 200
    _at(t0 + 373 * DAY)
    assert _sweep(app)["photos"] == 1
    gone = cast.client.get(photo, headers=cast.as_(cast.screener))
    assert gone.status_code == 410 and gone.get_json()["error"] == "gone"
    _assert_audited(app, closed.id)


_KINDS = ("reporter_phones", "tracking_links", "photos", "device_identities", "address_hashes")


def _assert_unreadable(app, cast: Cast, clue_id: int, phone: str) -> None:
    """No surface gives the erased phone back: API, console, exports, the audit log."""
    assert _phone_via_api(cast, clue_id) is None
    desk = sign_in(app, cast.screener)
    page = desk.post(f"/console/clues/{clue_id}/reporter", reason="核实反映人联系方式以便回访")
    assert page.status_code == 200
    assert phone not in page.get_data(as_text=True)
    who = cast.as_(cast.admin)
    for export in ("/api/v1/exports/clues.csv", "/api/v1/audit"):
        response = cast.client.get(export, headers=who, query_string={"from": "2026-01-01"})
        assert phone not in response.get_data(as_text=True)
    with app.app_context():
        audit = db.session.scalars(sa.select(AuditLog.details)).all()
    assert phone not in repr(audit)


def _assert_audited(app, clue_id: int) -> None:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(AuditLog)
            .where(AuditLog.action == "retention.erase", AuditLog.object_id == str(clue_id))
            .order_by(AuditLog.id)
        ).all()
    assert [row.details["items"] for row in rows] == [
        ["reporter_phone", "tracking_link"],
        [f"photo:{rows[1].details['items'][0].split(':')[1]}"],
    ]
    assert rows[0].details["rule"] == "RETENTION_REPORTER_DAYS=180"
    assert rows[0].actor_type == "system"


def test_every_h5_page_links_the_rules_which_state_the_periods_in_force(app, client):
    cast = make_cast(app, client)
    app.config["RETENTION_REPORTER_DAYS"] = 120
    with app.test_request_context():
        pages = [
            f"/q/{cast.code.token}",
            url_for("h5.my_page"),
            url_for("h5_tracking.lookup_page"),
            url_for("privacy.rules_page"),
        ]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert 'href="/privacy">个人信息处理规则</a>' in response.get_data(as_text=True), path
    rules = client.get("/privacy").get_data(as_text=True)
    assert "再过 120 天删除" in rules and "365 天删除" in rules
