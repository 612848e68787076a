"""Text messages to confidential reporters who gave a phone and ticked the separate consent,
through Tencent Cloud SMS (`notifications/tencent_sms.py`).

Who: only a `ClueReporter` that is confidential, has a phone and `sms_consent` — checked again
when the message is prepared, so consent withdrawn meanwhile (or a number the carrier reports
unsubscribed) stops it. Anonymous reporters never have a phone, so never get one.

What: Tencent sends only approved templates, so a message is a template id and its parameters.
`SMS_TEMPLATES` (config) maps our kinds to templates:

    {"clue_accepted": {"template_id": "1234567", "params": ["{tracking_no}", "{tracking_secret}"],
                       "text": "您反映的问题（编号{1}）已受理，办理进度：{base}/t/{2}"}}

`params` are filled like WeChat's fields (`{a|b|文字}`, see channels/wechat.py) from the
message (`tracking_no`, `unit_name`, `status_label`, `outcome_label`, `expires_date`) and the
clue's tracking link, read when sending and never stored in the outbox: `tracking_secret` (the
part after /t/), `tracking_url`, `access_code` (查询码). Tencent refuses a URL inside a
parameter, so the link's fixed part belongs in the approved template text. `text` is what the
sandbox shows ({base} = PUBLIC_BASE_URL); Tencent keeps its own copy. Unset (None) means the
demo templates below, whose made-up ids suit the sandbox only.

When: not during quiet hours (SMS_QUIET_HOURS, local time) and at most
SMS_DAILY_LIMIT_PER_RESIDENT a day per reporter; both put a message off without counting an
attempt. A message that waited too long is dropped: an invitation once its window closed,
anything else after SMS_MAX_AGE_HOURS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.clock import LOCAL_TZ, local_date, local_day_start, utcnow
from app.crypto import decrypt_text
from app.extensions import db
from clues.models import Appeal, Clue, ClueReporter, ReporterIdentity
from clues.tracking import tracking_of, tracking_url
from notifications.channels import Delivery, Result, dead, defer, retry, sent, skipped
from notifications.channels.wechat import render
from notifications.models import Channel, OutboxMessage, OutboxStatus
from notifications.outbox import enqueue
from notifications.tencent_sms import SendStatus, SmsGateway, SmsRequestError

DEFAULT_TEMPLATES: dict[str, dict[str, Any]] = {
    "clue_accepted": {
        "template_id": "900001",
        "params": ["{tracking_no}", "{tracking_secret}"],
        "text": "您反映的问题（编号{1}）已受理，我们会按时办理。查看进度：{base}/t/{2}",
    },
    "clue_result": {
        "template_id": "900002",
        "params": ["{tracking_no}", "{tracking_secret}"],
        "text": "您反映的问题（编号{1}）经审核未予受理，原因请查看：{base}/t/{2}",
    },
    "rerating_invite": {
        "template_id": "900003",
        "params": ["{tracking_no}", "{expires_date}", "{tracking_secret}"],
        "text": "您反映的问题（编号{1}）已办结，请在{2}前查看结果并评价是否满意：{base}/t/{3}",
    },
    "appeal_decision": {
        "template_id": "900004",
        "params": ["{tracking_no}", "{tracking_secret}"],
        "text": "您对问题（编号{1}）提出的复核申请已有结果，请查看：{base}/t/{2}",
    },
}

# Tencent's per-number and request codes, in plain words for the dead letters and the log.
CODE_TEXT = {
    "LimitExceeded.PhoneNumberDailyLimit": "该号码今日接收短信已达上限",
    "LimitExceeded.PhoneNumberSameContentDailyLimit": "该号码今日已收到过相同内容",
    "LimitExceeded.PhoneNumberOneHourLimit": "该号码一小时内接收短信已达上限",
    "LimitExceeded.PhoneNumberThirtySecondLimit": "该号码 30 秒内接收短信已达上限",
    "LimitExceeded.DeliveryFrequencyLimit": "触发了短信频率限制",
    "LimitExceeded.AppDailyLimit": "本应用今日短信总量已达上限",
    "LimitExceeded.AppMainlandChinaDailyLimit": "本应用今日国内短信总量已达上限",
    "InvalidParameterValue.IncorrectPhoneNumber": "手机号格式错误",
    "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter": "模板参数中不能含网址",
    "InvalidParameterValue.TemplateParameterLengthLimit": "模板参数超过长度限制",
    "FailedOperation.PhoneNumberInBlacklist": "该号码已退订或在免打扰名单中",
    "FailedOperation.TemplateIncorrectOrUnapproved": "短信模板未审核通过或与内容不符",
    "FailedOperation.TemplateParamSetNotMatchApprovedTemplate": "模板参数个数与模板不符",
    "FailedOperation.SignatureIncorrectOrUnapproved": "短信签名未审核通过",
    "FailedOperation.InsufficientBalanceInSmsPackage": "短信套餐包余量不足",
    "UnauthorizedOperation.SmsSdkAppIdVerifyFail": "SmsSdkAppId 与密钥不属于同一账号",
    "AuthFailure.SignatureFailure": "请求签名错误（检查 SMS_SECRET_KEY）",
    "AuthFailure.SecretIdNotFound": "密钥不存在（检查 SMS_SECRET_ID）",
    "AuthFailure.SignatureExpire": "签名已过期（服务器时间与标准时间相差超过 5 分钟）",
    "RequestLimitExceeded": "请求过于频繁",
}
# Limits that reset with the day: try again the next morning, not after a backoff.
UNTIL_TOMORROW = {
    "LimitExceeded.PhoneNumberDailyLimit",
    "LimitExceeded.PhoneNumberSameContentDailyLimit",
    "LimitExceeded.AppDailyLimit",
    "LimitExceeded.AppMainlandChinaDailyLimit",
    "LimitExceeded.DailyLimit",
}
# Worth another try after a backoff: throttling, Tencent's trouble, money or clocks to fix.
RETRYABLE_PREFIXES = ("LimitExceeded.", "RequestLimitExceeded", "InternalError", "network", "http")
RETRYABLE = {
    "AuthFailure.SignatureExpire",
    "FailedOperation.InsufficientBalanceInSmsPackage",
    "UnauthorizedOperation.ServiceSuspendDueToArrears",
}
UNSUBSCRIBED = "FailedOperation.PhoneNumberInBlacklist"


@dataclass(frozen=True)
class Template:
    kind: str
    template_id: str
    params: list[str]
    text: str


def templates() -> dict[str, Template]:
    """The configured templates by kind (SMS_TEMPLATES, else the demo ones)."""
    configured = current_app.config.get("SMS_TEMPLATES") or DEFAULT_TEMPLATES
    return {
        kind: Template(
            kind, str(spec["template_id"]), list(spec.get("params", [])), str(spec.get("text", ""))
        )
        for kind, spec in configured.items()
    }


def sandbox_templates() -> dict[str, str]:
    """{template_id: text} of the configured templates, to register in the sandbox."""
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return {t.template_id: t.text.replace("{base}", base) for t in templates().values()}


def gateway() -> SmsGateway | None:
    """The configured gateway, or None while SMS is not set up (SMS_SECRET_ID, …)."""
    config = current_app.config
    values = [config.get(k) or "" for k in ("SMS_SECRET_ID", "SMS_SECRET_KEY", "SMS_SDK_APP_ID")]
    if not all(values) or not config.get("SMS_SIGN_NAME"):
        return None
    return SmsGateway(
        endpoint=config.get("SMS_ENDPOINT") or "https://sms.tencentcloudapi.com",
        secret_id=values[0],
        secret_key=values[1],
        region=config.get("SMS_REGION") or "ap-guangzhou",
        sdk_app_id=values[2],
        sign_name=config["SMS_SIGN_NAME"],
        timeout=(
            float(config.get("SMS_CONNECT_TIMEOUT", 3.05)),
            float(config.get("SMS_READ_TIMEOUT", 10.0)),
        ),
    )


# ---------------------------------------------------------------- who may get one


def _consenting(condition: sa.ColumnElement[bool]) -> sa.Select[tuple[int, int]]:
    return sa.select(ClueReporter.clue_id, ClueReporter.resident_id).where(
        condition,
        ClueReporter.identity == ReporterIdentity.CONFIDENTIAL,
        ClueReporter.phone_encrypted.is_not(None),
        ClueReporter.sms_consent.is_(True),
        ClueReporter.resident_id.is_not(None),
    )


def recipients(kind: str, clue: Clue) -> list[tuple[int, int]]:
    """(clue id, resident id) to text about `kind`: for an appeal decision the appellant (who
    may follow through a merged clue), else the clue's own reporter — if they agreed."""
    if kind != "appeal_decision":
        condition = ClueReporter.clue_id == clue.id
        return [(c, r) for c, r in db.session.execute(_consenting(condition))]
    appellant = db.session.scalar(
        sa.select(Appeal.resident_id)
        .where(Appeal.clue_id == clue.id)
        .order_by(Appeal.created_at.desc(), Appeal.id.desc())
        .limit(1)
    )
    own_clue = consenting_follower(clue, appellant) if appellant is not None else None
    return [] if own_clue is None else [(own_clue, appellant)]


