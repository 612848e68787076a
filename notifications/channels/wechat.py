"""WeChat subscribe messages to residents, and the one-time quota ledger behind them.

Each tap on "allow" in the mini-program's subscribe dialog lets us send ONE message of that
template, so we keep a ledger (`SubscriptionQuota`, per resident and kind) and never call WeChat
without quota. Template field values are cut to WeChat's limits here, by the key's type prefix
(`thing1` → thing), because a value over the limit is refused with 47003 and never retried.

`WECHAT_TEMPLATES` (config) maps our message kinds to templates:

    {"clue_result": {"template_id": "…", "title": "办理结果通知",
                     "fields": {"character_string1": "{tracking_no}",
                                "phrase3": "{outcome_label|status_label}",
                                "thing4": "{message|点击查看办理结果}"}}}

A field spec is text with placeholders. `{a|b|文字}` takes the first non-empty alternative: a
name (`tracking_no`, `unit_name`, `status_label`, `outcome_label`, `message`, `page`,
`expires_at`, or `created_at`, the time of the event) stands for that value of the message,
anything else is literal text. Unset (None) means the built-in demo templates below, whose
made-up ids suit the sandbox; production sets the ids WeChat's console assigned.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.clock import LOCAL_TZ, utcnow
from app.crypto import decrypt_text, encrypt_text, hash_identity
from app.db import upsert_insert
from app.errors import Conflict, Invalid, NotPermitted
from app.extensions import db
from app.wechat.client import WeChatError, WeChatNotConfigured, wechat_client
from app.wechat.login import openid_for_code
from evaluations.identity import Channel as ResidentChannel
from evaluations.identity import Resident, ResidentIdentity
from notifications.channels import Delivery, Result, Verdict, dead, retry, sent, skipped
from notifications.models import OutboxMessage, SubscriptionQuota, WeChatContact

KINDS = ("clue_accepted", "clue_result", "appeal_decision", "rerating_invite")

DEFAULT_TEMPLATES: dict[str, dict[str, Any]] = {
    "clue_accepted": {
        "template_id": "PINGYI_DEMO_clue_accepted",
        "title": "问题受理通知",
        "fields": {
            "character_string1": "{tracking_no}",  # 受理编号
            "thing2": "{unit_name}",  # 反映对象
            "phrase3": "{status_label}",  # 受理状态
            "time4": "{created_at}",  # 受理时间
            "thing5": "{message|您反映的问题已受理，请留意办理进度}",  # 温馨提示
        },
    },
    "clue_result": {
        "template_id": "PINGYI_DEMO_clue_result",
        "title": "办理结果通知",
        "fields": {
            "character_string1": "{tracking_no}",  # 受理编号
            "thing2": "{unit_name}",  # 反映对象
            "phrase3": "{outcome_label|status_label}",  # 办理结果
            "thing4": "{message|点击查看办理结果}",  # 处理意见
            "time5": "{created_at}",  # 办结时间
        },
    },
    "appeal_decision": {
        "template_id": "PINGYI_DEMO_appeal_decision",
        "title": "复核结果通知",
        "fields": {
            "character_string1": "{tracking_no}",  # 受理编号
            "phrase2": "{status_label}",  # 当前状态
            "thing3": "您的复核申请已有结果，点击查看",  # 复核结果
            "time4": "{created_at}",  # 处理时间
        },
    },
    "rerating_invite": {
        "template_id": "PINGYI_DEMO_rerating_invite",
        "title": "回访评价邀请",
        "fields": {
            "character_string1": "{tracking_no}",  # 受理编号
            "thing2": "{unit_name}",  # 反映对象
            "thing3": "您反映的问题已办结，请评价处理结果",  # 邀请内容
            "time4": "{expires_at}",  # 评价截止时间
        },
    },
}


@dataclass(frozen=True)
class Template:
    kind: str
    template_id: str
    title: str
    fields: dict[str, str]


def templates() -> dict[str, Template]:
    """The configured templates by kind (WECHAT_TEMPLATES, else the demo ones)."""
    configured = current_app.config.get("WECHAT_TEMPLATES") or DEFAULT_TEMPLATES
    return {
        kind: Template(
            kind, str(spec["template_id"]), str(spec.get("title", kind)), dict(spec["fields"])
        )
        for kind, spec in configured.items()
    }


def sandbox_templates() -> dict[str, list[str]]:
    """{template_id: field keys} of the configured templates, to register in the sandbox."""
    return {t.template_id: list(t.fields) for t in templates().values()}


# ---------------------------------------------------------------- fitting values to WeChat

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY = re.compile(r"([a-z_]+?)(\d*)")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_CJK_NAME = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff·]+")
_LATIN_NAME = re.compile(r"[A-Za-z .'·-]+")
_CHINESE_DATE = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日")
_CHINESE_TIME = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日 (?:[01]?\d|2[0-3]):[0-5]\d")
ELLIPSIS = "…"


def render(spec: str, context: dict[str, str]) -> str:
    """Fill `{a|b|文字}` placeholders from `context` (see the module docstring)."""

    def substitute(match: re.Match[str]) -> str:
        for alternative in match.group(1).split("|"):
            if _NAME.fullmatch(alternative):
                if context.get(alternative):
                    return context[alternative]
            elif alternative:
                return alternative
        return ""

    return _PLACEHOLDER.sub(substitute, spec)


def _cut(value: str, limit: int, ellipsis: str = ELLIPSIS) -> str:
    """At most `limit` characters, the last one an ellipsis when something was cut."""
    if len(value) <= limit:
        return value
    return value[: limit - len(ellipsis)] + ellipsis if ellipsis else value[:limit]


def _as_datetime(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_TZ)


def chinese_time(moment: datetime) -> str:
    """2026年11月21日 14:00 (Asia/Shanghai), a value WeChat's time fields accept."""
    local = moment.astimezone(LOCAL_TZ)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def fit(key: str, value: str, *, fallback_time: datetime) -> str:
    """`value` made acceptable for the field `key` (its type is the key's prefix)."""
    match = _KEY.fullmatch(key)
    kind = match.group(1) if match else "thing"
    value = " ".join(value.split())  # WeChat shows one line; newlines only waste the limit
    if kind == "phrase":  # ≤5 Chinese characters, nothing else
        return "".join(_CJK.findall(value))[:5] or "有更新"
    if kind == "character_string":  # ≤32 printable ASCII, no spaces
        return re.sub(r"[^\x21-\x7e]", "", value)[:32] or "-"
    if kind == "number":
        return re.sub(r"[^\d.]", "", value)[:32].strip(".") or "0"
    if kind == "letter":
        return re.sub(r"[^A-Za-z]", "", value)[:32] or "X"
    if kind == "name":  # ≤10 Chinese characters, or ≤20 letters
        if _LATIN_NAME.fullmatch(value):
            return value[:20]
        return "".join(_CJK_NAME.findall(value))[:10] or "群众"
    if kind in ("time", "date"):
        if (_CHINESE_TIME if kind == "time" else _CHINESE_DATE).fullmatch(value):
            return value  # already written the way WeChat wants it
        moment = _as_datetime(value) or fallback_time
        return chinese_time(moment) if kind == "time" else chinese_time(moment).split(" ")[0]
    if kind == "symbol":
        return value[:5]
    if kind == "phone_number":
        return value[:17]
    if kind == "car_number":
        return value[:8]
    return _cut(value, 20) or "无"  # thing and anything unknown: ≤20 characters


