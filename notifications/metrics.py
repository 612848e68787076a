"""The outbox's figures for /metrics: what waits to go out, for how long, and what gave up."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from prometheus_client.core import Metric

from app.clock import utcnow
from app.extensions import db
from app.metrics import gauge, state_metrics
from notifications.models import Channel, OutboxMessage, OutboxStatus


@state_metrics
def outbox_metrics() -> Iterable[Metric]:
    """Pending messages and the age of the oldest by channel; dead letters by channel."""
    now = utcnow()
    pending = {channel.value: 0.0 for channel in Channel}
    oldest = dict(pending)
    dead = dict(pending)
    rows = db.session.execute(
        sa.select(
            OutboxMessage.channel,
            OutboxMessage.status,
            sa.func.count(),
            sa.func.min(OutboxMessage.created_at),
        )
        .where(OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.DEAD]))
        .group_by(OutboxMessage.channel, OutboxMessage.status)
    )
    for channel, status, count, first in rows:
        if status == OutboxStatus.DEAD:
            dead[channel.value] = count
        else:
            pending[channel.value] = count
            oldest[channel.value] = max(0.0, (now - first).total_seconds())
    yield gauge(
        "pingyi_outbox_pending", "Messages waiting to be sent, by channel", "channel", pending
    )
    yield gauge(
        "pingyi_outbox_oldest_pending_age_seconds",
        "Age of the oldest message still waiting, by channel (0: none waiting)",
        "channel",
        oldest,
    )
    yield gauge(
        "pingyi_outbox_dead_letters",
        "Messages given up after permanent errors or too many attempts, by channel",
        "channel",
        dead,
    )
