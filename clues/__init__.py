"""Clues (问题线索): the transition table, one service function per action, queries, routes."""

from __future__ import annotations

import click
from flask import Flask


def init_app(app: Flask) -> None:
    from clues import (  # noqa: F401  (metrics, retention: /metrics and the job registry)
        h5,
        intake_routes,
        metrics,
        photos,
        privacy,
        referrals,
        retention,
        rollups,
        routes,
    )

    app.register_blueprint(intake_routes.bp)
    app.register_blueprint(h5.bp)
    app.register_blueprint(routes.bp)
    app.register_blueprint(referrals.bp)
    app.register_blueprint(photos.bp)
    app.register_blueprint(privacy.bp)
    from clues import practice_routes

    app.register_blueprint(practice_routes.bp)
    from clues import h5_tracking, track_routes

    app.register_blueprint(track_routes.bp)
    app.register_blueprint(h5_tracking.bp)
    app.cli.add_command(clues_cli)


@click.group("clues", help="问题线索。")
def clues_cli() -> None:
    pass


@clues_cli.command("states", help="打印线索状态流转表（状态、操作、角色 → 新状态）。")
def print_states() -> None:
    from clues.states import table_rows

    rows = [("当前状态", "操作", "角色", "新状态"), *table_rows()]
    widths = [max(_width(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        click.echo("  ".join(cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row)))


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
