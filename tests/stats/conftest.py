"""Statistics tests: the app with the statistics blueprint, generous rate limits (the fixtures
rate and report many times from one test client), and a clock that is always restored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from app import clock
from app.clock import LOCAL_TZ


@pytest.fixture
def app(app):
    from stats.routes import bp

    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
    # One test client rates and reports dozens of times within a real second; the integrity
    # rules are tested elsewhere, here only the explicit album-scan flag excludes a rating.
    app.config.update(
        RATE_LIMIT_SIGN_IN="10000/minute",
        RATE_LIMIT_ADDRESS="10000/hour",
        RATE_LIMIT_RESIDENT="10000/hour",
        BURST_SAME_NETWORK_LIMIT=10_000,
        BURST_CODE_PER_MINUTE=10_000,
    )
    return app


@pytest.fixture
def at() -> Iterator:
    """at(2026, 11, 30, 23, 30) freezes the clock at that Beijing time; reset afterwards."""

    def move(*fields: int) -> datetime:
        moment = datetime(*fields, tzinfo=LOCAL_TZ)
        clock.set_now(moment)
        return moment

    try:
        yield move
    finally:
        clock.set_now(None)
