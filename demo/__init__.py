"""Demo data and the development runner: they need every package."""

from __future__ import annotations

from flask import Flask

from app import signals


def init_app(app: Flask) -> None:
    from demo.history import generate_history
    from demo.runner import up_command

    signals.demo_history_requested.connect(generate_history)
    app.cli.add_command(up_command)
