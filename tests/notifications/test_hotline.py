"""The 12345 link over real HTTP: a livelihood clue forwarded, signed and deduplicated by event
id; the platform's signed callback closes it, once, and a forged or stale one changes nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask

from app import clock
from app.audit import AuditLog
from app.extensions import db
from clues.models import ClueEvent, ReratingInvitation
from notifications.dispatcher import dispatch_outbox
from notifications.models import Channel, OutboxMessage
from tests.clues.factories import Cast, Filed, make_cast
from tests.fixtures.hotline import (
    HotlineSandbox,
    ensure_delivery_routes,
    run_hotline_sandbox,
    serve_app,
    use_hotline,
)

CALLBACK = "/integrations/12345/callback"
RESULT = "已联系供电所更换小区路灯，经回访群众表示满意"


@pytest.fixture
def hotline() -> Iterator[HotlineSandbox]:
    with run_hotline_sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def live_app(app: Flask) -> Iterator[str]:
    with serve_app(app) as url:
        yield url


@pytest.fixture
def cast(app: Flask, client: Any) -> Cast:
    ensure_delivery_routes(app)
    return make_cast(app, client)


@pytest.fixture
def frozen():
    start = clock.utcnow().replace(microsecond=0)
    clock.set_now(start)
    yield start
    clock.set_now(None)


def forward_row(app: Flask) -> OutboxMessage:
    with app.app_context():
        message = db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.channel == Channel.HOTLINE)
        ).one()
        db.session.expunge(message)
        return message


def dispatch(app: Flask) -> dict[str, int]:
    with app.app_context():
        return dispatch_outbox()


def sign(secret: str, timestamp: str, raw: bytes) -> str:
    """The contract, written out independently of the app's code."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()


def callback(
    client: Any,
    body: dict[str, Any],
    *,
    secret: str,
    timestamp: int | None = None,
    signature: str | None = None,
) -> Any:
    raw = json.dumps(body, ensure_ascii=False).encode()
    stamp = str(int(clock.utcnow().timestamp()) if timestamp is None else timestamp)
    headers = {
        "X-Pingyi-Timestamp": stamp,
        "X-Pingyi-Signature": signature or sign(secret, stamp, raw),
    }
    return client.post(CALLBACK, data=raw, headers=headers, content_type="application/json")


def result_body(filed: Filed, **changes: Any) -> dict[str, Any]:
    return {
        "event_id": f"pingyi-forward-{filed.tracking_no}",
        "tracking_no": filed.tracking_no,
        "status": "closed",
        "result": RESULT,
        "handled_at": "2026-11-21T15:30:00+08:00",
        **changes,
    }


def test_the_full_round_trip(app, client, cast, hotline, live_app):
    use_hotline(app, hotline, callback_base=live_app)
    filed = cast.drive(
        "forwarded", category="livelihood", description="小区门口路灯坏了两个月，晚上出行很不安全"
    )
    event_id = f"pingyi-forward-{filed.tracking_no}"
    assert forward_row(app).event_id == event_id

    assert dispatch(app)["sent"] == 1
    [case] = hotline.cases()
    assert case["event_id"] == event_id
    headers = case["headers"]
    assert headers["X-Pingyi-Event-Id"] == event_id
    assert headers["X-Pingyi-Signature"] == sign(
        hotline.secret, headers["X-Pingyi-Timestamp"], case["raw"].encode()
    )
    body = case["body"]
    assert (body["tracking_no"], body["category"]) == (filed.tracking_no, "livelihood")
    assert body["description"] == "小区门口路灯坏了两个月，晚上出行很不安全"
    assert body["callback_url"] == f"{live_app}{CALLBACK}"
    # The platform's own case number is kept with the clue, the owner and due date stay.
    forwarded = cast.detail(filed.id)
    assert forwarded["hotline_case_no"] == case["case_no"] != ""
    assert forwarded["stage"] == "forwarded" and forwarded["due_at"] is not None

    answer = hotline.resolve(event_id, RESULT)
    assert answer["status_code"] == 200, answer
    assert answer["response"] == {
        "event_id": event_id,
        "tracking_no": filed.tracking_no,
        "status": "closed",
        "replayed": False,
    }
    detail = cast.detail(filed.id)
    assert detail["status"] == "closed"
    assert detail["reporter_message"] == RESULT
    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(ReratingInvitation)
                .where(ReratingInvitation.clue_id == filed.id)
            )
            == 1
        )
        audit = db.session.scalars(
            sa.select(AuditLog).where(AuditLog.action == "clue.close_12345")
        ).one()
        assert (audit.actor_type, audit.actor_name, audit.object_id) == (
            "platform",
            "12345",
            str(filed.id),
        )
        assert audit.details["event_id"] == event_id

    replay = hotline.resolve(event_id, RESULT)
    assert replay["status_code"] == 200
    assert replay["response"]["status"] == "closed" and replay["response"]["replayed"] is True
    closings = [e for e in cast.events(filed.id) if e["action"] == "close_12345"]
    assert len(closings) == 1
    assert dispatch(app)["leased"] == 0  # the forward is not sent again


@pytest.mark.parametrize(
    "overrides",
    [
        {"secret": "not-the-shared-secret"},
        {"timestamp_offset": -310},
        {"timestamp_offset": 310},
    ],
    ids=["bad-signature", "stale", "future"],
)
def test_a_forged_or_stale_callback_changes_nothing(
    app, client, cast, hotline, live_app, overrides
):
    use_hotline(app, hotline, callback_base=live_app)
    filed = cast.drive("forwarded", category="livelihood")
    dispatch(app)
    if "timestamp_offset" in overrides:
        overrides = {"timestamp": int(clock.utcnow().timestamp()) + overrides["timestamp_offset"]}
    answer = hotline.resolve(f"pingyi-forward-{filed.tracking_no}", RESULT, **overrides)
    assert answer["status_code"] == 401
    assert answer["response"]["error"] == "bad_signature"
    assert set(answer["response"]) == {"error", "message", "details"}
    detail = cast.detail(filed.id)
    assert detail["status"] == "forwarded" and detail["reporter_message"] == ""
    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(ClueEvent)
                .where(ClueEvent.action == "close_12345")
            )
            == 0
        )


