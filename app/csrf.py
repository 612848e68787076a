"""CSRF protection for the pages a browser posts forms to (the console, the H5 rating page),
by Flask-WTF's CSRFProtect: every POST to a page blueprint must carry its session's token in a
hidden field named "csrf", or is refused with CSRFError (400) before the view runs.

The JSON API takes bearer tokens and sets no cookie, so a forged cross-site request carries no
credentials: its routes (APIBlueprints, the 12345 callback among them, which proves itself with
a signature, and the APIFlask app's own) are not checked.

Flask-WTF keeps a session's token in Flask's session. The console's session cookie goes to
/console only; a page door elsewhere (the H5 page at /q) asks for a session cookie of its own
with `own_session_cookie`, so neither door's cookie is ever sent to the other.
"""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import Blueprint, Flask, current_app, has_request_context, request
from flask.blueprints import BlueprintSetupState
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf

__all__ = ["CSRFError", "csrf", "csrf_token", "init_csrf", "own_session_cookie"]

csrf = CSRFProtect()

# The hidden field's name in every form (and the session key holding the raw token).
FIELD_NAME = "csrf"


def init_csrf(app: Flask) -> None:
    """Check every POST to a page blueprint (any Blueprint that is not the JSON API's)."""
    app.config.setdefault("WTF_CSRF_FIELD_NAME", FIELD_NAME)
    # A token lives as long as its session: the console's ends after CONSOLE_SESSION_SECONDS
    # anyway, and a page left open for an hour must still submit.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    # Every answer says Referrer-Policy: no-referrer (H5 URLs hold a QR token), so browsers send
    # no Referer to compare with; the session-bound token and SameSite=Lax cookies suffice.
    app.config.setdefault("WTF_CSRF_SSL_STRICT", False)
    # Pages are checked by the rule below rather than API routes listed as exempt, so a page
    # blueprint added later is protected without anyone remembering to.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    app.before_request(_protect_pages)


def _protect_pages() -> None:
    blueprint = current_app.blueprints.get(request.blueprint or "")
    if blueprint is not None and not isinstance(blueprint, APIBlueprint):
        csrf.protect()


def csrf_token() -> str:
    """The token a form of this request's session carries (made on first use)."""
    return generate_csrf()


class PageSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with a cookie of its own for each page door that asked
    for one: a request under such a door's path reads and writes that cookie only."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}  # path ("/q") → cookie name

    def _door(self) -> str | None:
        # Sessions open before the URL is matched, so the path decides, not the blueprint.
        if not has_request_context():
            return None
        path = request.path
        return next((p for p in self.cookies if path == p or path.startswith(p + "/")), None)

    def get_cookie_name(self, app: Flask) -> str:
        door = self._door()
        return self.cookies[door] if door else super().get_cookie_name(app)

    def get_cookie_path(self, app: Flask) -> str:
        return self._door() or super().get_cookie_path(app)


def own_session_cookie(blueprint: Blueprint, *, name: str, path: str) -> None:
    """Give the pages under `path` a session cookie `name` of their own, scoped to `path`."""

    def install(state: BlueprintSetupState) -> None:
        interface = state.app.session_interface
        if not isinstance(interface, PageSessionInterface):
            interface = state.app.session_interface = PageSessionInterface()
        interface.cookies[path] = name

    blueprint.record_once(install)