def template_data(
    template: Template, payload: dict[str, Any], created_at: datetime
) -> dict[str, str]:
    """The `data` of a subscribe message: each field rendered from the payload and fitted."""
    context = {key: "" if value is None else str(value) for key, value in payload.items()}
    context["created_at"] = created_at.isoformat()
    return {
        key: fit(key, render(spec, context), fallback_time=created_at)
        for key, spec in template.fields.items()
    }


# ---------------------------------------------------------------- sending


@dataclass(frozen=True)
class WeChatDelivery:
    """A subscribe message ready to send to one resident."""

    resident_id: int
    kind: str
    openid: str
    template_id: str
    data: dict[str, str]
    page: str | None

    def send(self) -> Result:
        try:
            client = wechat_client()
        except WeChatNotConfigured as error:
            return dead(error.message_zh)
        try:
            client.send_subscribe_message(
                touser=self.openid,
                template_id=self.template_id,
                data=self.data,
                page=self.page,
                miniprogram_state=current_app.config.get("WECHAT_MINIPROGRAM_STATE", "formal"),
            )
        except WeChatError as error:
            text = (
                error.message_zh
                if error.errcode is None
                else f"{error.message_zh}（错误码 {error.errcode}：{error.errmsg}）"
            )
            # Token errors were already refreshed and retried once by the client: a second
            # one is WeChat's trouble, not ours, so it waits like -1/45009/network failures.
            if error.is_permanent:
                return dead(text, error.errcode)
            return retry(text, error.errcode)
        return sent()

    def settle(self, result: Result) -> None:
        if result.verdict is Verdict.SENT:
            spend_quota(self.resident_id, self.kind)
        elif result.code == 43101:
            # WeChat says the resident has no quota left (refused, or our ledger drifted):
            # believe it, so later messages are skipped instead of refused again.
            exhaust_quota(self.resident_id, self.kind)


