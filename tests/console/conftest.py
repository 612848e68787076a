"""Console tests run on the app with the console wired in (by the factory once it lists the
console among its features; until then, here)."""

from __future__ import annotations

import pytest

from tests.clues.factories import Cast, make_cast


@pytest.fixture
def app(app):
    import console

    if "console" not in app.blueprints:
        console.init_app(app)
    return app


@pytest.fixture
def cast(app, client) -> Cast:
    return make_cast(app, client)
