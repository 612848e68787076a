"""A local stand-in for Tencent Cloud SMS `SendSms` (API 3.0, 2021-01-11) for development,
demos and tests.

`POST /` answers like Tencent — HTTP 200 with `{"Response": {...}}` either way:

- the request: X-TC-Action SendSms (else InvalidAction), X-TC-Version 2021-01-11 (else
  NoSuchVersion), a TC3-HMAC-SHA256 Authorization whose SecretId is ours (else
  AuthFailure.SecretIdNotFound), whose signature over the signed headers and the body holds
  (else AuthFailure.SignatureFailure) and whose timestamp is within 5 minutes of the
  sandbox's clock with the matching UTC date (else AuthFailure.SignatureExpire) →
  `Response.Error {Code, Message}`;
- the message: SmsSdkAppId (UnauthorizedOperation.SmsSdkAppIdVerifyFail), SignName
  (FailedOperation.SignatureIncorrectOrUnapproved), a registered TemplateId
  (FailedOperation.TemplateIncorrectOrUnapproved), as many parameters as the template has
  placeholders (FailedOperation.TemplateParamSetNotMatchApprovedTemplate), no URL in a
  parameter (InvalidParameterValue.ProhibitedUseUrlInTemplateParameter), none longer than
  `max_param_length` (InvalidParameterValue.TemplateParameterLengthLimit);
- each number gets its own `SendStatusSet[]` entry: "Ok", InvalidParameterValue.
  IncorrectPhoneNumber (not a mainland mobile in E.164), LimitExceeded.PhoneNumberDailyLimit
  (over `daily_limit` a day), or an injected code. Accepted messages are recorded with the
  text a phone would show (【签名】 and the template filled in).

The TC3 check is written here again, on purpose, rather than imported from the app: the
sandbox is the other side of the contract and must catch a mistake in ours.

Control endpoints (JSON) under `/__sms__/`:

    POST /__sms__/fail       {"code": "LimitExceeded.PhoneNumberDailyLimit", "count": 1,
                              "phone"?: "+8613800000000"}        per number (the default)
                             {"code": "InternalError.Timeout", "level": "request"}
                             {"code": "timeout", "delay": 5}     hang, then answer normally
                             {"code": 503}                       an HTTP error
    POST /__sms__/templates  {"template_id": "900001", "text": "…{1}…{2}"}
    POST /__sms__/config     {"daily_limit"?, "max_param_length"?}
    GET  /__sms__/messages   the messages accepted so far
    GET  /__sms__/calls      every call: its outcome per number, or the request's error
    POST /__sms__/reset      back to the state at start-up
    GET  /__sms__/           this overview

Run it with `flask --app run sms-sandbox --port 5003` and point the app at it with
SMS_ENDPOINT=http://127.0.0.1:5003 SMS_SECRET_ID=<sandbox id> SMS_SECRET_KEY=sandbox-sms-secret-key
SMS_SDK_APP_ID=1400000000 SMS_SIGN_NAME=评议平台 (`flask up` does this).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import click
from flask import Flask, Response, current_app, jsonify, request
from flask.cli import with_appcontext
from werkzeug.serving import make_server

from config import SANDBOX_SMS_SECRET_ID
from sandboxes.serving import QuietRequestHandler, serve_until_stopped

DEFAULT_SECRET_ID = SANDBOX_SMS_SECRET_ID
DEFAULT_SECRET_KEY = "sandbox-sms-secret-key"
DEFAULT_APP_ID = "1400000000"
DEFAULT_SIGN = "评议平台"
DEFAULT_PORT = 5003
TOLERANCE_SECONDS = 300
CHINA = timezone(timedelta(hours=8))  # Tencent's daily limits count Beijing days
MAINLAND_MOBILE = re.compile(r"\+861[3-9]\d{9}")
URL = re.compile(r"(https?://|www\.)|([a-z0-9-]+\.)+(com|cn|net|org|gov)(/|$)", re.I)
PLACEHOLDER = re.compile(r"\{(\d+)\}")
AUTHORIZATION = re.compile(
    r"TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[^/]+)"
    r"/tc3_request, SignedHeaders=(?P<headers>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})"
)

MESSAGES = {
    "Ok": "send success",
    "InvalidAction": "The action does not exist.",
    "NoSuchVersion": "The API version does not exist.",
    "AuthFailure.InvalidAuthorization": "Authorization is not a valid TC3-HMAC-SHA256 header.",
    "AuthFailure.SecretIdNotFound": "The SecretId is not found.",
    "AuthFailure.SignatureFailure": "The provided credentials could not be validated.",
    "AuthFailure.SignatureExpire": "Signature expired.",
    "FailedOperation.JsonParseFail": "Failed to parse the request body.",
    "MissingParameter": "A required parameter is missing.",
    "UnauthorizedOperation.SmsSdkAppIdVerifyFail": "SmsSdkAppId verify fail.",
    "FailedOperation.SignatureIncorrectOrUnapproved": "signature unapproved or format error",
    "FailedOperation.TemplateIncorrectOrUnapproved": "template unapproved or not exist",
    "FailedOperation.TemplateParamSetNotMatchApprovedTemplate": "params not match template",
    "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter": "url in template parameter",
    "InvalidParameterValue.TemplateParameterLengthLimit": "template parameter too long",
    "InvalidParameterValue.IncorrectPhoneNumber": "incorrect number format",
    "LimitExceeded.PhoneNumberDailyLimit": "the number of sms messages sent from a single "
    "mobile number every day exceeds the upper limit",
    "LimitExceeded.PhoneNumberCountLimit": "too many numbers in one request",
}


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def expected_signature(
    secret_key: str, *, headers: Mapping[str, str], signed: str, body: bytes, timestamp: str
) -> str:
    """What a correct TC3-HMAC-SHA256 signature of this request is."""
    names = signed.split(";")
    canonical_headers = "".join(f"{n}:{headers.get(n, '').strip().lower()}\n" for n in names)
    canonical = "\n".join(
        ("POST", "/", "", canonical_headers, signed, hashlib.sha256(body).hexdigest())
    )
    date = datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d")
    to_sign = "\n".join(
        (
            "TC3-HMAC-SHA256",
            timestamp,
            f"{date}/sms/tc3_request",
            hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        )
    )
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), "sms"), "tc3_request")
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


class Refused(Exception):
    """A request-level error answer."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


