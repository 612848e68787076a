"""The one source of "now" and of local (Asia/Shanghai) dates.

Everything stored is UTC-aware. Tests and the scheduler's tests move time with `set_now()`.
A test that starts a subprocess (`flask jobs run …`) starts its clock at `PINGYI_FAKE_NOW`
(ISO 8601), but only an app configured with `TESTING` reads that variable: in production a
stray environment variable must not move the time every deadline is judged by.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from flask import Flask

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
FAKE_NOW_VARIABLE = "PINGYI_FAKE_NOW"

_override: Callable[[], datetime] | None = None


def init_app(app: Flask) -> None:
    """Start the clock at $PINGYI_FAKE_NOW when the app is a test app (`TESTING`)."""
    global _override
    raw = os.environ.get(FAKE_NOW_VARIABLE)
    if not raw or not app.config.get("TESTING"):
        return
    start = datetime.fromisoformat(raw)
    if start.tzinfo is None:
        start = start.replace(tzinfo=LOCAL_TZ)
    origin = datetime.now(UTC)
    # The fake clock keeps ticking from the given instant.
    _override = lambda: start.astimezone(UTC) + (datetime.now(UTC) - origin)  # noqa: E731


def utcnow() -> datetime:
    """Current time, UTC-aware."""
    return _override() if _override else datetime.now(UTC)


def set_now(value: datetime | None) -> None:
    """Freeze the clock at `value` (aware), or restore the real clock with None."""
    global _override
    if value is None:
        _override = None
        return
    if value.tzinfo is None:
        raise ValueError("set_now needs an aware datetime")
    frozen = value.astimezone(UTC)
    _override = lambda: frozen  # noqa: E731


def advance(delta: timedelta) -> datetime:
    """Move a frozen clock forward and return the new time."""
    set_now(utcnow() + delta)
    return utcnow()


def local_date(moment: datetime | None = None) -> date:
    """The Asia/Shanghai calendar date of `moment` (default: now)."""
    return (moment or utcnow()).astimezone(LOCAL_TZ).date()


def local_day_start(day: date) -> datetime:
    """00:00 Asia/Shanghai of `day`, as UTC."""
    return datetime.combine(day, time.min, LOCAL_TZ).astimezone(UTC)


def local_day_end(day: date) -> datetime:
    """The last instant of `day` in Asia/Shanghai (23:59:59.999999), as UTC."""
    return local_day_start(day + timedelta(days=1)) - timedelta(microseconds=1)