def consenting_follower(clue: Clue, resident_id: int) -> int | None:
    """The clue (this one, or one merged into it) through which `resident_id` follows `clue`
    and agreed to SMS; its link is the one they know. None when they did not agree."""
    followed = sa.select(Clue.id).where(sa.or_(Clue.id == clue.id, Clue.master_id == clue.id))
    return db.session.scalar(
        _consenting(
            sa.and_(ClueReporter.clue_id.in_(followed), ClueReporter.resident_id == resident_id)
        )
        .with_only_columns(ClueReporter.clue_id)
        .order_by(ClueReporter.clue_id)
        .limit(1)
    )


def queue_sms(
    *, kind: str, clue_id: int, resident_id: int, payload: dict[str, Any], event_id: str
) -> OutboxMessage:
    """Queue one SMS to the reporter of `clue_id` (whose link it carries)."""
    return enqueue(
        channel=Channel.SMS,
        kind=kind,
        payload={k: v for k, v in payload.items() if k != "page"},
        event_id=event_id,
        resident_id=resident_id,
        clue_id=clue_id,
    )


# ---------------------------------------------------------------- when


def _quiet_hours() -> tuple[int, int] | None:
    raw = str(current_app.config.get("SMS_QUIET_HOURS") or "").strip()
    if not raw:
        return None
    start, _, end = raw.partition("-")
    return int(start), int(end)


