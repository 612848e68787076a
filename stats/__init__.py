"""Statistics: one module of figures that the notices, the dashboards and the exports share."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from stats import notices, routes  # noqa: F401  (notices: their jobs and schedule)

    app.register_blueprint(routes.bp)
