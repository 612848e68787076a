"""Rate limits (Flask-Limiter): per resident and per client address, shared across workers
through Redis when REDIS_URL is set. If Redis goes away, each process falls back to its own
in-memory counters (limits then hold per worker) and logs it, rather than failing requests;
it goes back to Redis by itself once Redis answers again."""

from __future__ import annotations

import functools
import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app, g, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, RedisStorage

log = logging.getLogger(__name__)

# The in-memory counters' scheme (registered by SerializedMemoryStorage below).
MEMORY_STORAGE_URI = "serialized-memory://"


class SerializedMemoryStorage(MemoryStorage):
    """limits' MemoryStorage with every counter operation under one lock.

    MemoryStorage is not safe for threads meeting on a new key: `get` drops a key whose expiry
    another thread has not written yet, and the per-key lock is dropped with it, so a count is
    lost and one more request than the limit gets through (seen with gthread workers counting in
    memory after Redis went away). Counting is microseconds, so one lock costs nothing.
    """

    STORAGE_SCHEME = ["serialized-memory"]

    def __init__(self, uri: str | None = None, **options: str) -> None:
        self._serial = threading.RLock()
        super().__init__(uri, **options)

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        with self._serial:
            return super().incr(key, expiry, amount)

    def decr(self, key: str, amount: int = 1) -> int:
        with self._serial:
            return super().decr(key, amount)

    def get(self, key: str) -> int:
        with self._serial:
            return super().get(key)

    def get_expiry(self, key: str) -> float:
        with self._serial:
            return super().get_expiry(key)

    def clear(self, key: str) -> None:
        with self._serial:
            super().clear(key)

    def _MemoryStorage__expire_events(self) -> None:  # noqa: N802 - the parent's private sweep
        # The sweep runs on a timer thread and drops expired keys: under the same lock, so it
        # cannot drop a key between another thread's increment and its new expiry.
        with self._serial:
            super()._MemoryStorage__expire_events()


class FallbackSafeLimiter(Limiter):
    """Flask-Limiter whose switch to in-memory counters is safe with threaded workers.

    When the storage fails, Flask-Limiter switches to its fallback in the request that saw the
    failure first; a request on another thread that failed at the same moment finds the switch
    already made and re-raises its storage error, a 500. That request is checked again, now
    against the in-memory counters, like every request after it.
    """

    def init_app(self, app: Flask) -> None:
        super().init_app(app)
        if self._in_memory_fallback_enabled:  # Flask-Limiter's own fallback is a MemoryStorage
            self._fallback_storage = SerializedMemoryStorage()
            # The same strategy Flask-Limiter chose from the configuration, over our storage.
            self._fallback_limiter = type(self._fallback_limiter)(self._fallback_storage)

    def _check_request_limit(
        self, callable_name: str | None = None, in_middleware: bool = True
    ) -> None:
        if in_middleware and self._nothing_before_the_view():
            return
        try:
            super()._check_request_limit(callable_name=callable_name, in_middleware=in_middleware)
        except RateLimitExceeded:
            raise
        except Exception as error:
            if not (self._in_memory_fallback_enabled and self._storage_dead):
                raise
            log.info("rate limit storage failed (%s); checked in memory", type(error).__name__)
            self.context.seen_limits.clear()
            super()._check_request_limit(callable_name=callable_name, in_middleware=in_middleware)

    def _nothing_before_the_view(self) -> bool:
        """Whether Flask-Limiter's pass before every view would find no limit to count.

        Before the view it counts the application, default, blueprint and meta limits (and a
        route's own limits once it has seen them declared on a callable other than the view);
        a route's own limits are counted by its decorator. This app declares none of the
        former, so for each request the pass resolved exemptions to count nothing. An
        operator who configures RATELIMIT_DEFAULT or RATELIMIT_APPLICATION gets the pass back,
        and while the storage is down it runs as before (it also watches for the recovery).
        """
        manager = self.limit_manager
        return not (
            self._storage_dead
            or manager.application_limits
            or manager.default_limits
            or manager._blueprint_limits
            or self._meta_limits
            or manager.has_hints(request.endpoint or "")
        )


# Headers off: Flask-Limiter would stamp Retry-After on every answer, not only on 429s.
limiter = FallbackSafeLimiter(key_func=get_remote_address, headers_enabled=False)


def retry_after_seconds() -> int:
    """Seconds until the limit the current request broke resets."""
    if "retry_after" in g:  # counted by OneTrip's script, which read the window's TTL
        return g.retry_after
    current = limiter.current_limit
    if current is None:
        return 60
    # reset_at has whole-second precision; never promise more than the window itself.
    window = current.limit.get_expiry()
    try:
        reset_at = current.reset_at
    except limiter.storage.base_exceptions:  # Redis went away after it counted this request
        return window
    return max(1, min(window, math.ceil(reset_at - time.time())))


def init_ratelimit(app: Flask) -> None:
    app.config.setdefault(
        "RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or MEMORY_STORAGE_URI
    )
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


