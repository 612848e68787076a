"""Delivery channels of the outbox: each turns a leased message into a `Delivery` (read from the
database inside a short transaction) whose `send()` talks to the outside world with no
transaction open, and whose `settle()` books the channel's own side effects afterwards."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from notifications.models import Channel, OutboxMessage


class Verdict(enum.StrEnum):
    SENT = "sent"
    RETRY = "retry"  # worth another attempt later (busy, rate limited, network, 5xx)
    DEAD = "dead"  # no retry can help (bad field, no quota at WeChat, 4xx)
    SKIPPED = "skipped"  # nothing to send with (no openid, no subscription quota)


@dataclass(frozen=True)
class Result:
    """How one delivery attempt ended; `code` is the remote error code or HTTP status.

    `retry_at` puts a retry off until a known moment instead of the backoff (a per-number daily
    limit resets at midnight); `local` marks a retry decided here without calling anyone (our
    own quota or quiet hours), which is no attempt.
    """

    verdict: Verdict
    error: str = ""
    code: int | str | None = None
    retry_at: datetime | None = None
    local: bool = False

    @property
    def attempted(self) -> bool:
        """Whether the outside world was called (skips are decided before any call)."""
        return self.verdict is not Verdict.SKIPPED and not self.local


def sent() -> Result:
    """Delivered."""
    return Result(Verdict.SENT)


def retry(error: str, code: int | str | None = None, *, at: datetime | None = None) -> Result:
    """Failed for now: try again after a backoff (or at `at`)."""
    return Result(Verdict.RETRY, error, code, retry_at=at)


def defer(error: str, until: datetime) -> Result:
    """Not sent, by a rule of ours, until `until`: no call was made, no attempt is counted."""
    return Result(Verdict.RETRY, error, retry_at=until, local=True)


def dead(error: str, code: int | str | None = None) -> Result:
    """Failed for good: to the dead letters."""
    return Result(Verdict.DEAD, error, code)


def skipped(error: str) -> Result:
    """Not sent, and never will be: nothing to send with."""
    return Result(Verdict.SKIPPED, error)


class Delivery(Protocol):
    """One message made ready to go: plain data only, no ORM objects."""

    def send(self) -> Result:
        """Call the outside world once (never inside a database transaction)."""
        ...

    def settle(self, result: Result) -> None:
        """Book the channel's side effects of `result` in the result's transaction."""
        ...


Prepare = Callable[[OutboxMessage], "Delivery | Result"]


def preparer(channel: Channel) -> Prepare:
    """The function that makes a message of `channel` ready to send."""
    from notifications.channels import hotline, sms, wechat

    return {
        Channel.WECHAT: wechat.prepare,
        Channel.HOTLINE: hotline.prepare,
        Channel.SMS: sms.prepare,
    }[channel]
