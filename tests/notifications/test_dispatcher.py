"""The outbox dispatcher: leases, at-least-once delivery after a crash, concurrent dispatchers,
and a slow worker that lost its lease — checked against the WeChat sandbox's record."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app import clock
from app.extensions import db
from notifications.dispatcher import DEFAULTS, backoff, dispatch_outbox, lease_due
from notifications.models import OutboxMessage, SubscriptionQuota
from tests.notifications.test_wechat_channel import (
    SEND,
    T0,
    dispatch,
    queue,
    quota,
    row,
    subscriber,
)

LEASE = timedelta(seconds=DEFAULTS["OUTBOX_LEASE_SECONDS"])


@pytest.fixture
def frozen():
    clock.set_now(T0)
    yield T0
    clock.set_now(None)


def set_quota(app: Flask, resident_id: int, kind: str, remaining: int) -> None:
    """The ledger as if the resident had tapped "allow" `remaining` times."""
    with app.app_context():
        db.session.get(SubscriptionQuota, (resident_id, kind)).remaining = remaining
        db.session.commit()


def alice_with_quota(app: Flask, client: Any, wechat: Any, count: int) -> Any:
    alice = subscriber(app, client, wechat, "alice", kinds=("clue_result",), granted=count)
    set_quota(app, alice.resident_id, "clue_result", count)
    return alice


def test_backoff_is_exponential_with_full_jitter_and_a_cap(app):
    with app.app_context():
        assert backoff(1, rng=lambda: 1.0) == timedelta(seconds=30)
        assert backoff(2, rng=lambda: 1.0) == timedelta(seconds=60)
        assert backoff(4, rng=lambda: 1.0) == timedelta(seconds=240)
        assert backoff(30, rng=lambda: 1.0) == timedelta(hours=1)
        assert backoff(3, rng=lambda: 0.0) == timedelta(seconds=1)  # never immediate
        assert backoff(3, rng=lambda: 0.5) == timedelta(seconds=60)
        delays = {backoff(5) for _ in range(50)}
        assert len(delays) > 40  # jittered, not synchronized
        assert all(timedelta(seconds=1) <= d <= timedelta(seconds=480) for d in delays)


def test_a_row_leased_by_a_worker_that_crashed_is_sent_once_after_the_lease_lapses(
    wired_app, client, wechat, frozen
):
    # Quota to spare on both sides: only the dispatcher can keep a second message from going.
    alice = alice_with_quota(wired_app, client, wechat, 5)
    message_id = queue(wired_app, alice.resident_id)
    with wired_app.app_context():
        assert lease_due(limit=10, worker="crashed-worker") == [message_id]
    # ...and the worker dies here, before sending anything.

    assert dispatch(wired_app)["leased"] == 0
    clock.set_now(T0 + LEASE - timedelta(seconds=1))
    assert dispatch(wired_app)["leased"] == 0
    assert wechat.calls(SEND) == []

    clock.set_now(T0 + LEASE + timedelta(seconds=1))
    assert dispatch(wired_app, worker="rescuer") == {
        "leased": 1,
        "sent": 1,
        "retry": 0,
        "dead": 0,
        "skipped": 0,
        "lost": 0,
    }
    assert dispatch(wired_app)["leased"] == 0
    clock.set_now(T0 + 3 * LEASE)
    assert dispatch(wired_app)["leased"] == 0

    assert len(wechat.messages()) == 1
    message = row(wired_app, message_id)
    assert (message.status.value, message.attempts, message.leased_by) == ("sent", 1, "rescuer")
    assert message.sent_at == T0 + LEASE + timedelta(seconds=1)
    assert quota(wired_app, alice.resident_id, "clue_result") == 4


def test_two_dispatchers_at_once_never_send_a_row_twice(wired_app, client, wechat):
    wired_app.config["OUTBOX_LEASE_BATCH"] = 3
    alice = alice_with_quota(wired_app, client, wechat, 40)
    numbers = [f"XQ20261123-{n:04d}" for n in range(1, 25)]
    for number in numbers:
        queue(wired_app, alice.resident_id, tracking_no=number)

    start = threading.Barrier(2)
    results: dict[str, dict[str, int]] = {}
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            with wired_app.app_context():
                start.wait(timeout=10)
                results[name] = dispatch_outbox(worker=name)
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sum(r["sent"] for r in results.values()) == 24
    assert sum(r["lost"] for r in results.values()) == 0

    sent_numbers = [m["data"]["character_string1"]["value"] for m in wechat.messages()]
    assert sorted(sent_numbers) == numbers  # each exactly once
    with wired_app.app_context():
        statuses = db.session.scalars(sa.select(OutboxMessage.status)).all()
        assert {s.value for s in statuses} == {"sent"}
    assert quota(wired_app, alice.resident_id, "clue_result") == 40 - 24


def test_a_slow_worker_whose_lease_was_taken_over_does_not_overwrite_the_result(
    wired_app, client, wechat, frozen
):
    wired_app.config["WECHAT_READ_TIMEOUT"] = 2
    alice = alice_with_quota(wired_app, client, wechat, 2)
    message_id = queue(wired_app, alice.resident_id)
    wechat.fail("timeout", api=SEND, delay=3)  # the slow worker's send hangs, then times out

    slow: dict[str, dict[str, int]] = {}

    def run_slow() -> None:
        with wired_app.app_context():
            slow["counts"] = dispatch_outbox(worker="slow")

    thread = threading.Thread(target=run_slow)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while wechat.state.failures and time.monotonic() < deadline:
            time.sleep(0.02)  # until the slow worker's request is hanging in the sandbox
        assert not wechat.state.failures

        # Its lease lapses; another run takes the row over and delivers it.
        taken_over_at = T0 + LEASE + timedelta(seconds=1)
        clock.set_now(taken_over_at)
        assert dispatch(wired_app, worker="fast")["sent"] == 1
    finally:
        thread.join(timeout=30)

    # The slow worker's timeout (a retry) came back later and was not recorded.
    assert slow["counts"]["lost"] == 1 and slow["counts"]["retry"] == 0
    message = row(wired_app, message_id)
    assert (message.status.value, message.leased_by, message.attempts, message.last_error) == (
        "sent",
        "fast",
        1,
        "",
    )
    assert message.sent_at == taken_over_at
    assert quota(wired_app, alice.resident_id, "clue_result") == 1