def client_network(address: str | None = None) -> str:
    """The client's network: its IPv4 address, or the /64 of an IPv6 address (one subscriber
    usually holds a whole /64, so counting single IPv6 addresses would count nothing)."""
    return _network(address if address is not None else get_remote_address())


@functools.lru_cache(maxsize=4096)  # parsing an address is most of the cost, and repeats
def _network(raw: str) -> str:
    try:
        ip = ipaddress.ip_address(raw)
    except ValueError:
        return raw or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def network_key() -> str:
    """Key on the client's network (see `client_network`)."""
    return f"net:{client_network()}"


# ---------------------------------------------------------------- one round trip

# Fixed windows, as limits' own INCR-and-EXPIRE script counts them, for several keys at once:
# in order, stopping at the first limit broken (as Flask-Limiter stops), which it reports
# with the seconds its window has left.
_ONE_TRIP = """
for i, key in ipairs(KEYS) do
  local count = redis.call('INCRBY', key, 1)
  if count == 1 then redis.call('EXPIRE', key, tonumber(ARGV[2 * i])) end
  if count > tonumber(ARGV[2 * i - 1]) then return {i, redis.call('TTL', key)} end
end
return {0, 0}
"""

LimitSpec = tuple[str, Callable[[], str], str]  # (config name, key function, scope)


@functools.lru_cache(maxsize=64)  # the configured strings: parsed once, not per request
def _parsed(limits: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(limits))


@dataclass(frozen=True)
class BrokenLimit:
    """What RateLimitExceeded reads of the limit broken (Flask-Limiter's RuntimeLimit)."""

    limit: RateLimitItem
    error_message: str | None = None


class OneTrip:
    """Every limit of an endpoint counted in one Redis round trip (a Lua script) instead of one
    per limit. The limits stay declared with Flask-Limiter; this is their `exempt_when`: when
    the script has counted them all, Flask-Limiter skips them. Without Redis, or while
    Flask-Limiter has fallen back to memory, it declines and Flask-Limiter counts as usual
    (its fallback and recovery unchanged). Keys are Flask-Limiter's own, so both count alike."""

    def __init__(self, specs: tuple[LimitSpec, ...]) -> None:
        self.specs = specs
        self.scripts: dict[int, Callable[..., list[int]]] = {}

    def __call__(self) -> bool:
        cache = g.setdefault("one_trip_limits", {})
        if id(self) not in cache:
            cache[id(self)] = self._count()
        return cache[id(self)]

    def _count(self) -> bool:
        storage = limiter.storage
        if not isinstance(storage, RedisStorage) or limiter.limiter.storage is not storage:
            return False
        prefix = current_app.config.get("RATELIMIT_KEY_PREFIX", "")
        counted: list[tuple[RateLimitItem, list[str]]] = []
        for config_name, key_func, scope in self.specs:
            args = [prefix, key_func(), scope] if prefix else [key_func(), scope]
            counted += [(item, args) for item in _parsed(current_app.config[config_name])]
        counted.sort(key=lambda pair: pair[0])  # Flask-Limiter's order
        keys = [storage.prefixed_key(item.key_for(*args)) for item, args in counted]
        argv = [n for item, _ in counted for n in (item.amount, item.get_expiry())]
        try:
            broken, ttl = self._script(storage)(keys=keys, args=argv)
        except storage.base_exceptions:
            log.info("rate limit script failed; Flask-Limiter counts this request")
            return False
        if broken:
            item = counted[int(broken) - 1][0]
            g.retry_after = max(1, min(item.get_expiry(), int(ttl)))
            # The exception Flask-Limiter raises (any other would read as a dead storage).
            raise RateLimitExceeded(BrokenLimit(item))  # type: ignore[arg-type]
        return True

    def _script(self, storage: RedisStorage) -> Callable[..., list[int]]:
        script = self.scripts.get(id(storage))
        if script is None:
            script = self.scripts[id(storage)] = storage.storage.register_script(_ONE_TRIP)
        return script


def limits_in_one_trip(*specs: LimitSpec) -> Callable[[Callable], Callable]:
    """Declare an endpoint's limits ((config name, key function, scope), …) with
    Flask-Limiter, counted in one Redis round trip (see OneTrip). When the script has counted
    them, the request does not pass through Flask-Limiter's decorator at all (resolving the
    route's limits and exemptions there cost more than the count itself); otherwise it does,
    and Flask-Limiter counts, falls back and recovers as it always has."""
    one_trip = OneTrip(specs)

    def decorate(view: Callable) -> Callable:
        counted_by_flask_limiter = view
        for config_name, key_func, scope in reversed(specs):
            counted_by_flask_limiter = limiter.limit(
                configured(config_name), key_func=key_func, scope=scope, exempt_when=one_trip
            )(counted_by_flask_limiter)

        @functools.wraps(view)
        def limited(*args: object, **kwargs: object) -> object:
            if one_trip():  # counted in Redis (or raised RateLimitExceeded)
                return view(*args, **kwargs)
            return counted_by_flask_limiter(*args, **kwargs)

        return limited

    return decorate
