"""Writing to the outbox. Rows are added in the caller's transaction, so a message exists if
and only if the change that caused it committed; the dispatcher delivers them afterwards."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from app.clock import utcnow
from app.extensions import db
from notifications.models import Channel, OutboxMessage


def enqueue(
    *,
    channel: Channel,
    kind: str,
    payload: dict[str, Any],
    event_id: str | None = None,
    resident_id: int | None = None,
    clue_id: int | None = None,
    not_before: datetime | None = None,
) -> OutboxMessage:
    """Queue a message for delivery after commit. A stable `event_id` makes it idempotent."""
    message = OutboxMessage(
        event_id=event_id or uuid.uuid4().hex,
        channel=channel,
        kind=kind,
        payload=payload,
        resident_id=resident_id,
        clue_id=clue_id,
        next_attempt_at=not_before or utcnow(),
    )
    db.session.add(message)
    return message
