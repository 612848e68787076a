"""Evaluations: questionnaire, resident identity, rating submission, integrity rules, H5 page."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from evaluations import h5, routes

    app.register_blueprint(routes.bp)
    app.register_blueprint(h5.bp)
