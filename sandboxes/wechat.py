"""A local stand-in for WeChat's mini-program server APIs (development, demos and tests).

It imitates, on the same paths and with the same fields, HTTP status (200 with a JSON
`errcode`/`errmsg`, like WeChat) and error codes:

- `GET  /sns/jscode2session`: any `js_code` logs a resident in. The openid is derived from the
  part of the code before an optional "~" (HMAC, 28 characters starting with "o"), so "alice~1"
  and "alice~2" are two logins of the same resident and tests can make as many residents as they
  like. A code is single-use: reused within 5 minutes → 40163, later → 40029.
- `POST /cgi-bin/stable_token`: the current token until it enters its last 5 minutes, when a
  successor is issued and both stay valid (WeChat's "normal mode"); `force_refresh` issues a
  new token at once and leaves the previous one valid for 5 more minutes; forcing more often
  than every 30 s, or more than 20 times a day → 45009.
- Every access-token API: unknown token → 40001, expired → 42001, missing → 41001.
- `POST /wxa/getwxacodeunlimit`: checks scene (≤32 characters → else 40169; allowed characters
  → else 40097), page (41030 when `check_path` and the page is not one of `pages`), width
  (280–1280 → else 40097) and answers a real PNG: a QR code that encodes the scene.
- `POST /cgi-bin/message/subscribe/send`: openid issued by this sandbox (40003), known template
  (40037), field values within WeChat's limits by key prefix (47003 naming the field), one-time
  quota per (openid, template) (43101). Accepted messages are recorded.
- `POST /wxa/msg_sec_check` (version 2): "risky"/20006 when the content holds one of the
  configured risky words, "review"/21000 for review words, else "pass"/100.

Control endpoints (JSON) under `/__sandbox__/` let tests and demos steer it:

    POST /__sandbox__/fail           {"errcode": 45009, "count": 1, "api": "/wxa/msg_sec_check"}
                                     {"errcode": "timeout", "delay": 5}   (hang, then answer)
    POST /__sandbox__/subscriptions  {"openid": "...", "template_id": "...", "count": 1}
    GET  /__sandbox__/subscriptions  remaining quotas
    POST /__sandbox__/templates      {"template_id": "...", "keys": ["thing1", "time2"]?}
    POST /__sandbox__/config         {"token_ttl"?, "risky_words"?, "review_words"?, "pages"?,
                                      "unionid"?}
    POST /__sandbox__/expire-tokens  every token expires now
    GET  /__sandbox__/messages       the subscribe messages accepted so far
    GET  /__sandbox__/calls          every API call: api, errcode, injected, at (a hang injected
                                     with "timeout" is logged once answered, with "delayed")
    GET  /__sandbox__/openid?code=   the openid a code logs in as
    POST /__sandbox__/reset          back to the state at start-up
    GET  /__sandbox__/               this overview

Run it with `flask --app run wechat-sandbox --port 5001` and point the app at it with
WECHAT_API_BASE=http://127.0.0.1:5001 WECHAT_APPID=wxsandbox WECHAT_SECRET=sandbox-secret.
A subscribe message needs quota first: the resident's tap in the subscribe dialog is simulated by
`POST /__sandbox__/subscriptions`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from typing import Any

import click
from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.serving import WSGIRequestHandler, make_server

from app.wechat.client import redact
from sandboxes.serving import serve_until_stopped

DEFAULT_APPID = "wxsandbox"
DEFAULT_SECRET = "sandbox-secret"
DEFAULT_PAGES = ("pages/rate/index", "pages/index/index")
DEFAULT_RISKY_WORDS = ("赌博", "毒品", "枪支")

CODE_LIFETIME = 300  # a login code is single-use and lives about 5 minutes
TOKEN_OVERLAP = 300  # old and new tokens are both valid for 5 minutes
FORCE_REFRESH_INTERVAL = 30
FORCE_REFRESH_PER_DAY = 20
MAX_CONTENT_LENGTH = 2500

# errmsg texts as WeChat writes them (WeChat appends " rid: …").
ERRMSGS: dict[int, str] = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40013: "invalid appid",
    40014: "invalid access_token",
    40029: "invalid code",
    40037: "invalid template_id",
    40097: "invalid args",
    40125: "invalid appsecret",
    40163: "code been used",
    40169: "invalid length for scene, or the data is not json string",
    40226: "high risk user",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41008: "missing code",
    41030: "invalid page",
    40066: "invalid url",
    43001: "require GET method",
    43002: "require POST method",
    42001: "access_token expired",
    43101: "user refuse to accept the msg",
    44002: "empty post data",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    47001: "data format error",
    47003: "argument invalid!",
}

SCENE_CHARS = re.compile(r"[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]*")
_CJK = "\u3400-\u4dbf\u4e00-\u9fff"
_DATE = r"(?:\d{4}年\d{1,2}月\d{1,2}日|\d{4}[-/.]\d{1,2}[-/.]\d{1,2})"
_TIME = r"(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?"
_TIME_POINT = rf"(?:{_DATE}\s*)?{_TIME}"
_DATE_POINT = rf"{_DATE}(?:\s*{_TIME})?"


def _pattern(point: str) -> re.Pattern[str]:
    return re.compile(rf"{point}(?:\s*~\s*{point})?")


# Subscribe-message field rules by key prefix (thing1 → thing), from WeChat's documentation.
FIELD_RULES: dict[str, tuple[Callable[[str], bool], str]] = {
    "thing": (lambda v: len(v) <= 20, "20 个以内字符"),
    "number": (
        lambda v: len(v) <= 32 and re.fullmatch(r"\d+(?:\.\d+)?", v) is not None,
        "32 位以内数字，可带小数",
    ),
    "letter": (lambda v: re.fullmatch(r"[A-Za-z]{1,32}", v) is not None, "32 位以内字母"),
    "symbol": (
        lambda v: len(v) <= 5 and re.fullmatch(rf"[^\sA-Za-z0-9{_CJK}]+", v) is not None,
        "5 位以内符号",
    ),
    "character_string": (
        lambda v: re.fullmatch(r"[\x21-\x7e]{1,32}", v) is not None,
        "32 位以内数字、字母或符号",
    ),
    "time": (
        lambda v: _pattern(_TIME_POINT).fullmatch(v) is not None,
        "24 小时制时间（可带年月日），时间段用 ~ 连接",
    ),
    "date": (
        lambda v: _pattern(_DATE_POINT).fullmatch(v) is not None,
        "年月日（可带 24 小时制时间），时间段用 ~ 连接",
    ),
    "amount": (
        lambda v: re.fullmatch(r"[¥￥$€£]?\d{1,10}(?:\.\d{1,2})?元?", v) is not None,
        "1 个币种符号 + 10 位以内数字，可带小数，结尾可带“元”",
    ),
    "phone_number": (
        lambda v: re.fullmatch(r"[\d+\-() ]{1,17}", v) is not None,
        "17 位以内数字或符号",
    ),
    "car_number": (
        lambda v: (
            re.fullmatch(rf"[{_CJK}A-Za-z0-9][A-Za-z0-9]{{0,6}}[{_CJK}A-Za-z0-9]?", v) is not None
            and len(v) <= 8
        ),
        "8 位以内，首尾可为汉字，其余为字母或数字",
    ),
    "name": (
        lambda v: (
            re.fullmatch(rf"[{_CJK}·]{{1,10}}", v) is not None
            or re.fullmatch(r"[A-Za-z .'·-]{1,20}", v) is not None
        ),
        "10 个以内纯汉字或 20 个以内纯字母/符号",
    ),
    "phrase": (lambda v: re.fullmatch(rf"[{_CJK}]{{1,5}}", v) is not None, "5 个以内汉字"),
}
_FIELD_KEY = re.compile(r"([a-z_]+?)(\d*)")


def sandbox_openid(appid: str, code: str) -> str:
    """The openid a login code resolves to: stable per code, ignoring any "~suffix"."""
    return _derived_id("openid", appid, code)


def sandbox_unionid(appid: str, code: str) -> str:
    """The unionid a login code resolves to (when the sandbox hands unionids out)."""
    return _derived_id("unionid", appid, code)


def _derived_id(kind: str, appid: str, code: str) -> str:
    resident = code.split("~", 1)[0]
    key = f"pingyi-sandbox:{kind}:{appid}".encode()
    digest = hmac.new(key, resident.encode(), hashlib.sha256).digest()
    return "o" + base64.urlsafe_b64encode(digest).decode().rstrip("=")[:27]


class SandboxError(Exception):
    """A WeChat error answer: errcode plus WeChat's errmsg (and an optional detail)."""

    def __init__(self, errcode: int, detail: str | None = None) -> None:
        super().__init__(errcode, detail)
        self.errcode = errcode
        self.detail = detail

    @property
    def errmsg(self) -> str:
        base = ERRMSGS.get(self.errcode, "error")
        return f"{base} {self.detail}" if self.detail else base


