"""A page of clues costs the same number of queries whatever its size: the read layer batches
what each row shows (stages, reports, extensions, warnings, duplicates)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db
from tests.clues.factories import Cast, make_cast
from tests.conftest import base_config
from tests.console.helpers import sign_in


@contextmanager
def counted(app) -> Iterator[list[str]]:
    """The SQL statements the app runs inside the block."""
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


@pytest.fixture(scope="module")
def cast(database, tmp_path_factory) -> Iterator[Cast]:
    app = create_app(base_config(database.fresh_url(tmp_path_factory.mktemp("counts"))))
    try:
        yield make_cast(app, app.test_client())
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _fill(cast: Cast, total: int) -> None:
    """Clues in every shape a row can take: warnings, reports, extensions, duplicates."""
    while _count(cast) < total:
        n = _count(cast)
        clue = cast.file(description=f"户籍窗口民警推诿，让我来回跑了{n % 7 + 2}趟，第{n}次")
        if n % 5 == 1:
            cast.step(cast.screener, clue.id, "accept", to="accepted")
        if n % 5 == 2:
            for who, action, to, body in cast.path_to_closed()[:4]:
                cast.step(who, clue.id, action, to=to, **body)
        if n % 5 == 3:
            for who, action, to, body in cast.path_to_closed()[:3]:
                cast.step(who, clue.id, action, to=to, **body)
            cast.step(
                cast.verifier, clue.id, "request_extension", to="verifying", days=2, reason="调录像"
            )


def _count(cast: Cast) -> int:
    response = cast.client.get("/api/v1/clues?per_page=1", headers=cast.as_(cast.screener))
    return response.json["total"]


def _queries(cast: Cast, path: str, *, console: bool = False) -> int:
    desk = sign_in(cast.app, cast.screener) if console else None
    headers = {} if console else cast.as_(cast.screener)
    with counted(cast.app) as statements:
        response = desk.get(path) if desk else cast.client.get(path, headers=headers)
    assert response.status_code == 200
    return len(statements)


def test_listing_20_or_200_clues_runs_the_same_number_of_queries(cast):
    _fill(cast, 20)
    small = {
        "api": _queries(cast, "/api/v1/clues?per_page=20"),
        "queue": _queries(cast, "/console/queue", console=True),
        "all": _queries(cast, "/console/clues", console=True),
    }
    _fill(cast, 200)
    large = {
        "api": _queries(cast, "/api/v1/clues?per_page=200"),
        "queue": _queries(cast, "/console/queue", console=True),
        "all": _queries(cast, "/console/clues", console=True),
    }
    assert _count(cast) >= 200
    assert large == small
