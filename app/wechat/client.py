"""A small, strict client for the WeChat mini-program server APIs the product uses.

Rules it follows (REFERENCE.md, "WeChat server APIs"):
- every request has (connect, read) timeouts; network errors and timeouts become
  `WeChatError(errcode=None)` with `is_retryable` true;
- the access token comes from `/cgi-bin/stable_token` (never the legacy `/cgi-bin/token`, which
  invalidates the previous token on every call) and is cached until `expires_in - 300`;
- on 40001/40014/42001 from an access-token API the cache is dropped, a token is fetched once
  (forcing a refresh only when WeChat hands back the very token that just failed) and the call is
  retried once, never more;
- busy (-1) and rate limits (45009, 45011) are raised, not looped: the caller owns the retry
  policy (login retries once, the outbox backs off);
- the secret and the session_key are never logged, and exception messages never carry URLs
  with credentials.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests

log = logging.getLogger(__name__)

STABLE_TOKEN_API = "/cgi-bin/stable_token"
CODE2SESSION_API = "/sns/jscode2session"
WXACODE_API = "/wxa/getwxacodeunlimit"
SUBSCRIBE_SEND_API = "/cgi-bin/message/subscribe/send"
MSG_SEC_CHECK_API = "/wxa/msg_sec_check"

# Tokens are treated as expired this many seconds before WeChat's own expiry; the platform
# renews a token in its last 5 minutes and keeps both valid meanwhile.
EARLY_REFRESH_SECONDS = 300

TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
RETRYABLE_ERRCODES = frozenset({-1, 45009, 45011})

# Errors that no retry can fix: the request, the user's state or our configuration is wrong.
# Login:        40029 invalid code, 40163 code already used, 40226 high-risk user,
#               41008 code missing.
# Credentials:  40013 bad appid, 40125 bad secret, 40164 server IP not whitelisted,
#               40002 bad grant_type, 41002/41004 appid/secret missing, 41001 token missing,
#               48001 API not authorised for this mini-program.
# Subscribe:    43101 user refused / no one-time quota left, 47003 bad field value,
#               40037 bad template_id, 40003 bad openid.
# Mini code:    41030 page does not exist (or is not published), 40169 bad scene,
#               40097 invalid arguments.
# Requests:     47001 malformed body, 44002 empty body, 40066 bad URL (wrong API base),
#               43001/43002 wrong HTTP method, 87014 risky content (legacy check).
PERMANENT_ERRCODES = frozenset(
    {
        40029,
        40163,
        40226,
        41008,
        40013,
        40125,
        40164,
        40002,
        41002,
        41004,
        41001,
        48001,
        43101,
        47003,
        40037,
        40003,
        41030,
        40169,
        40097,
        47001,
        44002,
        40066,
        43001,
        43002,
        87014,
    }
)

# A clear Chinese message per errcode, for logs shown to staff and for API answers.
ERRCODE_MESSAGES: dict[int, str] = {
    -1: "微信系统繁忙，请稍后再试",
    40001: "微信接口调用凭证无效或已被刷新",
    40014: "微信接口调用凭证不合法",
    42001: "微信接口调用凭证已过期",
    45009: "调用微信接口过于频繁（已达频率或每日上限），请稍后再试",
    45011: "操作过于频繁，请一分钟后再试",
    40029: "登录凭证无效或已过期，请重新进入小程序",
    40163: "登录凭证已被使用，请重新进入小程序",
    40226: "微信判定当前用户存在安全风险，暂时无法登录",
    41008: "缺少登录凭证，请重新进入小程序",
    40013: "小程序 AppID 无效，请检查微信配置",
    40125: "小程序 AppSecret 无效，请检查微信配置",
    40164: "服务器 IP 不在小程序的接口白名单中，请在微信公众平台添加",
    40002: "获取凭证的授权类型不合法",
    41002: "缺少小程序 AppID",
    41004: "缺少小程序 AppSecret",
    41001: "缺少微信接口调用凭证",
    48001: "小程序未获得该接口的权限",
    43101: "用户未订阅该消息，或订阅的次数已用完",
    47003: "订阅消息的字段内容不符合微信要求",
    40037: "订阅消息模板 ID 无效",
    40003: "用户 openid 无效",
    41030: "小程序页面不存在或尚未发布",
    40169: "小程序码参数 scene 不合法（最多 32 个可见字符）",
    40097: "请求参数不合法",
    47001: "请求数据格式不正确",
    44002: "请求内容为空",
    40066: "微信接口地址不正确，请检查 WECHAT_API_BASE",
    43001: "微信接口要求使用 GET 请求",
    43002: "微信接口要求使用 POST 请求",
    87014: "内容含有违法违规信息",
}

_FIELD_IN_ERRMSG = re.compile(r"data\.([A-Za-z_]+\d*)")


class WeChatError(Exception):
    """An error answered by WeChat (errcode) or met on the way there (errcode None)."""

    def __init__(
        self,
        errcode: int | None,
        errmsg: str,
        api: str = "",
        *,
        transient: bool | None = None,
        timed_out: bool = False,
    ) -> None:
        super().__init__(errcode, errmsg, api)
        self.errcode = errcode
        self.errmsg = errmsg
        self.api = api
        self.timed_out = timed_out
        # errcode None means we never got a WeChat answer: a network failure unless told otherwise.
        self.transient = (errcode is None) if transient is None else transient

    def __str__(self) -> str:
        where = f"{self.api} " if self.api else ""
        return f"{where}errcode={self.errcode} errmsg={self.errmsg}"

    @property
    def is_token_error(self) -> bool:
        """The access token was invalid or expired (40001, 40014, 42001)."""
        return self.errcode in TOKEN_ERRCODES

    @property
    def is_permanent(self) -> bool:
        """Retrying the same request cannot succeed (see PERMANENT_ERRCODES)."""
        return self.errcode in PERMANENT_ERRCODES

    @property
    def is_retryable(self) -> bool:
        """Busy, rate limited, or a network error/timeout: worth retrying later."""
        return self.errcode in RETRYABLE_ERRCODES or (self.errcode is None and self.transient)

    @property
    def field(self) -> str | None:
        """The data field WeChat named in a 47003 errmsg (e.g. "thing1"), if any."""
        match = _FIELD_IN_ERRMSG.search(self.errmsg or "")
        return match.group(1) if match else None

    @property
    def message_zh(self) -> str:
        """A Chinese explanation fit for staff and residents."""
        if self.errcode is None:
            if self.timed_out:
                return "微信服务器响应超时，请稍后再试"
            if self.transient:
                return "暂时无法连接微信服务器，请稍后再试"
            return f"微信接口调用失败：{self.errmsg}"
        message = ERRCODE_MESSAGES.get(self.errcode)
        if message is None:
            return f"微信接口返回错误（错误码 {self.errcode}）"
        if self.errcode == 47003 and self.field:
            return f"订阅消息字段 {self.field} 的内容不符合微信要求"
        return message


class WeChatNotConfigured(WeChatError):
    """WECHAT_APPID (or WECHAT_SECRET) is empty: WeChat features are off."""

    def __init__(self, errmsg: str = "未配置微信 appid 或 secret，微信功能未启用") -> None:
        super().__init__(None, errmsg, "", transient=False)

    @property
    def is_permanent(self) -> bool:
        return True

    @property
    def message_zh(self) -> str:
        return "未配置微信小程序 AppID 和 AppSecret，微信功能未启用"


@dataclass(frozen=True)
class LoginSession:
    """What `jscode2session` returns; the session_key stays on the server."""

    openid: str
    session_key: str = field(repr=False)
    unionid: str | None = None


@dataclass(frozen=True)
class SecCheckResult:
    """`msg_sec_check` v2 verdict: suggest is "pass", "review" or "risky"."""

    suggest: str
    label: int
    trace_id: str | None = None

    @property
    def is_pass(self) -> bool:
        return self.suggest == "pass"


class TokenCache(Protocol):
    """Where access tokens live between calls (per appid, with an epoch expiry)."""

    def get(self, appid: str) -> tuple[str, float] | None: ...

    def set(self, appid: str, token: str, expires_at: float) -> None: ...

    def delete(self, appid: str) -> None: ...


class MemoryTokenCache:
    """A per-process token cache (tests, single-process development)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}

    def get(self, appid: str) -> tuple[str, float] | None:
        with self._lock:
            return self._tokens.get(appid)

    def set(self, appid: str, token: str, expires_at: float) -> None:
        with self._lock:
            self._tokens[appid] = (token, expires_at)

    def delete(self, appid: str) -> None:
        with self._lock:
            self._tokens.pop(appid, None)


