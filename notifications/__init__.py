"""Outbox, dispatcher, channels, letters and notices, and the scheduler process."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from notifications import scheduler

    app.cli.add_command(scheduler.scheduler_cli)
