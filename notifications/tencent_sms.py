"""A client of Tencent Cloud SMS `SendSms` (API 3.0, version 2021-01-11).

Requests are signed with TC3-HMAC-SHA256 exactly as Tencent documents it ("签名方法 v3"):

    CanonicalRequest = POST \\n / \\n "" \\n content-type:…\\nhost:…\\n \\n content-type;host \\n
                       hex(sha256(body))
    StringToSign     = TC3-HMAC-SHA256 \\n timestamp \\n {UTC date}/sms/tc3_request \\n
                       hex(sha256(CanonicalRequest))
    SecretSigning    = HMAC(HMAC(HMAC("TC3" + SecretKey, date), "sms"), "tc3_request")
    Signature        = hex(HMAC(SecretSigning, StringToSign))

The answer is HTTP 200 either way: `Response.Error` for a refused request (bad signature,
throttled, Tencent's trouble), else `Response.SendStatusSet[]` with one `Code` per number
("Ok", or e.g. LimitExceeded.PhoneNumberDailyLimit, InvalidParameterValue.IncorrectPhoneNumber).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from app.clock import utcnow

ALGORITHM = "TC3-HMAC-SHA256"
SERVICE = "sms"
ACTION = "SendSms"
VERSION = "2021-01-11"
CONTENT_TYPE = "application/json; charset=utf-8"
SIGNED_HEADERS = "content-type;host"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_request(*, payload: bytes, host: str, content_type: str = CONTENT_TYPE) -> str:
    """The canonical form of a POST to "/" signing content-type and host."""
    headers = f"content-type:{content_type.strip().lower()}\nhost:{host.strip().lower()}\n"
    return "\n".join(("POST", "/", "", headers, SIGNED_HEADERS, sha256_hex(payload)))


def credential_date(timestamp: int) -> str:
    """The UTC date of a request's timestamp (never the local date: it fails at 00:00 +08)."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def string_to_sign(*, timestamp: int, service: str, canonical: str) -> str:
    scope = f"{credential_date(timestamp)}/{service}/tc3_request"
    return "\n".join((ALGORITHM, str(timestamp), scope, sha256_hex(canonical.encode("utf-8"))))


def tc3_signature(secret_key: str, *, date: str, service: str, to_sign: str) -> str:
    """hex HMAC-SHA256 of `to_sign` under the key derived from the secret, date and service."""
    signing = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    return hmac.new(signing, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def authorization(
    *,
    secret_id: str,
    secret_key: str,
    timestamp: int,
    payload: bytes,
    host: str,
    service: str = SERVICE,
    content_type: str = CONTENT_TYPE,
) -> str:
    """The Authorization header of a signed POST."""
    canonical = canonical_request(payload=payload, host=host, content_type=content_type)
    to_sign = string_to_sign(timestamp=timestamp, service=service, canonical=canonical)
    date = credential_date(timestamp)
    signature = tc3_signature(secret_key, date=date, service=service, to_sign=to_sign)
    return (
        f"{ALGORITHM} Credential={secret_id}/{date}/{service}/tc3_request, "
        f"SignedHeaders={SIGNED_HEADERS}, Signature={signature}"
    )


@dataclass(frozen=True)
class SendStatus:
    """Tencent's answer for one number."""

    phone_number: str
    code: str
    message: str
    serial_no: str = ""
    fee: int = 0

    @property
    def ok(self) -> bool:
        return self.code == "Ok"


class SmsRequestError(Exception):
    """The request as a whole failed: `code` is Tencent's Error.Code, or "network"/"http"."""

    def __init__(self, code: str, message: str, request_id: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.request_id = request_id


@dataclass(frozen=True)
class SmsGateway:
    """Where and as whom to send: the SMS_* configuration."""

    endpoint: str
    secret_id: str
    secret_key: str
    region: str
    sdk_app_id: str
    sign_name: str
    timeout: tuple[float, float] = (3.05, 10.0)

    @property
    def host(self) -> str:
        return urlsplit(self.endpoint).netloc

    def send_sms(
        self,
        *,
        phone_numbers: list[str],
        template_id: str,
        params: list[str],
        session_context: str = "",
        timestamp: int | None = None,
    ) -> list[SendStatus]:
        """One SendSms call; per-number statuses, or SmsRequestError for the whole request."""
        body: dict[str, Any] = {
            "PhoneNumberSet": phone_numbers,
            "SmsSdkAppId": self.sdk_app_id,
            "SignName": self.sign_name,
            "TemplateId": template_id,
            "TemplateParamSet": params,
        }
        if session_context:
            body["SessionContext"] = session_context[:500]
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        stamp = int(utcnow().timestamp()) if timestamp is None else timestamp
        headers = {
            "Authorization": authorization(
                secret_id=self.secret_id,
                secret_key=self.secret_key,
                timestamp=stamp,
                payload=payload,
                host=self.host,
            ),
            "Content-Type": CONTENT_TYPE,
            "Host": self.host,
            "X-TC-Action": ACTION,
            "X-TC-Timestamp": str(stamp),
            "X-TC-Version": VERSION,
            "X-TC-Region": self.region,
        }
        try:
            response = requests.post(
                self.endpoint.rstrip("/") + "/",
                data=payload,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.Timeout:
            raise SmsRequestError("network", "短信平台响应超时") from None
        except requests.RequestException as error:
            raise SmsRequestError(
                "network", f"无法连接短信平台（{type(error).__name__}）"
            ) from None
        return parse_response(response.status_code, response.text)


def parse_response(status: int, text: str) -> list[SendStatus]:
    """The per-number statuses of a SendSms answer; SmsRequestError when it has none."""
    try:
        answer = json.loads(text)["Response"]
    except (ValueError, KeyError, TypeError):
        raise SmsRequestError("http", f"短信平台返回 HTTP {status}：{text[:200]}") from None
    request_id = str(answer.get("RequestId", ""))
    error = answer.get("Error")
    if isinstance(error, dict):
        raise SmsRequestError(str(error.get("Code", "")), str(error.get("Message", "")), request_id)
    statuses = answer.get("SendStatusSet")
    if not isinstance(statuses, list):
        raise SmsRequestError("http", f"短信平台的应答缺少 SendStatusSet（HTTP {status}）")
    return [
        SendStatus(
            phone_number=str(item.get("PhoneNumber", "")),
            code=str(item.get("Code", "")),
            message=str(item.get("Message", "")),
            serial_no=str(item.get("SerialNo", "")),
            fee=int(item.get("Fee") or 0),
        )
        for item in statuses
        if isinstance(item, dict)
    ]
