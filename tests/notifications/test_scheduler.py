"""The scheduler process: a second copy waits while the first holds the lease, then takes over."""

from __future__ import annotations

import threading
import time

from app.locks import lease_holder
from notifications import scheduler


def test_second_scheduler_waits_then_takes_over(app, monkeypatch):
    monkeypatch.setattr(scheduler, "RENEW_EVERY", scheduler.timedelta(seconds=0.2))
    monkeypatch.setattr(scheduler, "LEASE_TTL", scheduler.timedelta(seconds=1))
    first_stop, second_stop = threading.Event(), threading.Event()
    first = threading.Thread(
        target=scheduler.run_scheduler, args=(app,), kwargs={"stop": first_stop}
    )
    second = threading.Thread(
        target=scheduler.run_scheduler, args=(app,), kwargs={"stop": second_stop}
    )
    first.start()
    try:
        holder = _wait_for_holder(app)
        second.start()
        time.sleep(1.5)  # longer than the TTL: the first keeps renewing, the second waits
        with app.app_context():
            assert lease_holder(scheduler.LEASE_NAME) == holder
        first_stop.set()
        first.join(timeout=10)
        assert not first.is_alive()
        taken_over = _wait_for_holder(app, other_than=holder)
        assert taken_over != holder
    finally:
        first_stop.set()
        second_stop.set()
        first.join(timeout=10)
        second.join(timeout=10)
    assert not second.is_alive()


def _wait_for_holder(app, other_than: str | None = None, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            holder = lease_holder(scheduler.LEASE_NAME)
        if holder and holder != other_than:
            return holder
        time.sleep(0.05)
    raise AssertionError("没有调度器取得租约")