@dataclass
class _Token:
    value: str
    issued_at: float
    expires_at: float


@dataclass
class _Failure:
    errcode: int | str
    remaining: int
    api: str | None
    delay: float


class SandboxState:
    """Everything the sandbox remembers, guarded by one lock (the server is threaded)."""

    def __init__(
        self,
        *,
        appid: str,
        secret: str,
        token_ttl: float,
        pages: Iterable[str],
        templates: Iterable[str] | Mapping[str, Iterable[str] | None] | None,
        risky_words: Iterable[str],
        review_words: Iterable[str],
        unionid: bool,
        clock: Callable[[], float],
    ) -> None:
        self.lock = threading.RLock()
        self.appid = appid
        self.secret = secret
        self.clock = clock
        self._initial = {
            "token_ttl": float(token_ttl),
            "pages": tuple(pages),
            "templates": _normalize_templates(templates),
            "risky_words": tuple(risky_words),
            "review_words": tuple(review_words),
            "unionid": bool(unionid),
        }
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.token_ttl: float = self._initial["token_ttl"]
            self.pages: tuple[str, ...] = self._initial["pages"]
            self.templates: dict[str, tuple[str, ...] | None] = dict(self._initial["templates"])
            self.risky_words: tuple[str, ...] = self._initial["risky_words"]
            self.review_words: tuple[str, ...] = self._initial["review_words"]
            self.unionid: bool = self._initial["unionid"]
            self.tokens: dict[str, _Token] = {}
            self.current_token: str | None = None
            self.force_refreshes: list[float] = []
            self.used_codes: dict[str, float] = {}
            self.openids: set[str] = set()
            self.quotas: dict[tuple[str, str], int] = {}
            self.messages: list[dict[str, Any]] = []
            self.calls: list[dict[str, Any]] = []
            self.failures: list[_Failure] = []
            self.next_msgid = 1

    # --- fault injection and the call log ------------------------------------------------------

    def take_failure(self, api: str) -> _Failure | None:
        with self.lock:
            for failure in self.failures:
                if failure.api in (None, api):
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self.failures.remove(failure)
                    return failure
        return None

    def log_call(self, api: str, errcode: int, **extra: Any) -> None:
        with self.lock:
            self.calls.append(
                {"api": api, "errcode": errcode, "injected": False, "at": self.clock(), **extra}
            )

    # --- tokens -----------------------------------------------------------------------------

    def _issue_token(self, now: float) -> _Token:
        token = _Token("SANDBOX_" + secrets.token_urlsafe(48), now, now + self.token_ttl)
        self.tokens[token.value] = token
        self.current_token = token.value
        return token

    def stable_token(self, *, force_refresh: bool) -> _Token:
        now = self.clock()
        current = self.tokens.get(self.current_token or "")
        if force_refresh:
            if self.force_refreshes and now - self.force_refreshes[-1] < FORCE_REFRESH_INTERVAL:
                raise SandboxError(45009, "(force_refresh at most every 30 s)")
            day = _day(now)
            if sum(1 for t in self.force_refreshes if _day(t) == day) >= FORCE_REFRESH_PER_DAY:
                raise SandboxError(45009, "(force_refresh at most 20 times a day)")
            self.force_refreshes.append(now)
            if current is not None:
                current.expires_at = min(current.expires_at, now + TOKEN_OVERLAP)
            return self._issue_token(now)
        # Normal mode: WeChat renews in the token's last 5 minutes (half its life when short).
        renew_window = min(TOKEN_OVERLAP, self.token_ttl / 2)
        if current is None or current.expires_at - now <= renew_window:
            return self._issue_token(now)
        return current

    def check_token(self, value: str | None) -> None:
        if not value:
            raise SandboxError(41001)
        token = self.tokens.get(value)
        if token is None:
            raise SandboxError(40001)
        if self.clock() >= token.expires_at:
            raise SandboxError(42001)

    def expire_tokens(self) -> int:
        with self.lock:
            now = self.clock()
            for token in self.tokens.values():
                token.expires_at = min(token.expires_at, now)
            return len(self.tokens)

    def set_token_ttl(self, ttl: float) -> None:
        with self.lock:
            self.token_ttl = ttl
            for token in self.tokens.values():
                token.expires_at = min(token.expires_at, token.issued_at + ttl)