def quiet_until(now: datetime) -> datetime | None:
    """The end of the quiet hours `now` falls in (UTC), or None outside them."""
    hours = _quiet_hours()
    if hours is None:
        return None
    start, end = hours
    local = now.astimezone(LOCAL_TZ)
    if start > end and local.hour >= start:  # e.g. 22-8, late evening: until tomorrow 08:00
        day = local.date() + timedelta(days=1)
    elif local.hour < end and (start > end or local.hour >= start):
        day = local.date()
    else:
        return None
    return datetime.combine(day, time(end), LOCAL_TZ).astimezone(now.tzinfo)


def next_morning(now: datetime) -> datetime:
    """Tomorrow at the end of the quiet hours (08:00 by default), local time, as UTC."""
    hours = _quiet_hours()
    tomorrow = local_date(now) + timedelta(days=1)
    return datetime.combine(tomorrow, time(hours[1] if hours else 8), LOCAL_TZ).astimezone(
        now.tzinfo
    )


def sent_today(resident_id: int, now: datetime) -> int:
    """SMS sent to a resident since local midnight."""
    return db.session.scalar(
        sa.select(sa.func.count()).where(
            OutboxMessage.channel == Channel.SMS,
            OutboxMessage.resident_id == resident_id,
            OutboxMessage.status == OutboxStatus.SENT,
            OutboxMessage.sent_at >= local_day_start(local_date(now)),
        )
    )


def _stale(message: OutboxMessage, now: datetime) -> str | None:
    expires = message.payload.get("expires_at")
    if message.kind == "rerating_invite" and expires:
        if datetime.fromisoformat(expires) <= now:
            return "回访评价已截止，不再发送邀请短信"
        return None
    max_age = timedelta(hours=float(current_app.config.get("SMS_MAX_AGE_HOURS", 72)))
    if message.created_at + max_age <= now:
        return f"消息已等待超过 {max_age.total_seconds() / 3600:g} 小时，内容已过时，不再发送"
    return None


# ---------------------------------------------------------------- sending


def e164(phone: str) -> str:
    """A mainland mobile number as Tencent wants it: +86 and the 11 digits."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return f"+86{digits}"


def describe(code: str, message: str) -> str:
    """A failure in plain words with Tencent's code (never the phone number)."""
    return f"短信未发出：{CODE_TEXT.get(code, message or '未知错误')}（{code}）"


