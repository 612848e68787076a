"""The outbox dispatcher (job "outbox_dispatch"): lease due messages, send them, record results.

Three kinds of short transactions, and no transaction while talking to the outside world:

1. lease: due rows (pending, next attempt reached, no live lease) get `lease_until` and
   `leased_by` — PostgreSQL picks them with FOR UPDATE SKIP LOCKED so concurrent dispatchers
   take disjoint rows; SQLite's write transactions are serial anyway;
2. prepare: the channel reads what it needs (openid, quota, template) into plain data, and the
   transaction ends before the network call;
3. record: the result is written only while the row is still leased by this worker, so a slow
   worker whose lease lapsed and was taken over never overwrites the newer result.

Delivery is at least once: a worker that dies between lease and record leaves a lease that
lapses, and the next run sends the row again. Receivers deduplicate by the stable event id
(12345); WeChat cannot, which is why a lease outlives any single send by far.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from app.clock import utcnow
from app.extensions import db
from app.locks import worker_id
from notifications.channels import Delivery, Result, Verdict, preparer, retry
from notifications.models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

DEFAULTS = {
    "OUTBOX_MAX_ATTEMPTS": 8,
    "OUTBOX_LEASE_SECONDS": 300,
    "OUTBOX_LEASE_BATCH": 20,
    "OUTBOX_BACKOFF_BASE_SECONDS": 30,
    "OUTBOX_BACKOFF_CAP_SECONDS": 3600,
}


# A send starts only while this much of its lease remains (a WeChat send with a token refresh
# takes at most two connect+read timeouts), so it ends before anyone else may lease the row.
SEND_MARGIN_SECONDS = 60.0


def _setting(name: str) -> float:
    return float(current_app.config.get(name, DEFAULTS[name]))


def backoff(attempts: int, *, rng: Callable[[], float] = random.random) -> timedelta:
    """Exponential backoff with full jitter: uniform in (0, min(cap, base·2^(attempts-1))].

    Full jitter spreads the retries of a burst (WeChat busy for everyone at once) instead of
    bringing them all back together; at least a second so a retry is never immediate.
    """
    base = _setting("OUTBOX_BACKOFF_BASE_SECONDS")
    cap = _setting("OUTBOX_BACKOFF_CAP_SECONDS")
    ceiling = min(cap, base * 2 ** max(0, attempts - 1))
    return timedelta(seconds=max(1.0, rng() * ceiling))


def lease_due(*, limit: int, worker: str, now: datetime | None = None) -> list[int]:
    """Lease up to `limit` due messages to `worker` and commit; returns their ids."""
    now = now or utcnow()
    lease = timedelta(seconds=_setting("OUTBOX_LEASE_SECONDS"))
    stmt = (
        sa.select(OutboxMessage.id)
        .where(
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at <= now,
            sa.or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until <= now),
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    if db.engine.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    try:
        ids = list(db.session.scalars(stmt))
        if ids:
            db.session.execute(
                sa.update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .values(lease_until=now + lease, leased_by=worker)
            )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return ids


def _still_leased(message_id: int, worker: str) -> sa.Select[tuple[OutboxMessage]]:
    return (
        sa.select(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.leased_by == worker,
            OutboxMessage.status == OutboxStatus.PENDING,
        )
        .with_for_update()
    )


def _apply(message: OutboxMessage, result: Result, now: datetime) -> str:
    """Write `result` onto the row; returns what became of it (sent/retry/dead/skipped)."""
    if result.attempted:
        message.attempts += 1
    message.lease_until = None
    message.last_error = result.error
    if result.verdict is Verdict.SENT:
        message.status, message.sent_at = OutboxStatus.SENT, now
        return "sent"
    if result.verdict is Verdict.SKIPPED:
        message.status = OutboxStatus.SKIPPED
        return "skipped"
    if result.verdict is Verdict.RETRY:
        max_attempts = int(_setting("OUTBOX_MAX_ATTEMPTS"))
        if message.attempts < max_attempts or result.local:
            message.next_attempt_at = (
                max(result.retry_at, now)
                if result.retry_at is not None
                else now + backoff(message.attempts)
            )
            return "retry"
        message.last_error = f"已尝试 {message.attempts} 次仍未成功：{result.error}"
    message.status = OutboxStatus.DEAD
    log.warning(
        "outbox %s (%s/%s) dead: %s",
        message.id,
        message.channel.value,
        message.kind,
        message.last_error,
    )
    return "dead"


def _record(
    message_id: int, worker: str, result: Result, delivery: Delivery | None, now: datetime
) -> str:
    """Book the channel's side effects, then the result if the row is still ours."""
    try:
        if delivery is not None:
            # Quota spent at WeChat is spent whoever owns the row now.
            delivery.settle(result)
        message = db.session.scalar(_still_leased(message_id, worker))
        if message is None:
            db.session.commit()
            log.warning(
                "outbox %s: lease was taken over, result %s not recorded by %s",
                message_id,
                result.verdict.value,
                worker,
            )
            return "lost"
        outcome = _apply(message, result, now)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return outcome


def deliver(message_id: int, *, worker: str, clock: Callable[[], datetime] = utcnow) -> str:
    """Prepare, send and record one leased message; returns sent/retry/dead/skipped/lost."""
    try:
        lease = _setting("OUTBOX_LEASE_SECONDS")
        margin = timedelta(seconds=min(SEND_MARGIN_SECONDS, lease / 2))
        message = db.session.scalar(
            _still_leased(message_id, worker).where(OutboxMessage.lease_until > clock() + margin)
        )
        if message is None:
            # The lease (nearly) lapsed while earlier rows were sent: leave it to the next lease.
            db.session.rollback()
            return "lost"
        try:
            prepared = preparer(message.channel)(message)
        except Exception as error:
            log.exception("outbox %s: preparing failed", message_id)
            prepared = retry(f"准备消息时出错（{type(error).__name__}）")
        if isinstance(prepared, Result):
            outcome = _apply(message, prepared, clock())
            db.session.commit()
            return outcome
        db.session.commit()  # no transaction stays open across the network call
    except Exception:
        db.session.rollback()
        raise
    try:
        result = prepared.send()
    except Exception as error:
        log.exception("outbox %s: sending failed", message_id)
        result = retry(f"发送时出错（{type(error).__name__}）")
    return _record(message_id, worker, result, prepared, clock())


def dispatch_outbox(
    *, limit: int = 200, now: datetime | None = None, worker: str | None = None
) -> dict[str, int]:
    """Deliver up to `limit` due outbox messages; counts of what became of them.

    Leases a small batch at a time, so a slow channel never lets the lease of the rows still
    waiting lapse. Commits as it goes: call it with nothing pending in the session.
    """
    worker = worker or worker_id()
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    batch = max(1, int(_setting("OUTBOX_LEASE_BATCH")))
    counts = {"leased": 0, "sent": 0, "retry": 0, "dead": 0, "skipped": 0, "lost": 0}
    db.session.commit()
    while counts["leased"] < limit:
        ids = lease_due(limit=min(batch, limit - counts["leased"]), worker=worker, now=clock())
        if not ids:
            break
        counts["leased"] += len(ids)
        for message_id in ids:
            counts[deliver(message_id, worker=worker, clock=clock)] += 1
    return counts
