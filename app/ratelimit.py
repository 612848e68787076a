"""Rate limits (Flask-Limiter): per resident and per client address, shared across workers
through Redis when REDIS_URL is set. If Redis goes away, each process falls back to its own
in-memory counters (limits then hold per worker) and logs it, rather than failing requests."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

# Headers off: Flask-Limiter would stamp Retry-After on every answer, not only on 429s.
limiter = Limiter(key_func=get_remote_address, headers_enabled=False)


def retry_after_seconds() -> int:
    """Seconds until the limit the current request broke resets."""
    current = limiter.current_limit
    if current is None:
        return 60
    # reset_at has whole-second precision; never promise more than the window itself.
    window = current.limit.get_expiry()
    return max(1, min(window, math.ceil(current.reset_at - time.time())))


def init_ratelimit(app: Flask) -> None:
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    limiter.init_app(app)


def configured(name: str) -> Callable[[], str]:
    """A limit read from the app config at request time (so tests and deployments set it)."""
    return lambda: current_app.config[name]


def address_key() -> str:
    return f"addr:{get_remote_address()}"


def bearer_key(resolve: Callable[[str], int | None]) -> Callable[[], str]:
    """Key on the caller's identity from their bearer token, else on their address."""

    def key() -> str:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        identity = resolve(token.strip()) if scheme.lower() == "bearer" and token else None
        return f"id:{identity}" if identity is not None else address_key()

    return key