def _day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).date().isoformat()


def _normalize_templates(
    templates: Iterable[str] | Mapping[str, Iterable[str] | None] | None,
) -> dict[str, tuple[str, ...] | None]:
    if not templates:
        return {}
    if isinstance(templates, Mapping):
        return {tid: tuple(keys) if keys is not None else None for tid, keys in templates.items()}
    return {tid: None for tid in templates}


def _rid() -> str:
    return secrets.token_hex(4) + "-" + secrets.token_hex(4) + "-" + secrets.token_hex(4)


def _error_body(errcode: int, errmsg: str) -> dict[str, Any]:
    return {"errcode": errcode, "errmsg": f"{errmsg} rid: {_rid()}"}


def _state() -> SandboxState:
    return current_app.extensions["wechat_sandbox"]


def _json_body() -> dict[str, Any]:
    raw = request.get_data()
    if not raw.strip():
        raise SandboxError(44002)
    try:
        body = request.get_json(force=True, silent=False)
    except BadRequest:
        raise SandboxError(47001) from None
    if not isinstance(body, dict):
        raise SandboxError(47001)
    return body


def _wechat_api(func: Callable[[], Any]) -> Callable[[], Any]:
    """Injected failures, error answers and the call log around one imitated API."""

    @wraps(func)
    def wrapper() -> Any:
        state = _state()
        api = request.path
        extra: dict[str, Any] = {}
        failure = state.take_failure(api)
        if failure is not None:
            if failure.errcode == "timeout":
                # Hang longer than the caller waits, then answer normally (the work is done,
                # the caller never hears of it: exactly what makes retries dangerous).
                time.sleep(failure.delay)
                extra.update(injected=True, delayed=failure.delay)
            else:
                errcode = int(failure.errcode)
                state.log_call(api, errcode, injected=True)
                return jsonify(_error_body(errcode, ERRMSGS.get(errcode, "injected error")))
        try:
            body, extra_log = func()
            extra.update(extra_log)
        except SandboxError as error:
            state.log_call(api, error.errcode, **extra)
            return jsonify(_error_body(error.errcode, error.errmsg))
        if isinstance(body, Response):
            state.log_call(api, 0, **extra)
            return body
        state.log_call(api, int(body.get("errcode", 0)), **extra)
        return jsonify(body)

    return wrapper