@dataclass
class _Failure:
    code: str | int
    remaining: int
    level: str
    phone: str | None
    delay: float


class SmsState:
    """What the stand-in remembers, under one lock (the server is threaded)."""

    def __init__(
        self,
        *,
        secret_id: str,
        secret_key: str,
        app_id: str,
        sign_name: str,
        templates: Mapping[str, str],
        daily_limit: int,
        max_param_length: int,
        clock: Callable[[], float],
    ) -> None:
        self.lock = threading.RLock()
        self.secret_id, self.secret_key = secret_id, secret_key
        self.app_id, self.sign_name = app_id, sign_name
        self.clock = clock
        self._initial = (dict(templates), daily_limit, max_param_length)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            templates, self.daily_limit, self.max_param_length = self._initial
            self.templates: dict[str, str] = dict(templates)
            self.messages: list[dict[str, Any]] = []
            self.calls: list[dict[str, Any]] = []
            self.failures: list[_Failure] = []
            self.next_serial = 1

    def take_failure(self, level: str, phone: str | None = None) -> _Failure | None:
        with self.lock:
            for failure in self.failures:
                if failure.level == level and failure.phone in (None, phone):
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self.failures.remove(failure)
                    return failure
        return None

    def sent_today(self, phone: str) -> int:
        day = _day(self.clock())
        return sum(1 for m in self.messages if m["phone"] == phone and _day(m["at"]) == day)


