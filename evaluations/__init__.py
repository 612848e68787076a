"""Evaluations: questionnaire, resident identity, rating submission and its integrity rules."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from evaluations import rollups, routes  # noqa: F401  (rollups: their tables, upkeep)

    app.register_blueprint(routes.bp)
