"""Signing in and out of the console."""

from __future__ import annotations

from flask import Response, request, url_for

from app.errors import http_status
from app.extensions import db
from app.org import service as org_service
from app.ratelimit import address_key, client_network, configured, limiter
from console.web import (
    bp,
    console_view,
    current_staff,
    end_session,
    landing_endpoint,
    page,
    safe_next,
    see_other,
    signed_in_staff,
    start_session,
)


@bp.get("/")
@console_view()
def home() -> Response:
    """The signed-in role's own work queue."""
    return see_other(url_for(landing_endpoint(current_staff().role)))


@bp.get("/login")
def login() -> Response:
    account = signed_in_staff()
    if account is not None:
        return see_other(
            safe_next(request.args.get("next"), url_for(landing_endpoint(account.role)))
        )
    return page("login.html", username="", next=request.args.get("next", ""), error=None)


@bp.post("/login")
@limiter.shared_limit(configured("RATE_LIMIT_SIGN_IN"), "sign-in", key_func=address_key)
def login_submit() -> Response:
    """The same rules as the API's sign-in: failures counted per account and network, the
    same answer for an unknown name, a wrong password and a network refused for a while."""
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    back = request.form.get("next", "")
    if not username or not password:
        return page("login.html", 422, username=username, next=back, error="请输入用户名和密码。")
    result = org_service.authenticate_staff(
        username=username, password=password, network=client_network()
    )
    db.session.commit()  # failure counts persist whatever the outcome
    if result.error is not None:
        return page(
            "login.html",
            http_status(result.error),
            username=username,
            next=back,
            error=result.error.message,
        )
    assert result.account is not None
    start_session(result.account)
    return see_other(safe_next(back, url_for(landing_endpoint(result.account.role))))


@bp.post("/logout")
@console_view()
def logout() -> Response:
    """Sign out everywhere, as the API's sign-out does: every session and token ends."""
    org_service.end_sessions(current_staff())
    db.session.commit()
    end_session()
    return see_other(url_for("console.login"))