def _day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, CHINA).date().isoformat()


def _state() -> SmsState:
    return current_app.extensions["sms_sandbox"]


def _answer(body: dict[str, Any]) -> Response:
    return jsonify({"Response": {**body, "RequestId": str(uuid.uuid4())}})


def _check_request(state: SmsState, raw: bytes) -> None:
    """Refuse what Tencent refuses before looking at the message."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    if headers.get("x-tc-action") != "SendSms":
        raise Refused("InvalidAction")
    if headers.get("x-tc-version") != "2021-01-11":
        raise Refused("NoSuchVersion")
    match = AUTHORIZATION.fullmatch(headers.get("authorization", ""))
    stamp = headers.get("x-tc-timestamp", "")
    if match is None or not stamp.isdigit() or match["service"] != "sms":
        raise Refused("AuthFailure.InvalidAuthorization")
    if not {"content-type", "host"} <= set(match["headers"].split(";")):
        raise Refused("AuthFailure.InvalidAuthorization", "content-type and host must be signed")
    if match["id"] != state.secret_id:
        raise Refused("AuthFailure.SecretIdNotFound")
    signature = expected_signature(
        state.secret_key, headers=headers, signed=match["headers"], body=raw, timestamp=stamp
    )
    if not hmac.compare_digest(signature, match["signature"]):
        raise Refused("AuthFailure.SignatureFailure")
    date = datetime.fromtimestamp(int(stamp), UTC).strftime("%Y-%m-%d")
    if abs(state.clock() - int(stamp)) > TOLERANCE_SECONDS or date != match["date"]:
        raise Refused("AuthFailure.SignatureExpire")


def _check_message(state: SmsState, body: Any) -> tuple[list[str], str, list[str]]:
    """(numbers, template text, parameters) of a well-formed request, or Refused."""
    if not isinstance(body, dict):
        raise Refused("FailedOperation.JsonParseFail")
    phones, params = body.get("PhoneNumberSet"), body.get("TemplateParamSet", [])
    if not isinstance(phones, list) or not phones or not all(isinstance(p, str) for p in phones):
        raise Refused("MissingParameter", "PhoneNumberSet")
    if len(phones) > 200:
        raise Refused("LimitExceeded.PhoneNumberCountLimit")
    if body.get("SmsSdkAppId") != state.app_id:
        raise Refused("UnauthorizedOperation.SmsSdkAppIdVerifyFail")
    if body.get("SignName") != state.sign_name:
        raise Refused("FailedOperation.SignatureIncorrectOrUnapproved")
    text = state.templates.get(str(body.get("TemplateId", "")))
    if text is None:
        raise Refused("FailedOperation.TemplateIncorrectOrUnapproved")
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        raise Refused("FailedOperation.TemplateParamSetNotMatchApprovedTemplate")
    if len(params) != len(set(PLACEHOLDER.findall(text))):
        raise Refused("FailedOperation.TemplateParamSetNotMatchApprovedTemplate")
    for index, value in enumerate(params, start=1):
        if URL.search(value):
            raise Refused(
                "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter", f"{{{index}}}"
            )
        if len(value) > state.max_param_length:
            raise Refused("InvalidParameterValue.TemplateParameterLengthLimit", f"{{{index}}}")
    return phones, text, params


def _status(phone: str, code: str, serial: str = "", fee: int = 0) -> dict[str, Any]:
    return {
        "SerialNo": serial,
        "PhoneNumber": phone,
        "Fee": fee,
        "SessionContext": "",
        "Code": code,
        "Message": MESSAGES.get(code, "injected error"),
        "IsoCode": "CN" if phone.startswith("+86") else "DEF",
    }


def _deliver(state: SmsState, phone: str, text: str, params: list[str], body: dict) -> dict:
    """One number's outcome; an accepted message is recorded."""
    failure = state.take_failure("number", phone)
    if failure is not None:
        return _status(phone, str(failure.code))
    if not MAINLAND_MOBILE.fullmatch(phone):
        return _status(phone, "InvalidParameterValue.IncorrectPhoneNumber")
    if state.sent_today(phone) >= state.daily_limit:
        return _status(phone, "LimitExceeded.PhoneNumberDailyLimit")
    content = PLACEHOLDER.sub(lambda m: params[int(m.group(1)) - 1], text)
    serial = f"2433:{state.next_serial:019d}"
    state.next_serial += 1
    state.messages.append(
        {
            "serial_no": serial,
            "at": state.clock(),
            "phone": phone,
            "template_id": str(body["TemplateId"]),
            "params": params,
            "sign_name": body["SignName"],
            "content": f"【{body['SignName']}】{content}",
            "session_context": body.get("SessionContext", ""),
        }
    )
    return _status(phone, "Ok", serial, fee=1 + len(content) // 67)


def create_sms_app(
    *,
    secret_id: str = DEFAULT_SECRET_ID,
    secret_key: str = DEFAULT_SECRET_KEY,
    app_id: str = DEFAULT_APP_ID,
    sign_name: str = DEFAULT_SIGN,
    templates: Mapping[str, str] | None = None,
    daily_limit: int = 10,
    max_param_length: int = 32,
    clock: Callable[[], float] = time.time,
) -> Flask:
    """Build the stand-in's WSGI app (state in memory, fresh per call)."""
    app = Flask("sms_sandbox")
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    state = SmsState(
        secret_id=secret_id,
        secret_key=secret_key,
        app_id=app_id,
        sign_name=sign_name,
        templates=templates or {},
        daily_limit=daily_limit,
        max_param_length=max_param_length,
        clock=clock,
    )
    app.extensions["sms_sandbox"] = state

    @app.post("/")
    def send_sms() -> Response | tuple[Response, int]:
        raw = request.get_data()
        failure = state.take_failure("request")
        if failure is not None and failure.code == "timeout":
            time.sleep(failure.delay)  # the caller gives up; the message still goes out
        elif failure is not None and isinstance(failure.code, int):
            state.calls.append({"at": state.clock(), "http": failure.code, "injected": True})
            return jsonify({"message": "injected HTTP error"}), failure.code
        try:
            if failure is not None and failure.code != "timeout":
                raise Refused(str(failure.code), "injected")
            _check_request(state, raw)
            try:
                body = json.loads(raw)
            except ValueError:
                raise Refused("FailedOperation.JsonParseFail") from None
            phones, text, params = _check_message(state, body)
        except Refused as refused:
            with state.lock:
                state.calls.append({"at": state.clock(), "error": refused.code})
            message = MESSAGES.get(refused.code, "injected error")
            detail = f" ({refused.detail})" if refused.detail else ""
            return _answer({"Error": {"Code": refused.code, "Message": message + detail}})
        with state.lock:
            statuses = [_deliver(state, phone, text, params, body) for phone in phones]
            state.calls.append(
                {"at": state.clock(), "codes": {s["PhoneNumber"]: s["Code"] for s in statuses}}
            )
        return _answer({"SendStatusSet": statuses})

    @app.get("/__sms__/")
    def overview() -> Response:
        with state.lock:
            return jsonify(
                {
                    "sandbox": "腾讯云短信沙箱",
                    "secret_id": state.secret_id,
                    "sdk_app_id": state.app_id,
                    "sign_name": state.sign_name,
                    "templates": state.templates,
                    "daily_limit": state.daily_limit,
                    "max_param_length": state.max_param_length,
                    "messages": len(state.messages),
                    "calls": len(state.calls),
                }
            )

    @app.post("/__sms__/fail")
    def fail() -> Response | tuple[Response, int]:
        body = request.get_json(silent=True) or {}
        code, count = body.get("code"), body.get("count", 1)
        level = body.get("level") or ("request" if code == "timeout" else "number")
        if isinstance(code, int) and not isinstance(code, bool):
            level = "request"
        elif not isinstance(code, str) or not code:
            return _control_error('code 必须是腾讯云错误码、HTTP 状态码或 "timeout"')
        if not isinstance(count, int) or count < 1:
            return _control_error("count 必须是正整数")
        if level not in ("number", "request"):
            return _control_error('level 必须是 "number" 或 "request"')
        delay = body.get("delay", 5)
        if not isinstance(delay, int | float) or delay < 0:
            return _control_error("delay 必须是非负数（秒）")
        with state.lock:
            state.failures.append(_Failure(code, count, level, body.get("phone"), float(delay)))
            pending = [vars(f) for f in state.failures]
        return jsonify({"ok": True, "pending": pending})

    @app.post("/__sms__/templates")
    def register_template() -> Response | tuple[Response, int]:
        body = request.get_json(silent=True) or {}
        template_id, text = body.get("template_id"), body.get("text")
        if not isinstance(template_id, str) or not template_id or not isinstance(text, str):
            return _control_error("需要 template_id 和 text")
        with state.lock:
            state.templates[template_id] = text
        return jsonify({"template_id": template_id, "text": text})

    @app.post("/__sms__/config")
    def configure() -> Response | tuple[Response, int]:
        body = request.get_json(silent=True) or {}
        for name in ("daily_limit", "max_param_length"):
            if name in body:
                value = body[name]
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    return _control_error(f"{name} 必须是非负整数")
                with state.lock:
                    setattr(state, name, value)
        return overview()

    @app.get("/__sms__/messages")
    def messages() -> Response:
        with state.lock:
            return jsonify(list(state.messages))

    @app.get("/__sms__/calls")
    def calls() -> Response:
        with state.lock:
            return jsonify(list(state.calls))

    @app.post("/__sms__/reset")
    def reset() -> Response:
        state.reset()
        return jsonify({"ok": True})

    return app


def _control_error(message: str) -> tuple[Response, int]:
    return jsonify({"ok": False, "message": message}), 400


def serve(host: str, port: int, **options: Any) -> None:
    """Run the stand-in with werkzeug's threaded server until interrupted (or SIGTERM)."""
    app = create_sms_app(**options)
    server = make_server(host, port, app, threaded=True, request_handler=QuietRequestHandler)
    print(f"短信沙箱已启动：http://{host}:{server.server_port}（控制接口 /__sms__/）", flush=True)
    serve_until_stopped(server, stopped="短信沙箱已停止")


@click.command("sms-sandbox", help="运行本地腾讯云短信沙箱（开发、演示和测试用）。")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
@click.option(
    "--template",
    "templates",
    multiple=True,
    metavar="ID=TEXT",
    help="预先登记的短信模板及其正文，参数写作 {1}、{2}（可多次给出；默认登记本应用的模板）",
)
@click.option("--daily-limit", default=10, show_default=True, type=int, help="每个号码每天上限")
@with_appcontext
def sms_sandbox_command(host: str, port: int, templates: tuple[str, ...], daily_limit: int) -> None:
    registered = dict(item.partition("=")[::2] for item in templates)
    config = current_app.config
    if not registered:
        from notifications.channels.sms import sandbox_templates

        registered = sandbox_templates()
    serve(
        host,
        port,
        secret_id=config.get("SMS_SECRET_ID") or DEFAULT_SECRET_ID,
        secret_key=config.get("SMS_SECRET_KEY") or DEFAULT_SECRET_KEY,
        app_id=config.get("SMS_SDK_APP_ID") or DEFAULT_APP_ID,
        sign_name=config.get("SMS_SIGN_NAME") or DEFAULT_SIGN,
        templates=registered,
        daily_limit=daily_limit,
    )