class RedisTokenCache:
    """A token cache in Redis, shared by every worker and the scheduler.

    A Redis outage degrades to "no cache" (each call fetches a token, which stable_token
    allows) instead of breaking WeChat features.
    """

    def __init__(
        self, redis_url: str, *, prefix: str = "pingyi:wechat:access_token:", client: Any = None
    ) -> None:
        import redis

        self.prefix = prefix
        self._redis = client or redis.Redis.from_url(
            redis_url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True
        )
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)

    def _key(self, appid: str) -> str:
        return f"{self.prefix}{appid}"

    def get(self, appid: str) -> tuple[str, float] | None:
        try:
            raw = self._redis.get(self._key(appid))
        except self._errors as error:
            log.warning("wechat token cache: redis get failed (%s)", type(error).__name__)
            return None
        if not raw:
            return None
        try:
            entry = json.loads(raw)
            return str(entry["token"]), float(entry["expires_at"])
        except (ValueError, KeyError, TypeError):
            return None

    def set(self, appid: str, token: str, expires_at: float) -> None:
        # The key's own TTL only collects garbage; validity is judged by expires_at.
        ttl = max(1, min(86_400, math.ceil(expires_at - time.time())))
        value = json.dumps({"token": token, "expires_at": expires_at})
        try:
            self._redis.set(self._key(appid), value, ex=ttl)
        except self._errors as error:
            log.warning("wechat token cache: redis set failed (%s)", type(error).__name__)

    def delete(self, appid: str) -> None:
        try:
            self._redis.delete(self._key(appid))
        except self._errors as error:
            log.warning("wechat token cache: redis delete failed (%s)", type(error).__name__)