def verdict(code: str, message: str, now: datetime) -> Result:
    """What Tencent's code for our one number means for the outbox row."""
    if code == "Ok":
        return sent()
    text = describe(code, message)
    if code in UNTIL_TOMORROW:
        return retry(text, code, at=next_morning(now))
    if code == "LimitExceeded.PhoneNumberOneHourLimit":
        return retry(text, code, at=now + timedelta(hours=1))
    if code in RETRYABLE or code.startswith(RETRYABLE_PREFIXES):
        return retry(text, code)
    return dead(text, code)


@dataclass(frozen=True)
class SmsDelivery:
    """One SendSms call for one reporter's number."""

    clue_id: int
    resident_id: int
    phone: str
    template_id: str
    params: list[str]
    event_id: str
    gateway: SmsGateway

    def send(self) -> Result:
        try:
            statuses = self.gateway.send_sms(
                phone_numbers=[self.phone],
                template_id=self.template_id,
                params=self.params,
                session_context=self.event_id,
            )
        except SmsRequestError as error:
            return verdict(error.code, error.message, utcnow())
        mine: SendStatus | None = next(iter(statuses), None)
        if mine is None:
            return retry("短信平台的应答没有这个号码的发送结果", "http")
        return verdict(mine.code, mine.message, utcnow())

    def settle(self, result: Result) -> None:
        if result.code == UNSUBSCRIBED:
            # The resident unsubscribed at the carrier: that is a withdrawn consent.
            db.session.execute(
                sa.update(ClueReporter)
                .where(ClueReporter.resident_id == self.resident_id)
                .values(sms_consent=False)
            )


def template_params(template: Template, message: OutboxMessage, clue: Clue) -> list[str]:
    """The template's parameters filled from the message and the reporter's own clue (its
    number and tracking link)."""
    context = {key: "" if value is None else str(value) for key, value in message.payload.items()}
    # A merged follower is told about the master's closure under the number they know.
    context["tracking_no"] = clue.tracking_no
    tracking = tracking_of(clue)
    if tracking is not None:
        context.update(
            tracking_secret=tracking.secret,
            tracking_url=tracking_url(clue) or "",
            access_code=tracking.access_code,
        )
    expires = message.payload.get("expires_at")
    if expires:
        day = local_date(datetime.fromisoformat(expires))
        context["expires_date"] = f"{day.month}月{day.day}日"
    return [render(spec, context) for spec in template.params]


def prepare(message: OutboxMessage) -> Delivery | Result:
    """Check consent, time and quota, fill the template; skip when nothing may be sent."""
    template = templates().get(message.kind)
    if template is None:
        return dead(f"未配置消息类型 {message.kind} 的短信模板（SMS_TEMPLATES）")
    reporter = db.session.get(ClueReporter, message.clue_id) if message.clue_id else None
    if (
        reporter is None
        or reporter.resident_id != message.resident_id
        or reporter.identity is not ReporterIdentity.CONFIDENTIAL
        or not reporter.phone_encrypted
        or not reporter.sms_consent
    ):
        return skipped("反映人未留手机号或未同意接收短信")
    config = gateway()
    if config is None:
        return skipped(
            "未配置短信平台（SMS_SECRET_ID、SMS_SECRET_KEY、SMS_SDK_APP_ID、SMS_SIGN_NAME）"
        )
    now = utcnow()
    stale = _stale(message, now)
    if stale:
        return skipped(stale)
    quiet = quiet_until(now)
    if quiet is not None:
        return defer("夜间免打扰时段，早上再发", quiet)
    limit = int(current_app.config.get("SMS_DAILY_LIMIT_PER_RESIDENT", 3))
    if limit and sent_today(reporter.resident_id, now) >= limit:
        return defer(f"该反映人今日已收到 {limit} 条短信，明天再发", next_morning(now))
    clue = db.session.get(Clue, reporter.clue_id)
    params = template_params(template, message, clue)
    if any(not value for value in params):
        return dead("短信模板参数为空（线索没有查询链接？）")
    return SmsDelivery(
        clue_id=reporter.clue_id,
        resident_id=reporter.resident_id,
        phone=e164(decrypt_text(reporter.phone_encrypted)),
        template_id=template.template_id,
        params=params,
        event_id=message.event_id,
        gateway=config,
    )
