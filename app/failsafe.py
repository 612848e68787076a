"""What a request meets when the database goes away under it (a restart, a failover).

Two holes let an answer out of the JSON error shape, both seen in the soak's PostgreSQL restart:
- the request's answer is made, then the session's teardown rolls back on a connection the
  server closed, the rollback raises, and gunicorn answers its own plain-text 500 instead of
  the answer already made: the teardown now ends the session without letting that through;
- anything else that escapes Flask reaches gunicorn: the WSGI wrapper answers it as our 500.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from app.errors import ApiError
from app.extensions import db

log = logging.getLogger(__name__)


def end_session_quietly(exception: BaseException | None = None) -> None:
    """Teardown: end the request's session; a connection lost meanwhile is only logged (the
    pool discards it, the answer stands)."""
    try:
        db.session.remove()
    except SQLAlchemyError as error:
        log.warning("会话结束时数据库连接已断开（%s），已丢弃该连接", type(error).__name__)
        try:
            db.session.remove()  # the broken connection is invalidated by now
        except SQLAlchemyError:
            db.session.registry.clear()


class JsonServerErrors:
    """WSGI wrapper: an exception that escapes the app is answered as our JSON 500.

    The app's own call to start_response is held back until the app returns, so the 500 can
    replace an answer whose teardown failed without calling start_response twice.
    """

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        held: list[tuple[Any, ...]] = []
        started: list[Callable[[bytes], Any]] = []

        def write(data: bytes) -> None:  # the legacy write(): start for real, then write
            if held:
                started.append(start_response(*held.pop()))
            started[0](data)

        def hold(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            held[:] = [(status, headers, exc_info)]
            return write

        try:
            body = self.wsgi_app(environ, hold)
        except Exception:
            log.exception("unhandled error outside the request handlers")
            error = ApiError(500)
            payload = {"error": error.code, "message": error.message, "details": {}}
            content = json.dumps(payload, ensure_ascii=False).encode()
            start_response(
                "500 INTERNAL SERVER ERROR",
                [("Content-Type", "application/json"), ("Content-Length", str(len(content)))],
            )
            return [content]
        if held:
            start_response(*held.pop())
        return body


def init_failsafe(app: Flask) -> None:
    """Register after `db.init_app`: teardowns run last-registered first, so ours ends the
    session before Flask-SQLAlchemy's own (which then finds nothing left to do)."""
    app.teardown_appcontext(end_session_quietly)
    app.wsgi_app = JsonServerErrors(app.wsgi_app)  # type: ignore[method-assign]