_SECRET_QUERY = re.compile(r"((?:secret|access_token|js_code|session_key)=)[^&\s'\")]+")


def redact(text: str) -> str:
    """Hide credentials that appear as query parameters in `text`."""
    return _SECRET_QUERY.sub(r"\1***", text)


class _RedactCredentials(logging.Filter):
    """urllib3 logs request lines (with ?secret=…&access_token=…) at DEBUG: mask them."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactCredentials())


class WeChatClient:
    """Calls the WeChat server APIs at `base_url` for one mini-program."""

    def __init__(
        self,
        *,
        base_url: str,
        appid: str,
        secret: str,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        token_cache: TokenCache | None = None,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not appid or not secret:
            raise WeChatNotConfigured()
        self.base_url = base_url.rstrip("/")
        self.appid = appid
        self._secret = secret
        self.timeout = (connect_timeout, read_timeout)
        self.token_cache: TokenCache = (
            token_cache if token_cache is not None else MemoryTokenCache()
        )
        self._session = session or requests.Session()
        self._clock = clock
        self._token_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"WeChatClient(base_url={self.base_url!r}, appid={self.appid!r})"

    # --- access token -------------------------------------------------------------------------

    def access_token(self, *, force_refresh: bool = False) -> str:
        """A valid access token: the cached one, or a fresh one from stable_token."""
        if force_refresh:
            return self._fetch_token(force_refresh=True)
        token = self._cached_token()
        if token is not None:
            return token
        with self._token_lock:
            # Another thread may have fetched it while we waited.
            token = self._cached_token()
            if token is not None:
                return token
            return self._fetch_token(force_refresh=False)

    def refresh_token_if_due(self, *, within: float = EARLY_REFRESH_SECONDS) -> bool:
        """Fetch a token (non-force) when the cached one is missing or expires within `within` s."""
        cached = self.token_cache.get(self.appid)
        if cached is not None and cached[1] - self._clock() > within:
            return False
        with self._token_lock:
            self._fetch_token(force_refresh=False)
        return True

    def _cached_token(self) -> str | None:
        cached = self.token_cache.get(self.appid)
        if cached is not None and self._clock() < cached[1]:
            return cached[0]
        return None

    def _fetch_token(self, *, force_refresh: bool) -> str:
        data = self._request(
            "POST",
            STABLE_TOKEN_API,
            body={
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self._secret,
                "force_refresh": force_refresh,
            },
        )
        token = data.get("access_token")
        try:
            expires_in = float(data.get("expires_in", 0))
        except (TypeError, ValueError):
            expires_in = 0.0
        if not isinstance(token, str) or not token or expires_in <= 0:
            raise WeChatError(
                None,
                "stable_token 响应缺少 access_token 或 expires_in",
                STABLE_TOKEN_API,
                transient=True,
            )
        # WeChat guarantees expires_in >= 300; halving keeps a short-lived token usable.
        lifetime = max(expires_in - EARLY_REFRESH_SECONDS, expires_in / 2)
        self.token_cache.set(self.appid, token, self._clock() + lifetime)
        log.info(
            "wechat access token fetched (force_refresh=%s, expires_in=%s)",
            force_refresh,
            int(expires_in),
        )
        return token

    def _call_with_token(self, api: str, body: dict[str, Any], *, binary: bool = False) -> Any:
        token = self.access_token()
        try:
            return self._request(
                "POST", api, params={"access_token": token}, body=body, binary=binary
            )
        except WeChatError as error:
            if not error.is_token_error:
                raise
            log.warning(
                "wechat %s: token rejected (errcode %s), refreshing and retrying once",
                api,
                error.errcode,
            )
        self.token_cache.delete(self.appid)
        with self._token_lock:
            fresh = self._fetch_token(force_refresh=False)
            if fresh == token:
                # WeChat still hands out the token it just refused: only a forced refresh helps.
                fresh = self._fetch_token(force_refresh=True)
        return self._request("POST", api, params={"access_token": fresh}, body=body, binary=binary)

    # --- APIs ---------------------------------------------------------------------------------

    def code2session(self, js_code: str) -> LoginSession:
        """Exchange a `wx.login` code for the resident's openid (and session_key, unionid)."""
        data = self._request(
            "GET",
            CODE2SESSION_API,
            params={
                "appid": self.appid,
                "secret": self._secret,
                "js_code": js_code,
                "grant_type": "authorization_code",
            },
        )
        openid, session_key = data.get("openid"), data.get("session_key")
        if not openid or not session_key:
            raise WeChatError(
                None, "jscode2session 响应缺少 openid", CODE2SESSION_API, transient=False
            )
        return LoginSession(
            openid=openid, session_key=session_key, unionid=data.get("unionid") or None
        )

    def get_unlimited_wxacode(
        self,
        *,
        scene: str,
        page: str,
        check_path: bool = True,
        env_version: str = "release",
        width: int = 430,
    ) -> bytes:
        """A mini-program code (PNG bytes) that opens `page` with `scene`."""
        return self._call_with_token(
            WXACODE_API,
            {
                "scene": scene,
                "page": page,
                "check_path": check_path,
                "env_version": env_version,
                "width": width,
            },
            binary=True,
        )

    def send_subscribe_message(
        self,
        *,
        touser: str,
        template_id: str,
        data: dict[str, Any],
        page: str | None = None,
        miniprogram_state: str = "formal",
        lang: str = "zh_CN",
    ) -> None:
        """Send one subscribe message; each send spends one quota the user granted.

        `data` maps field keys to values, either plain strings ({"thing1": "已受理"}) or
        WeChat's own shape ({"thing1": {"value": "已受理"}}).
        """
        body: dict[str, Any] = {
            "touser": touser,
            "template_id": template_id,
            "data": {
                key: value if isinstance(value, dict) else {"value": value}
                for key, value in data.items()
            },
            "miniprogram_state": miniprogram_state,
            "lang": lang,
        }
        if page:
            body["page"] = page
        self._call_with_token(SUBSCRIBE_SEND_API, body)

    def msg_sec_check(self, *, openid: str, content: str, scene: int = 2) -> SecCheckResult:
        """Content security check (v2); the verdict only ever holds public text."""
        data = self._call_with_token(
            MSG_SEC_CHECK_API,
            {
                "version": 2,
                "openid": openid,
                "scene": scene,
                "content": content,
            },
        )
        result = data.get("result") or {}
        return SecCheckResult(
            suggest=str(result.get("suggest", "review")),
            label=int(result.get("label", 0)),
            trace_id=data.get("trace_id"),
        )

    # --- transport ----------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        api: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        binary: bool = False,
    ) -> Any:
        url = self.base_url + api
        kwargs: dict[str, Any] = {"params": params, "timeout": self.timeout}
        if body is not None:
            # Raw UTF-8: some WeChat APIs show \\uXXXX escapes literally to the user.
            kwargs["data"] = json.dumps(body, ensure_ascii=False).encode("utf-8")
            kwargs["headers"] = {"Content-Type": "application/json; charset=utf-8"}
        started = time.monotonic()
        try:
            response = self._session.request(method, url, **kwargs)
        except requests.Timeout as error:
            kind = (
                "connect timeout" if isinstance(error, requests.ConnectTimeout) else "read timeout"
            )
            log.warning("wechat %s: %s after %.2fs", api, kind, time.monotonic() - started)
            # `from None`: the original exception's text holds the URL with the secret.
            raise WeChatError(None, kind, api, timed_out=True) from None
        except requests.RequestException as error:
            log.warning("wechat %s: network error %s", api, type(error).__name__)
            raise WeChatError(None, f"network error: {type(error).__name__}", api) from None

        content = response.content
        if binary and response.status_code == 200 and _looks_like_image(content):
            return content
        try:
            data = json.loads(content)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            transient = response.status_code >= 500 or response.status_code in (200, 429)
            raise WeChatError(
                None, f"unexpected response: HTTP {response.status_code}", api, transient=transient
            )
        errcode = data.get("errcode", 0)
        if errcode not in (0, None, "0"):
            try:
                errcode = int(errcode)
            except (TypeError, ValueError):
                errcode = -1
            error = WeChatError(errcode, str(data.get("errmsg", "")), api)
            log.info("wechat %s: errcode %s (%s)", api, errcode, redact(error.errmsg))
            raise error
        if response.status_code != 200:
            raise WeChatError(
                None,
                f"unexpected response: HTTP {response.status_code}",
                api,
                transient=response.status_code >= 500,
            )
        if binary:
            raise WeChatError(None, "期望图片，微信返回了 JSON", api, transient=False)
        return data


