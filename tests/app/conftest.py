"""Fixtures shared by the app tests."""

from __future__ import annotations

import pytest

from app import clock


@pytest.fixture
def frozen_clock():
    """The application clock stopped at now; tests move it with `frozen_clock.advance`."""
    clock.set_now(clock.utcnow())
    yield clock
    clock.set_now(None)