def exhaust_quota(resident_id: int, kind: str) -> None:
    """WeChat says no quota is left for `kind`: the ledger says so too."""
    db.session.execute(
        sa.update(SubscriptionQuota)
        .where(SubscriptionQuota.resident_id == resident_id, SubscriptionQuota.template == kind)
        .values(remaining=0, updated_at=utcnow())
    )


def spend_quota(resident_id: int, kind: str) -> None:
    """One message of `kind` went out: one quota fewer (never below zero)."""
    db.session.execute(
        sa.update(SubscriptionQuota)
        .where(
            SubscriptionQuota.resident_id == resident_id,
            SubscriptionQuota.template == kind,
            SubscriptionQuota.remaining > 0,
        )
        .values(remaining=SubscriptionQuota.remaining - 1, updated_at=utcnow())
    )


def prepare(message: OutboxMessage) -> Delivery | Result:
    """Check openid and quota, build the template data; skip when there is nothing to send."""
    template = templates().get(message.kind)
    if template is None:
        return dead(f"未配置消息类型 {message.kind} 的订阅消息模板（WECHAT_TEMPLATES）")
    if message.resident_id is None:
        return skipped("消息没有接收人")
    contact = db.session.get(WeChatContact, message.resident_id)
    if contact is None:
        return skipped("该群众未授权接收微信订阅消息（没有 openid）")
    quota = db.session.get(SubscriptionQuota, (message.resident_id, message.kind))
    if quota is None or quota.remaining <= 0:
        return skipped(f"该群众没有“{template.title}”的订阅次数")
    return WeChatDelivery(
        resident_id=message.resident_id,
        kind=message.kind,
        openid=decrypt_text(contact.openid_encrypted),
        template_id=template.template_id,
        data=template_data(template, message.payload, message.created_at),
        page=message.payload.get("page") or None,
    )


# ---------------------------------------------------------------- residents' subscriptions


def _kinds_of(requested: list[str]) -> list[str]:
    """Our kinds for what the mini-program sent (kind names or template ids), in order."""
    known = templates()
    by_id = {t.template_id: t.kind for t in known.values()}
    kinds: list[str] = []
    unknown: list[str] = []
    for item in requested:
        kind = item if item in known else by_id.get(item)
        if kind is None:
            unknown.append(item)
        elif kind not in kinds:
            kinds.append(kind)
    if unknown:
        raise Invalid(
            {"templates": f"未知：{'、'.join(unknown)}"},
            "不认识的订阅消息类型",
            details={"known": sorted(known)},
        )
    return kinds


def subscribe(*, resident: ResidentIdentity, code: str, requested: list[str]) -> None:
    """Book the quota a resident just granted: openid from a fresh login code, one per kind."""
    if resident.channel is not ResidentChannel.WECHAT:
        raise Conflict("网页版无法接收微信订阅消息，请在微信小程序中订阅", code="not_wechat")
    kinds = _kinds_of(requested)
    openid = openid_for_code(code)
    row = db.session.get(Resident, resident.id)
    if row is None or not hmac.compare_digest(hash_identity("wechat", openid), row.identity_hash):
        raise NotPermitted(
            "登录凭证不属于当前用户，请重新进入小程序后再订阅", code="identity_mismatch"
        )
    now = utcnow()
    contact = upsert_insert(WeChatContact).values(
        resident_id=resident.id, openid_encrypted=encrypt_text(openid), updated_at=now
    )
    db.session.execute(
        contact.on_conflict_do_update(
            index_elements=["resident_id"],
            set_={"openid_encrypted": contact.excluded.openid_encrypted, "updated_at": now},
        )
    )
    for kind in kinds:
        # Atomic increment: two taps arriving together both count.
        quota = upsert_insert(SubscriptionQuota).values(
            resident_id=resident.id, template=kind, remaining=1, updated_at=now
        )
        db.session.execute(
            quota.on_conflict_do_update(
                index_elements=["resident_id", "template"],
                set_={"remaining": SubscriptionQuota.remaining + 1, "updated_at": now},
            )
        )
    db.session.flush()


def subscriptions(resident: ResidentIdentity) -> dict[str, Any]:
    """The templates the mini-program may request, with the resident's remaining quota."""
    remaining = dict(
        db.session.execute(
            sa.select(SubscriptionQuota.template, SubscriptionQuota.remaining).where(
                SubscriptionQuota.resident_id == resident.id
            )
        ).all()
    )
    has_contact = db.session.get(WeChatContact, resident.id) is not None
    return {
        "wechat": resident.channel is ResidentChannel.WECHAT,
        "has_contact": has_contact,
        "templates": [
            {
                "kind": t.kind,
                "template_id": t.template_id,
                "title": t.title,
                "remaining": int(remaining.get(t.kind, 0)),
            }
            for t in templates().values()
        ],
    }