def _looks_like_image(content: bytes) -> bool:
    return content.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF8"))


# Process-wide memory caches, one per API base URL (so two sandboxes never share tokens).
_PROCESS_CACHES: dict[str, MemoryTokenCache] = {}
_PROCESS_CACHES_LOCK = threading.Lock()


def _process_cache(base_url: str) -> MemoryTokenCache:
    with _PROCESS_CACHES_LOCK:
        return _PROCESS_CACHES.setdefault(base_url, MemoryTokenCache())


def clear_process_token_caches() -> None:
    """Forget every process-wide memory token (tests: a new sandbox may reuse a port)."""
    with _PROCESS_CACHES_LOCK:
        _PROCESS_CACHES.clear()


def is_configured(app: Any) -> bool:
    """Whether the app has WeChat credentials (WECHAT_APPID and WECHAT_SECRET)."""
    return bool(app.config.get("WECHAT_APPID")) and bool(app.config.get("WECHAT_SECRET"))


def wechat_client() -> WeChatClient:
    """The current app's WeChat client (built once from its config, kept in app.extensions)."""
    from flask import current_app

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not is_configured(app):
        raise WeChatNotConfigured()
    config = app.config
    settings = (
        str(config.get("WECHAT_API_BASE") or "https://api.weixin.qq.com").rstrip("/"),
        config["WECHAT_APPID"],
        config["WECHAT_SECRET"],
        float(config.get("WECHAT_CONNECT_TIMEOUT", 3.05)),
        float(config.get("WECHAT_READ_TIMEOUT", 10.0)),
        config.get("REDIS_URL") or None,
    )
    existing = app.extensions.get("wechat_client")
    if existing is not None and getattr(existing, "_pingyi_settings", None) == settings:
        return existing
    base_url, appid, secret, connect_timeout, read_timeout, redis_url = settings
    cache: TokenCache = RedisTokenCache(redis_url) if redis_url else _process_cache(base_url)
    client = WeChatClient(
        base_url=base_url,
        appid=appid,
        secret=secret,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        token_cache=cache,
    )
    client._pingyi_settings = settings  # type: ignore[attr-defined]
    app.extensions["wechat_client"] = client
    return client


def refresh_wechat_token() -> bool:
    """Scheduler job: fetch a token ahead of expiry when WeChat is configured; True if fetched."""
    from flask import current_app

    if not is_configured(current_app):
        log.info("wechat_token_refresh: WeChat not configured, skipped")
        return False
    return wechat_client().refresh_token_if_due(within=EARLY_REFRESH_SECONDS)
