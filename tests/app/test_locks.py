"""Database leases: one holder at a time, renewal, release, takeover after a lapse."""

from __future__ import annotations

from datetime import timedelta

from app import clock
from app.locks import acquire_lease, lease_holder, release_lease

TTL = timedelta(seconds=60)


def test_one_holder_at_a_time_and_takeover_after_lapse(app):
    clock.set_now(clock.utcnow())
    try:
        with app.app_context():
            assert acquire_lease("job", "a", TTL)
            assert not acquire_lease("job", "b", TTL)
            assert lease_holder("job") == "a"
            clock.advance(timedelta(seconds=45))
            assert acquire_lease("job", "a", TTL)  # renewal
            clock.advance(timedelta(seconds=45))
            assert not acquire_lease("job", "b", TTL)  # renewed 45 s ago, still held
            clock.advance(timedelta(seconds=16))
            assert acquire_lease("job", "b", TTL)  # lapsed: b takes over
            assert not acquire_lease("job", "a", TTL)
            release_lease("job", "b")
            assert lease_holder("job") is None
            assert acquire_lease("job", "a", TTL)
    finally:
        clock.set_now(None)
