"""The staff console: server-rendered pages in Chinese over the same services as the API.

Cookie session (Flask's signed cookie: HttpOnly, SameSite=Lax, Secure behind https), CSRF
token on every form, no external assets and no script (a strict CSP), charts as inline SVG.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from console import (  # noqa: F401  (each module adds its pages to the blueprint)
        account,
        admin,
        clues,
        dashboard,
        desks,
        letters,
        listing,
        qr,
        referrals,
        reporter,
        signin,
        system,
    )
    from console.web import beijing_date, beijing_time, bp, filed_at, percent

    _configure_session_cookie(app)
    app.add_template_filter(beijing_time, "beijing_time")
    app.add_template_filter(beijing_date, "beijing_date")
    app.add_template_filter(percent, "percent")
    app.add_template_global(filed_at, "filed_at")
    app.register_blueprint(bp)


def _configure_session_cookie(app: Flask) -> None:
    """The console's session cookie (named, scoped to /console, HttpOnly, SameSite in
    config.py) is Secure whenever the site is served over https."""
    if str(app.config.get("PUBLIC_BASE_URL", "")).startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