def create_sandbox_app(
    *,
    appid: str = DEFAULT_APPID,
    secret: str = DEFAULT_SECRET,
    token_ttl: float = 7200,
    pages: Iterable[str] = DEFAULT_PAGES,
    templates: Iterable[str] | Mapping[str, Iterable[str] | None] | None = None,
    risky_words: Iterable[str] = DEFAULT_RISKY_WORDS,
    review_words: Iterable[str] = (),
    unionid: bool = False,
    clock: Callable[[], float] = time.time,
) -> Flask:
    """Build the sandbox WSGI app (state in memory, fresh per call)."""
    app = Flask("wechat_sandbox")
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    state = SandboxState(
        appid=appid,
        secret=secret,
        token_ttl=token_ttl,
        pages=pages,
        templates=templates,
        risky_words=risky_words,
        review_words=review_words,
        unionid=unionid,
        clock=clock,
    )
    app.extensions["wechat_sandbox"] = state

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response | tuple[Response, int]:
        if request.path.startswith("/__sandbox__/"):
            return jsonify({"ok": False, "message": error.name}), error.code or 500
        if error.code == 405:  # WeChat answers a wrong method with 43001/43002
            errcode = 43002 if request.method == "GET" else 43001
            return jsonify(_error_body(errcode, ERRMSGS[errcode]))
        return jsonify(_error_body(40066, ERRMSGS[40066])), error.code or 500

    # --- the imitated APIs ---------------------------------------------------------------------

    @app.get("/sns/jscode2session")
    @_wechat_api
    def jscode2session() -> tuple[dict[str, Any], dict[str, Any]]:
        args = request.args
        if not args.get("appid"):
            raise SandboxError(41002)
        if not args.get("secret"):
            raise SandboxError(41004)
        if args["appid"] != state.appid:
            raise SandboxError(40013)
        if not hmac.compare_digest(args["secret"], state.secret):
            raise SandboxError(40125)
        if args.get("grant_type") != "authorization_code":
            raise SandboxError(40002)
        code = args.get("js_code", "")
        if not code:
            raise SandboxError(41008)
        if not code.split("~", 1)[0]:
            raise SandboxError(40029)
        with state.lock:
            now = state.clock()
            used_at = state.used_codes.get(code)
            if used_at is not None:
                raise SandboxError(40163 if now - used_at < CODE_LIFETIME else 40029)
            state.used_codes[code] = now
            openid = sandbox_openid(state.appid, code)
            state.openids.add(openid)
            body: dict[str, Any] = {
                "openid": openid,
                "session_key": base64.b64encode(secrets.token_bytes(16)).decode(),
            }
            if state.unionid:
                body["unionid"] = sandbox_unionid(state.appid, code)
        return body, {"openid": openid}

    @app.post("/cgi-bin/stable_token")
    @_wechat_api
    def stable_token() -> tuple[dict[str, Any], dict[str, Any]]:
        body = _json_body()
        force = body.get("force_refresh", False)
        if not isinstance(force, bool):
            raise SandboxError(47001, "(force_refresh must be a boolean)")
        if body.get("grant_type") != "client_credential":
            raise SandboxError(40002)
        if not body.get("appid"):
            raise SandboxError(41002)
        if not body.get("secret"):
            raise SandboxError(41004)
        if body["appid"] != state.appid:
            raise SandboxError(40013)
        if not hmac.compare_digest(str(body["secret"]), state.secret):
            raise SandboxError(40125)
        with state.lock:
            token = state.stable_token(force_refresh=force)
            expires_in = max(1, math.ceil(token.expires_at - state.clock()))
        return {"access_token": token.value, "expires_in": expires_in}, {"force_refresh": force}

    @app.post("/wxa/getwxacodeunlimit")
    @_wechat_api
    def getwxacodeunlimit() -> tuple[Response, dict[str, Any]]:
        with state.lock:
            state.check_token(request.args.get("access_token"))
            pages = state.pages
        body = _json_body()
        scene = body.get("scene")
        if not isinstance(scene, str) or not scene or len(scene) > 32:
            raise SandboxError(40169)
        if not SCENE_CHARS.fullmatch(scene):
            raise SandboxError(40097, "(scene: only [0-9A-Za-z!#$&'()*+,/:;=?@-._~])")
        page = body.get("page") or (pages[0] if pages else "")
        if not isinstance(page, str):
            raise SandboxError(41030)
        check_path = body.get("check_path", True)
        if not isinstance(check_path, bool):
            raise SandboxError(40097, "(check_path must be a boolean)")
        if page.startswith("/") or (check_path and page not in pages):
            raise SandboxError(41030)
        env_version = body.get("env_version", "release")
        if env_version not in ("release", "trial", "develop"):
            raise SandboxError(40097, "(env_version)")
        width = body.get("width", 430)
        if isinstance(width, bool) or not isinstance(width, int) or not 280 <= width <= 1280:
            raise SandboxError(40097, "(width must be 280-1280)")
        png = render_qr_png(scene, width)
        return Response(png, mimetype="image/png"), {"scene": scene, "page": page}

    @app.post("/cgi-bin/message/subscribe/send")
    @_wechat_api
    def subscribe_send() -> tuple[dict[str, Any], dict[str, Any]]:
        with state.lock:
            state.check_token(request.args.get("access_token"))
        body = _json_body()
        touser, template_id = body.get("touser"), body.get("template_id")
        data = body.get("data")
        with state.lock:
            if not isinstance(touser, str) or touser not in state.openids:
                raise SandboxError(40003)
            if not isinstance(template_id, str) or template_id not in state.templates:
                raise SandboxError(40037)
            if not isinstance(data, dict) or not data:
                raise SandboxError(47003, "data is empty")
            _validate_fields(data, state.templates[template_id])
            if body.get("miniprogram_state", "formal") not in ("developer", "trial", "formal"):
                raise SandboxError(40097, "(miniprogram_state)")
            if body.get("lang", "zh_CN") not in ("zh_CN", "en_US", "zh_HK", "zh_TW"):
                raise SandboxError(40097, "(lang)")
            page = body.get("page")
            if page is not None and not isinstance(page, str):
                raise SandboxError(40097, "(page)")
            key = (touser, template_id)
            if state.quotas.get(key, 0) <= 0:
                raise SandboxError(43101)
            state.quotas[key] -= 1
            msgid = state.next_msgid
            state.next_msgid += 1
            state.messages.append(
                {
                    "msgid": msgid,
                    "at": state.clock(),
                    "touser": touser,
                    "template_id": template_id,
                    "page": page,
                    "data": data,
                    "miniprogram_state": body.get("miniprogram_state", "formal"),
                    "lang": body.get("lang", "zh_CN"),
                }
            )
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}, {"touser": touser}

    @app.post("/wxa/msg_sec_check")
    @_wechat_api
    def msg_sec_check() -> tuple[dict[str, Any], dict[str, Any]]:
        with state.lock:
            state.check_token(request.args.get("access_token"))
        body = _json_body()
        if body.get("version") != 2:
            raise SandboxError(47001, "(version must be 2)")
        with state.lock:
            if not isinstance(body.get("openid"), str) or body["openid"] not in state.openids:
                raise SandboxError(40003)
            risky_words, review_words = state.risky_words, state.review_words
        scene = body.get("scene")
        if isinstance(scene, bool) or scene not in (1, 2, 3, 4):
            raise SandboxError(47001, "(scene must be 1-4)")
        content = body.get("content")
        if not isinstance(content, str) or not content or len(content) > MAX_CONTENT_LENGTH:
            raise SandboxError(47001, "(content must be 1-2500 characters)")
        suggest, label, keyword = "pass", 100, None
        for words, verdict, verdict_label in (
            (risky_words, "risky", 20006),
            (review_words, "review", 21000),
        ):
            hit = next((word for word in words if word and word in content), None)
            if hit is not None:
                suggest, label, keyword = verdict, verdict_label, hit
                break
        detail: list[dict[str, Any]] = [
            {
                "strategy": "content_model",
                "errcode": 0,
                "suggest": suggest,
                "label": label,
                "prob": 90,
            }
        ]
        if keyword is not None:
            detail.append(
                {
                    "strategy": "keyword",
                    "errcode": 0,
                    "suggest": suggest,
                    "label": label,
                    "level": 20,
                    "keyword": keyword,
                }
            )
        result = {
            "errcode": 0,
            "errmsg": "ok",
            "result": {"suggest": suggest, "label": label},
            "detail": detail,
            "trace_id": secrets.token_hex(16),
        }
        return result, {"suggest": suggest}

    # --- control ---------------------------------------------------------------------------

    @app.get("/__sandbox__/")
    def control_overview() -> Response:
        with state.lock:
            return jsonify(
                {
                    "sandbox": "微信接口沙箱",
                    "appid": state.appid,
                    "token_ttl": state.token_ttl,
                    "pages": list(state.pages),
                    "templates": {k: list(v) if v else None for k, v in state.templates.items()},
                    "risky_words": list(state.risky_words),
                    "review_words": list(state.review_words),
                    "unionid": state.unionid,
                    "residents": len(state.openids),
                    "messages": len(state.messages),
                    "calls": len(state.calls),
                }
            )

    @app.post("/__sandbox__/fail")
    def control_fail() -> Response | tuple[Response, int]:
        body = request.get_json(silent=True) or {}
        errcode = body.get("errcode")
        count = body.get("count", 1)
        api = body.get("api") or None
        delay = body.get("delay", 5)
        if errcode != "timeout" and (isinstance(errcode, bool) or not isinstance(errcode, int)):
            return _control_error('errcode 必须是整数或 "timeout"')
        if not isinstance(count, int) or count < 1:
            return _control_error("count 必须是正整数")
        if not isinstance(delay, int | float) or delay < 0:
            return _control_error("delay 必须是非负数（秒）")
        with state.lock:
            state.failures.append(_Failure(errcode, count, api, float(delay)))
            pending = [vars(f) for f in state.failures]
        return jsonify({"ok": True, "pending": pending})

    @app.route("/__sandbox__/subscriptions", methods=["GET", "POST"])
    def control_subscriptions() -> Response | tuple[Response, int]:
        if request.method == "GET":
            with state.lock:
                return jsonify(
                    [
                        {"openid": o, "template_id": t, "remaining": n}
                        for (o, t), n in state.quotas.items()
                    ]
                )
        body = request.get_json(silent=True) or {}
        openid, template_id = body.get("openid"), body.get("template_id")
        count = body.get("count", 1)
        if not isinstance(openid, str) or not isinstance(template_id, str):
            return _control_error("需要 openid 和 template_id")
        if not isinstance(count, int) or count < 1:
            return _control_error("count 必须是正整数")
        with state.lock:
            key = (openid, template_id)
            state.quotas[key] = state.quotas.get(key, 0) + count
            remaining = state.quotas[key]
        return jsonify({"openid": openid, "template_id": template_id, "remaining": remaining})

    @app.post("/__sandbox__/templates")
    def control_templates() -> Response | tuple[Response, int]:
        body = request.get_json(silent=True) or {}
        template_id, keys = body.get("template_id"), body.get("keys")
        if not isinstance(template_id, str) or not template_id:
            return _control_error("需要 template_id")
        if keys is not None and (
            not isinstance(keys, list) or not all(isinstance(k, str) for k in keys)
        ):
            return _control_error("keys 必须是字段名列表")
        with state.lock:
            state.templates[template_id] = tuple(keys) if keys is not None else None
        return jsonify({"template_id": template_id, "keys": keys})

    @app.post("/__sandbox__/config")
    def control_config() -> Response | tuple[Response, int]:
        body = request.get_json(silent=True) or {}
        if "token_ttl" in body:
            ttl = body["token_ttl"]
            if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0:
                return _control_error("token_ttl 必须是正数（秒）")
            state.set_token_ttl(float(ttl))
        with state.lock:
            for name in ("risky_words", "review_words", "pages"):
                if name in body:
                    words = body[name]
                    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
                        return _control_error(f"{name} 必须是字符串列表")
                    setattr(state, name, tuple(words))
            if "unionid" in body:
                state.unionid = bool(body["unionid"])
        return control_overview()

    @app.post("/__sandbox__/expire-tokens")
    def control_expire_tokens() -> Response:
        return jsonify({"expired": state.expire_tokens()})

    @app.get("/__sandbox__/messages")
    def control_messages() -> Response:
        with state.lock:
            return jsonify(list(state.messages))

    @app.get("/__sandbox__/calls")
    def control_calls() -> Response:
        api = request.args.get("api")
        with state.lock:
            return jsonify([c for c in state.calls if api is None or c["api"] == api])

    @app.get("/__sandbox__/openid")
    def control_openid() -> Response | tuple[Response, int]:
        code = request.args.get("code", "")
        if not code.split("~", 1)[0]:
            return _control_error("需要 code")
        return jsonify({"code": code, "openid": sandbox_openid(state.appid, code)})

    @app.post("/__sandbox__/reset")
    def control_reset() -> Response:
        state.reset()
        return jsonify({"ok": True})

    return app