def test_callback_refusals(app, client, cast, hotline):
    use_hotline(app, hotline)
    secret = hotline.secret
    forwarded = cast.drive("forwarded", category="livelihood")
    submitted = cast.drive("submitted")

    unsigned = client.post(CALLBACK, json=result_body(forwarded))
    assert unsigned.status_code == 401 and unsigned.json["error"] == "bad_signature"
    garbled = callback(client, result_body(forwarded), secret=secret, signature="00" * 32)
    assert garbled.status_code == 401

    unknown = callback(client, result_body(forwarded, tracking_no="XQ20991231-9999"), secret=secret)
    assert unknown.status_code == 404
    wrong_event = callback(
        client, result_body(forwarded, event_id="pingyi-forward-other"), secret=secret
    )
    assert wrong_event.status_code == 422 and wrong_event.json["error"] == "event_mismatch"
    not_forwarded = callback(client, result_body(submitted), secret=secret)
    assert not_forwarded.status_code == 409
    assert not_forwarded.json["details"]["status"] == "submitted"
    bad_status = callback(client, result_body(forwarded, status="rejected"), secret=secret)
    assert bad_status.status_code == 422
    assert cast.detail(forwarded.id)["status"] == "forwarded"

    # Fields the platform may add later do not bounce a result.
    ok = callback(client, result_body(forwarded, satisfaction="满意"), secret=secret)
    assert ok.status_code == 200, ok.json
    assert ok.json["status"] == "closed" and ok.json["replayed"] is False


def test_callbacks_are_refused_while_no_secret_is_configured(app, client, cast):
    forwarded = cast.drive("forwarded", category="livelihood")
    response = callback(client, result_body(forwarded), secret="")
    assert response.status_code == 503
    assert response.json["error"] == "hotline_not_configured"


@pytest.mark.parametrize(
    ("status", "outcome"), [(503, "retry"), (429, "retry"), (400, "dead"), (401, "dead")]
)
def test_platform_errors_are_retried_or_dead_lettered(
    app, client, cast, hotline, frozen, status, outcome
):
    use_hotline(app, hotline)
    cast.drive("forwarded", category="livelihood")
    hotline.fail(status)
    assert dispatch(app)[outcome] == 1
    message = forward_row(app)
    assert message.attempts == 1 and f"HTTP {status}" in message.last_error
    if outcome == "dead":
        assert message.status.value == "dead"
        return
    assert message.status.value == "pending" and message.next_attempt_at > frozen
    clock.set_now(message.next_attempt_at)
    assert dispatch(app)["sent"] == 1
    assert len(hotline.cases()) == 1


def test_a_timed_out_forward_is_sent_again_and_deduplicated_by_event_id(
    app, client, cast, hotline, frozen
):
    use_hotline(app, hotline)
    app.config["HOTLINE_READ_TIMEOUT"] = 0.5
    cast.drive("forwarded", category="livelihood")
    hotline.fail("timeout", delay=1.5)  # the platform takes the case but answers too late
    assert dispatch(app)["retry"] == 1
    assert "超时" in forward_row(app).last_error
    clock.set_now(forward_row(app).next_attempt_at)
    assert dispatch(app)["sent"] == 1

    # The late first delivery is still being handled by the platform: wait for it.
    deadline = time.monotonic() + 10
    while len(calls := [c for c in hotline.calls() if c["status"] == 200]) < 2:
        assert time.monotonic() < deadline, calls
        time.sleep(0.05)
    [case] = hotline.cases()
    assert sorted(c["duplicate"] for c in calls) == [False, True]
    assert {c["event_id"] for c in calls} == {case["event_id"]}


def test_an_unconfigured_link_waits_instead_of_losing_the_clue(app, client, cast, frozen):
    cast.drive("forwarded", category="livelihood")
    assert dispatch(app)["retry"] == 1
    message = forward_row(app)
    assert message.status.value == "pending" and "HOTLINE_URL" in message.last_error


def test_the_stand_in_refuses_unsigned_forwards(hotline):
    body = json.dumps({"event_id": "e1", "tracking_no": "XQ1", "description": "x"}).encode()
    unsigned = requests.post(
        hotline.forward_url, data=body, timeout=5, headers={"X-Pingyi-Event-Id": "e1"}
    )
    assert unsigned.status_code == 401
    stamp = str(int(clock.utcnow().timestamp()))
    signed = requests.post(
        hotline.forward_url,
        data=body,
        timeout=5,
        headers={
            "X-Pingyi-Event-Id": "e1",
            "X-Pingyi-Timestamp": stamp,
            "X-Pingyi-Signature": sign(hotline.secret, stamp, body),
        },
    )
    assert signed.status_code == 200 and signed.json()["duplicate"] is False
    old = str(int((clock.utcnow() - timedelta(minutes=6)).timestamp()))
    stale = requests.post(
        hotline.forward_url,
        data=body,
        timeout=5,
        headers={
            "X-Pingyi-Event-Id": "e1",
            "X-Pingyi-Timestamp": old,
            "X-Pingyi-Signature": sign(hotline.secret, old, body),
        },
    )
    assert stale.status_code == 401
    assert hotline.cases()[0]["event_id"] == "e1" and len(hotline.cases()) == 1
