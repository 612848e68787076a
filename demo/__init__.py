"""Demo data and the development runner: they need every package."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from demo.city import seed_demo_command
    from demo.runner import up_command

    app.cli.add_command(seed_demo_command)
    app.cli.add_command(up_command)