def _control_error(message: str) -> tuple[Response, int]:
    return jsonify({"ok": False, "message": message}), 400


def _validate_fields(data: dict[str, Any], declared: tuple[str, ...] | None) -> None:
    """Raise 47003 naming the first field that breaks WeChat's rule for its key prefix."""
    for key in declared or ():
        if key not in data:
            raise SandboxError(47003, f"data.{key}.value is empty")
    for key, item in data.items():
        match = _FIELD_KEY.fullmatch(str(key))
        rule = FIELD_RULES.get(match.group(1)) if match else None
        if rule is None or (declared is not None and key not in declared):
            raise SandboxError(47003, f"data.{key} is not a field of the template")
        if not isinstance(item, dict) or not isinstance(item.get("value"), str):
            raise SandboxError(47003, f"data.{key}.value must be a string")
        value = item["value"]
        check, requirement = rule
        if not value:
            raise SandboxError(47003, f"data.{key}.value is empty")
        if not check(value):
            raise SandboxError(47003, f"data.{key}.value invalid (要求：{requirement})")


def render_qr_png(text: str, width: int) -> bytes:
    """A `width`×`width` PNG holding a QR code for `text` (whole pixels per module)."""
    import qrcode
    from PIL import Image

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=1, border=4)
    qr.add_data(text)
    qr.make(fit=True)
    modules = qr.modules_count + 2 * qr.border
    box = max(1, width // modules)
    qr.box_size = box
    code = qr.make_image(fill_color="black", back_color="white").get_image().convert("L")
    canvas = Image.new("L", (width, width), 255)
    offset = (width - code.size[0]) // 2
    canvas.paste(code, (max(0, offset), max(0, offset)))
    out = io.BytesIO()
    canvas.save(out, format="PNG", optimize=True)
    return out.getvalue()


class RedactingRequestHandler(WSGIRequestHandler):
    """werkzeug's request log without the secret, access_token and js_code values."""

    def log(self, type: str, message: str, *args: Any) -> None:
        super().log(type, "%s", redact(message % args if args else message))


def serve(host: str, port: int, **options: Any) -> None:
    """Run the sandbox with werkzeug's threaded server until interrupted."""
    app = create_sandbox_app(**options)
    server = make_server(host, port, app, threaded=True, request_handler=RedactingRequestHandler)
    state: SandboxState = app.extensions["wechat_sandbox"]
    print(
        f"微信接口沙箱已启动：http://{host}:{server.server_port}"
        f"（appid {state.appid}，控制接口 /__sandbox__/）",
        flush=True,
    )
    serve_until_stopped(server, stopped="微信接口沙箱已停止")


@click.command("wechat-sandbox", help="运行本地微信接口沙箱（开发、演示和测试用）。")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5001, show_default=True, type=int)
@click.option(
    "--template",
    "templates",
    multiple=True,
    metavar="ID=KEY1,KEY2",
    help="预先登记的订阅消息模板及其字段（可多次给出）",
)
def wechat_sandbox_command(host: str, port: int, templates: tuple[str, ...]) -> None:
    registered = {}
    for item in templates:
        template_id, _, keys = item.partition("=")
        registered[template_id] = [k for k in keys.split(",") if k] or None
    serve(host, port, templates=registered)
