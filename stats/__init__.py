"""Statistics: one module of figures that the notices, the dashboards and the exports share."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from stats import notices, rollups, routes  # noqa: F401  (notices, rollups: their jobs)

    app.register_blueprint(routes.bp)
    from stats import briefs, practice_routes, public  # noqa: F401  (briefs: its job)

    app.register_blueprint(practice_routes.bp)
    public.init_app(app)
