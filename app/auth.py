"""Who is calling: bearer tokens, the current actor, and the one staff access decorator.

Tokens are signed (itsdangerous) and expire; a staff token also carries the account's
`token_version`, so changing the password or signing out kills every earlier token.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apiflask.scaffold import _annotate
from flask import current_app, g, has_app_context, has_request_context, request
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from app.clock import utcnow
from app.errors import ApiError
from app.extensions import db
from app.org.models import Role, StaffAccount, Unit


@dataclass(frozen=True)
class Actor:
    type: str  # staff | resident | anonymous | system | platform
    id: int | None = None
    name: str = ""
    role: str = ""


SYSTEM = Actor(type="system", name="system")
ANONYMOUS = Actor(type="anonymous")


def current_actor() -> Actor:
    """The actor of the current request (anonymous until someone signs in) or job (system)."""
    if has_request_context():
        return g.get("actor", ANONYMOUS)
    return g.get("actor", SYSTEM) if has_app_context() else SYSTEM


def staff_actor(account: StaffAccount) -> Actor:
    return Actor("staff", account.id, account.username, account.role.value)


def set_actor(actor: Actor) -> None:
    """Make `actor` the author of what this request or job records."""
    g.actor = actor


# ---------------------------------------------------------------- tokens


class _ClockSigner(TimestampSigner):
    """Token timestamps from app.clock, so expiry follows the same clock as everything else."""

    def get_timestamp(self) -> int:
        return int(utcnow().timestamp())


def _serializer(kind: str) -> URLSafeTimedSerializer:
    return _serializer_for(current_app.config["SECRET_KEY"], kind)


@functools.lru_cache(maxsize=16)  # built once per key and kind, not on every request
def _serializer_for(secret_key: str, kind: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=f"pingyi.{kind}", signer=_ClockSigner)


def issue_token(kind: str, payload: dict[str, Any]) -> str:
    """Sign `payload` as a bearer token of `kind` (staff, resident)."""
    return _serializer(kind).dumps(payload)


def read_token(kind: str, token: str, max_age: int) -> dict[str, Any]:
    """Verify a token of `kind`; 401 when it is forged, of another kind or expired."""
    try:
        payload = _serializer(kind).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise ApiError(401, "token_expired", "登录已过期，请重新登录") from exc
    except BadSignature as exc:
        raise ApiError(401, "token_invalid", "登录凭证无效，请重新登录") from exc
    if not isinstance(payload, dict):
        raise ApiError(401, "token_invalid", "登录凭证无效，请重新登录")
    return payload


def bearer_token() -> str:
    """The bearer token of the request; 401 when there is none."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "需要登录", headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


def staff_token(account: StaffAccount) -> str:
    return issue_token("staff", {"sid": account.id, "v": account.token_version})


def in_service(account: StaffAccount) -> bool:
    """Whether the account may act: it and its unit are both active. A deactivated unit's
    staff lose their tokens, sessions and sign-in with it (a unit is deactivated only once its
    child units are, so its own flag is enough)."""
    return account.is_active and account.unit.is_active


def authenticate_staff_token(token: str) -> StaffAccount:
    """The staff account a token belongs to while it is in service; 401 otherwise."""
    payload = read_token("staff", token, current_app.config["STAFF_TOKEN_TTL_SECONDS"])
    account = db.session.get(StaffAccount, payload.get("sid"))
    if account is None or not in_service(account) or account.token_version != payload.get("v"):
        raise ApiError(401, "token_invalid", "登录凭证已失效，请重新登录")
    return account


# ---------------------------------------------------------------- staff access


@dataclass(frozen=True)
class AccessRule:
    """What a staff endpoint requires; kept on the view for the access-matrix tests."""

    roles: frozenset[Role]
    scope: Callable[..., Unit] | None


def current_staff() -> StaffAccount:
    """The signed-in staff account of this request (set by `staff_required`)."""
    return g.staff


def ensure_in_scope(unit: Unit) -> None:
    """403 unless `unit` is in the signed-in staff member's subtree."""
    if not current_staff().unit.contains(unit):
        raise ApiError(403, "out_of_scope", "该单位不在您的管辖范围内", {"unit_id": unit.id})


def staff_required(*roles: Role, scope: Callable[..., Unit] | None = None) -> Callable:
    """Require a signed-in, active staff member with one of `roles` (any role when empty).

    `scope` receives the view's keyword arguments and returns the unit the addressed object
    belongs to (raising 404 when the object does not exist); the staff member must hold it
    in their subtree. A scope that depends on more than a unit (clues: the role decides which
    unit counts) checks itself and returns None. Listing endpoints filter by
    `current_staff().unit` instead.
    """
    allowed = frozenset(roles) if roles else frozenset(Role)

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            account = authenticate_staff_token(bearer_token())
            g.staff = account
            set_actor(staff_actor(account))
            if account.role not in allowed:
                raise ApiError(
                    403,
                    "forbidden",
                    "您的角色无权执行此操作",
                    {"role": account.role.value, "allowed_roles": sorted(r.value for r in allowed)},
                )
            if scope is not None:
                unit = scope(**kwargs)
                if unit is not None:
                    ensure_in_scope(unit)
            return view(*args, **kwargs)

        wrapper.access_rule = AccessRule(allowed, scope)  # type: ignore[attr-defined]
        responses = dict(getattr(wrapper, "_spec", {}).get("responses") or {})
        responses.setdefault(401, "未登录或登录已失效")
        responses.setdefault(403, "角色无权或对象不在管辖范围内")
        _annotate(wrapper, security="BearerAuth", responses=responses)
        return wrapper

    return decorator
