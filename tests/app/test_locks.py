"""Database leases: one holder at a time, renewal, release, takeover after a lapse."""

from __future__ import annotations

from datetime import timedelta

from app import clock
from app.locks import acquire_lease, holds_lease, lease_holder, release_lease, take_lease

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


def test_each_takeover_gets_a_new_fencing_token(app, frozen_clock):
    with app.app_context():
        first = take_lease("job", "a", TTL)
        assert take_lease("job", "a", TTL) == first  # a renewal keeps the token
        frozen_clock.advance(TTL + timedelta(seconds=1))
        second = take_lease("job", "b", TTL)
        assert second == first + 1
        assert holds_lease("job", "b", second) and not holds_lease("job", "a", first)
        frozen_clock.advance(TTL + timedelta(seconds=1))
        assert take_lease("job", "a", TTL) == first + 2  # a again, but a new term
        assert not holds_lease("job", "a", first)
