"""The link to the city's 12345 platform: livelihood clues are POSTed to HOTLINE_URL, signed,
with a stable event id the platform deduplicates by; the platform calls back with the result.

Both directions sign the same way, with the shared secret HOTLINE_SECRET:

    X-Pingyi-Timestamp: unix seconds
    X-Pingyi-Signature: hex HMAC-SHA256(secret, timestamp + "." + raw body bytes)
    X-Pingyi-Event-Id:  the event id (also in the body)

A receiver accepts a timestamp within ±HOTLINE_TIMESTAMP_TOLERANCE_SECONDS (300) of its clock,
which bounds how long a captured request could be replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests
import sqlalchemy as sa
from flask import current_app

from app.audit import record_audit
from app.clock import utcnow
from app.errors import Invalid, NotFound
from app.extensions import db
from clues.models import Clue, ClueEvent
from clues.service import close_forwarded, get_clue
from clues.states import Action, ClueStatus
from notifications.channels import Delivery, Result, Verdict, dead, retry, sent
from notifications.models import Channel, OutboxMessage

EVENT_HEADER = "X-Pingyi-Event-Id"
TIMESTAMP_HEADER = "X-Pingyi-Timestamp"
SIGNATURE_HEADER = "X-Pingyi-Signature"
CALLBACK_PATH = "/integrations/12345/callback"
EVENT_MISMATCH = "事件编号与该线索的转办记录不符"


class EventMismatch(Invalid):
    """A callback names an event the clue was never forwarded under."""

    code = "event_mismatch"


def sign(secret: str, timestamp: str, raw_body: bytes) -> str:
    """hex HMAC-SHA256(secret, f"{timestamp}.{raw_body}")."""
    message = timestamp.encode() + b"." + raw_body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, raw_body: bytes, *, event_id: str, timestamp: int | None = None
) -> dict[str, str]:
    """The headers of a signed request (timestamp: now, by the app's clock)."""
    stamp = str(int(utcnow().timestamp()) if timestamp is None else timestamp)
    return {
        "Content-Type": "application/json; charset=utf-8",
        EVENT_HEADER: event_id,
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign(secret, stamp, raw_body),
    }


def signature_problem(
    secret: str, headers: Any, raw_body: bytes, *, tolerance: float
) -> str | None:
    """Why a request's signature cannot be trusted, or None when it holds."""
    stamp = headers.get(TIMESTAMP_HEADER, "")
    signature = headers.get(SIGNATURE_HEADER, "")
    if not stamp or not signature:
        return "缺少签名或时间戳"
    try:
        moment = int(stamp)
    except ValueError:
        return "时间戳格式不正确"
    # The signature first: an unsigned probe learns nothing, not even how our clock runs.
    if not hmac.compare_digest(sign(secret, stamp, raw_body), signature.lower()):
        return "签名不正确"
    if abs(utcnow().timestamp() - moment) > tolerance:
        return "时间戳超出允许范围"
    return None


def callback_url() -> str:
    """Where the platform sends results (HOTLINE_CALLBACK_URL, else ours under PUBLIC_BASE_URL)."""
    config = current_app.config
    return config.get("HOTLINE_CALLBACK_URL") or f"{config['PUBLIC_BASE_URL']}{CALLBACK_PATH}"


def encode(body: dict[str, Any]) -> bytes:
    """The exact bytes that are signed and sent."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class HotlineDelivery:
    """One signed POST to the 12345 platform."""

    url: str
    secret: str
    event_id: str
    body: dict[str, Any]
    timeout: tuple[float, float]
    # What the platform answered: its own case number, kept with the clue by settle().
    answer: dict[str, str] = field(default_factory=dict)

    def send(self) -> Result:
        raw = encode(self.body)
        headers = signed_headers(self.secret, raw, event_id=self.event_id)
        try:
            response = requests.post(
                self.url, data=raw, headers=headers, timeout=self.timeout, allow_redirects=False
            )
        except requests.Timeout:
            return retry("12345 平台响应超时")
        except requests.RequestException as error:
            return retry(f"无法连接 12345 平台（{type(error).__name__}）")
        status = response.status_code
        if 200 <= status < 300:
            self.answer["case_no"] = case_number(response)
            return sent()
        detail = f"12345 平台返回 HTTP {status}：{response.text[:200]}"
        if status >= 500 or status in (408, 429):
            return retry(detail, status)
        # 3xx/4xx: our request or configuration is wrong; sending it again cannot help.
        return dead(detail, status)

    def settle(self, result: Result) -> None:
        if result.verdict is Verdict.SENT:
            keep_case_number(self.body.get("tracking_no", ""), self.answer.get("case_no", ""))


def case_number(response: requests.Response) -> str:
    """The platform's case number from its answer (`case_no`), or "" when it gave none."""
    try:
        answer = response.json()
    except ValueError:
        return ""
    value = answer.get("case_no") if isinstance(answer, dict) else None
    return str(value)[:64] if value else ""


def keep_case_number(tracking_no: str, case_no: str) -> None:
    """Remember the 12345 case number of a forwarded clue (the first one the platform gave)."""
    if tracking_no and case_no:
        db.session.execute(
            sa.update(Clue)
            .where(Clue.tracking_no == tracking_no, Clue.hotline_case_no == "")
            .values(hotline_case_no=case_no)
        )


def prepare(message: OutboxMessage) -> Delivery | Result:
    """The signed forward of a livelihood clue; unconfigured → retried until someone sets it."""
    if message.kind != "forward":
        return dead(f"12345 通道不认识消息类型 {message.kind}")
    config = current_app.config
    url, secret = config.get("HOTLINE_URL") or "", config.get("HOTLINE_SECRET") or ""
    if not url or not secret:
        # Retried (with backoff, then dead-lettered and reported in the digest): fixing the
        # configuration while the retries last (about an hour by default) loses nothing.
        return retry("未配置 12345 平台地址或密钥（HOTLINE_URL、HOTLINE_SECRET）")
    body = {
        "event_id": message.event_id,
        "kind": message.kind,
        **message.payload,
        "callback_url": callback_url(),
    }
    timeout = (
        float(config.get("HOTLINE_CONNECT_TIMEOUT", 3.05)),
        float(config.get("HOTLINE_READ_TIMEOUT", 10.0)),
    )
    return HotlineDelivery(
        url=url, secret=secret, event_id=message.event_id, body=body, timeout=timeout
    )


# ---------------------------------------------------------------- the platform's callback


def forward_event_ids(clue: Clue) -> set[str]:
    """The event ids under which this clue was forwarded to 12345."""
    return set(
        db.session.scalars(
            sa.select(OutboxMessage.event_id).where(
                OutboxMessage.clue_id == clue.id,
                OutboxMessage.channel == Channel.HOTLINE,
                OutboxMessage.kind == "forward",
            )
        )
    )


def _closed_by_platform(clue: Clue) -> bool:
    return (
        db.session.scalar(
            sa.select(sa.literal(True)).where(
                ClueEvent.clue_id == clue.id, ClueEvent.action == Action.CLOSE_12345.value
            )
        )
        is not None
    )


def apply_callback(
    *, event_id: str, tracking_no: str, result: str, handled_at: datetime, case_no: str = ""
) -> tuple[Clue, bool]:
    """Close the forwarded clue with the platform's result; (clue, True) for a replay."""
    clue_id = db.session.scalar(sa.select(Clue.id).where(Clue.tracking_no == tracking_no))
    if clue_id is None:
        raise NotFound("线索不存在", details={"tracking_no": tracking_no})
    # Locked: of two deliveries of the same callback one waits, then finds it closed.
    clue = get_clue(clue_id, for_update=True)
    if clue.status is ClueStatus.FORWARDED:
        if event_id not in forward_event_ids(clue):
            raise EventMismatch(
                {"event_id": EVENT_MISMATCH},
                EVENT_MISMATCH,
                details={"event_id": event_id, "tracking_no": tracking_no},
            )
    elif _closed_by_platform(clue) and event_id in forward_event_ids(clue):
        return clue, True
    close_forwarded(clue, result=result)  # any other status: 409 from the transition table
    keep_case_number(clue.tracking_no, case_no)
    record_audit(
        "clue.close_12345",
        object_type="clue",
        object_id=clue.id,
        unit_id=clue.unit_id,
        details={
            "event_id": event_id,
            "tracking_no": tracking_no,
            "handled_at": handled_at.isoformat(),
            "case_no": case_no,
            "result": result[:500],
        },
    )
    return clue, False
