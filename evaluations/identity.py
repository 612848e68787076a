"""Resident identity: a WeChat openid or an anonymous H5 device, kept only as a keyed hash,
and our own expiring bearer token for it. The session_key never leaves the server."""

from __future__ import annotations

import enum
import functools
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app, g
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from app.auth import Actor, bearer_token, issue_token, read_token, set_actor
from app.clock import utcnow
from app.crypto import hash_identity
from app.db import BigId, db, str_enum
from app.errors import ApiError, Unauthenticated
from app.wechat.login import openid_for_code


class Channel(enum.StrEnum):
    WECHAT = "wechat"
    H5 = "h5"


class Resident(db.Model):
    """Someone who scanned a code; we know them only by a keyed hash of their openid/device."""

    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    identity_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "channel"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


def resident_for(channel: Channel, identity: str) -> Resident:
    """The resident behind an openid or device id, created on first sight."""
    identity_hash = hash_identity(channel.value, identity)
    resident = db.session.scalar(sa.select(Resident).where(Resident.identity_hash == identity_hash))
    if resident is None:
        try:
            with db.session.begin_nested():
                resident = Resident(identity_hash=identity_hash, channel=channel)
                db.session.add(resident)
        except IntegrityError:  # the same person's first two requests raced
            resident = db.session.scalars(
                sa.select(Resident).where(Resident.identity_hash == identity_hash)
            ).one()
    resident.last_seen_at = utcnow()
    db.session.flush()
    return resident


@dataclass(frozen=True)
class ResidentIdentity:
    """Who is rating, as their signed token says: enough for every rule, no database read."""

    id: int
    channel: Channel


def identity_of(resident: Resident) -> ResidentIdentity:
    return ResidentIdentity(resident.id, resident.channel)


def resident_token(resident: Resident | ResidentIdentity) -> dict[str, Any]:
    """Our bearer token for a resident: {token, expires_in}."""
    payload = {"rid": resident.id, "ch": resident.channel.value}
    return {
        "token": issue_token("resident", payload),
        "expires_in": current_app.config["RESIDENT_TOKEN_TTL_SECONDS"],
    }


def identity_from_token(token: str) -> ResidentIdentity:
    """The resident a token was signed for; 401 when forged, expired or malformed.

    Remembered for the request: the rate limiter and the endpoint read the same token.
    """
    cached = g.get("resident_token")
    if cached is not None and cached[0] == token:
        return cached[1]
    payload = read_token("resident", token, current_app.config["RESIDENT_TOKEN_TTL_SECONDS"])
    try:
        identity = ResidentIdentity(int(payload["rid"]), Channel(payload["ch"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise Unauthenticated("登录凭证无效，请重新进入", code="token_invalid") from exc
    g.resident_token = (token, identity)
    return identity


def resident_id_from_token(token: str) -> int | None:
    """The resident id a token claims, if its signature holds (for rate-limit keys)."""
    try:
        return identity_from_token(token).id
    except (ApiError, Unauthenticated):  # read_token (app.auth) still answers with ApiError
        return None


def sign_in_resident(resident: ResidentIdentity) -> None:
    """Make `resident` the actor of this request."""
    g.resident = resident
    set_actor(Actor("resident", resident.id, "", "resident"))


def current_resident() -> ResidentIdentity:
    return g.resident


def resident_required(view: Callable) -> Callable:
    """Require a resident's bearer token (from /auth/wechat or /auth/h5)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        sign_in_resident(identity_from_token(bearer_token()))
        return view(*args, **kwargs)

    wrapper.resident_only = True  # type: ignore[attr-defined]
    from apiflask.scaffold import _annotate

    _annotate(wrapper, security="BearerAuth")
    return wrapper


def wechat_sign_in(code: str) -> Resident:
    """jscode2session → the resident (see app.wechat.login for the failure answers)."""
    return resident_for(Channel.WECHAT, openid_for_code(code))


def h5_sign_in() -> Resident:
    """A new anonymous device identity for a browser outside WeChat."""
    return resident_for(Channel.H5, secrets.token_urlsafe(24))
