"""Outbox, dispatcher, channels, letters and notices, and the scheduler process."""

from __future__ import annotations

from flask import Flask

from app import signals


def init_app(app: Flask) -> None:
    from notifications import (  # noqa: F401  (jobs, practices: the job registry; metrics: /metrics)
        delivery_routes,
        inbox,
        jobs,
        letter_routes,
        metrics,
        practices,
        scheduler,
        triggers,
    )

    app.register_blueprint(inbox.bp)
    app.register_blueprint(letter_routes.bp)
    app.register_blueprint(delivery_routes.bp)
    app.cli.add_command(scheduler.scheduler_cli)
    signals.clue_transitioned.connect(triggers.on_clue_transitioned)
    signals.clue_filed.connect(triggers.on_clue_filed)
    signals.rerating_invited.connect(triggers.on_rerating_invited)
    signals.referral_changed.connect(triggers.on_referral_changed)
