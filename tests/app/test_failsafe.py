"""A database that goes away under a request never yields an answer outside the JSON error
shape (gunicorn's plain-text 500), nor turns an answer already made into an error."""

from __future__ import annotations

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
