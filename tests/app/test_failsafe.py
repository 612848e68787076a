"""A database that goes away under a request never yields an answer outside the JSON error
shape (gunicorn's plain-text 500), nor turns an answer already made into an error."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from app.extensions import db


def test_a_connection_lost_before_the_teardown_keeps_the_answer(app, client):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("only PostgreSQL closes a connection under the app")

    @app.get("/_test/connection-lost")
    def connection_lost():
        pid = db.session.scalar(sa.text("SELECT pg_backend_pid()"))
        with db.engine.connect() as other:  # the server restarts: our connection is cut
            other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        return {"answered": True}

    response = client.get("/_test/connection-lost")
    assert response.status_code == 200 and response.get_json() == {"answered": True}
    assert client.get("/healthz").status_code == 200  # the pool dropped the dead connection


def test_an_error_outside_the_handlers_is_answered_in_the_error_shape(app, client):
    broken = [True]

    def broken_teardown(exception):
        if broken:
            broken.pop()
            raise RuntimeError("teardown failed")

    # Last of all teardowns, after the session has ended: only the error escapes.
    app.teardown_appcontext_funcs.insert(0, broken_teardown)

    response = client.get("/healthz")
    assert response.status_code == 500
    assert response.get_json() == {
        "error": "internal_error",
        "message": "服务器内部错误，请稍后重试",
        "details": {},
    }


@pytest.mark.postgres_only
def test_a_pooled_connection_the_server_closed_is_replaced_without_a_ping(app, client):
    """A restart ends the pool's idle connections; the next request gets a new one, and a
    healthy pooled connection costs no SELECT 1 on the way."""
    sent: list[str] = []

    @app.get("/_test/backend")
    def backend():
        return {"pid": db.session.scalar(sa.text("SELECT pg_backend_pid()"))}

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
        url = db.engine.url
    first = client.get("/_test/backend").get_json()["pid"]
    assert client.get("/_test/backend").get_json()["pid"] == first  # the same pooled one
    assert sent == ["SELECT pg_backend_pid()"] * 2  # and no ping before either request

    outside = sa.create_engine(url, poolclass=sa.NullPool)
    with outside.connect() as other:  # the server ends the idle connection, as a restart does
        other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        for _ in range(100):
            if not other.scalar(
                sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": first}
            ):
                break
            time.sleep(0.02)
    outside.dispose()

    response = client.get("/_test/backend")
    assert response.status_code == 200
    assert response.get_json()["pid"] != first
