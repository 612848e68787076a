"""The scheduler process: a second copy waits while the first holds the lease, then takes over;
a leader that lost its lease writes nothing (fencing)."""

from __future__ import annotations

import threading
import time

import pytest

from app import clock
from app.extensions import db
from app.jobs import JOBS, job
from app.locks import Lease, LeaseLost, lease_holder, take_lease
from notifications import scheduler


def test_second_scheduler_waits_then_takes_over(app, monkeypatch):
    monkeypatch.setitem(app.config, "SCHEDULER_RENEW_SECONDS", 0.2)
    monkeypatch.setitem(app.config, "SCHEDULER_LEASE_SECONDS", 1)
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


TTL = scheduler.timedelta(seconds=10)


def _probe_job(during=None):
    """A job that writes one row (a lease named "probe"), after `during()` if given."""

    def probe() -> dict[str, int]:
        db.session.add(Lease(name="probe", holder="job", expires_at=clock.utcnow()))
        if during:
            during()
        return {"written": 1}

    return probe


def _probe_written(app) -> bool:
    with app.app_context():
        return db.session.get(Lease, "probe") is not None


@pytest.fixture
def frozen(app):
    clock.set_now(clock.utcnow())
    yield clock
    clock.set_now(None)
    JOBS.pop("_probe", None)


def test_a_paused_leader_that_wakes_after_losing_the_lease_runs_no_job(app, frozen):
    job("_probe", "测试")(_probe_job())
    with app.app_context():
        token = take_lease(scheduler.LEASE_NAME, "paused", TTL)
        frozen.advance(TTL * 2)  # paused (SIGSTOP, a frozen VM) past its lease
        assert take_lease(scheduler.LEASE_NAME, "standby", TTL) == token + 1
    with pytest.raises(LeaseLost):
        scheduler.run_fenced(app, "_probe", "paused", token)
    assert not _probe_written(app)
    scheduler.run_fenced(app, "_probe", "standby", token + 1)
    assert _probe_written(app)


def test_a_leader_that_loses_the_lease_during_a_job_commits_nothing(app, frozen):
    def taken_over_meanwhile() -> None:
        frozen.advance(TTL * 2)
        assert take_lease(scheduler.LEASE_NAME, "standby", TTL) is not None

    job("_probe", "测试")(_probe_job(during=taken_over_meanwhile))
    with app.app_context():
        token = take_lease(scheduler.LEASE_NAME, "leader", TTL)
    with pytest.raises(LeaseLost):
        scheduler.run_fenced(app, "_probe", "leader", token)
    assert not _probe_written(app)
