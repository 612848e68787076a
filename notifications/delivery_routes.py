"""HTTP endpoints of delivery: residents' WeChat subscriptions, and the 12345 callback."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from apiflask import APIBlueprint
from flask import current_app, request
from pydantic import ConfigDict, Field

from app.auth import Actor, set_actor
from app.clock import LOCAL_TZ
from app.errors import ApiError
from app.extensions import db
from app.ratelimit import bearer_key, configured, limiter
from app.schemas import Schema
from evaluations.identity import current_resident, resident_id_from_token, resident_required
from notifications.channels import hotline, wechat

log = logging.getLogger(__name__)

bp = APIBlueprint("delivery", __name__, tag="消息订阅与 12345 对接")

PLATFORM = Actor("platform", None, "12345", "platform")


# ---------------------------------------------------------------- residents' subscriptions


class SubscribeIn(Schema):
    code: str = Field(
        min_length=1,
        max_length=128,
        description="订阅成功后新调用 wx.login 得到的 code（用于确认是本人）",
    )
    templates: list[str] = Field(
        min_length=1,
        max_length=10,
        description="用户点了“允许”的消息类型（clue_accepted、clue_result、"
        "appeal_decision、rerating_invite）或模板 ID",
    )


class TemplateQuotaOut(Schema):
    kind: str
    template_id: str = Field(description="小程序调用 wx.requestSubscribeMessage 时使用的模板 ID")
    title: str
    remaining: int = Field(description="还可以发送的次数（每次“允许”加一次）")


class SubscriptionsOut(Schema):
    wechat: bool = Field(description="是否微信小程序身份（网页版不能接收订阅消息）")
    has_contact: bool
    templates: list[TemplateQuotaOut]


@bp.get("/api/v1/me/subscriptions")
@resident_required
@bp.output(SubscriptionsOut)
def my_subscriptions():
    """我的订阅消息：可订阅的模板及剩余次数"""
    return wechat.subscriptions(current_resident())


@bp.post("/api/v1/me/subscriptions")
@limiter.limit(
    configured("RATE_LIMIT_SIGN_IN"),
    key_func=bearer_key(resident_id_from_token),
    scope="subscriptions",
)
@resident_required
@bp.input(SubscribeIn, arg_name="body")
@bp.output(SubscriptionsOut)
@bp.doc(
    responses={
        401: "登录凭证无效",
        403: "code 不属于当前用户",
        409: "网页版身份不能订阅",
        503: "微信繁忙或未配置",
    }
)
def subscribe_messages(body: SubscribeIn):
    """订阅成功后登记：每个“允许”的模板可向本人发送一次消息"""
    resident = current_resident()
    wechat.subscribe(resident=resident, code=body.code, requested=body.templates)
    db.session.commit()
    return wechat.subscriptions(resident)


# ---------------------------------------------------------------- the 12345 callback


def signed_by_platform(view: Callable[..., Any]) -> Callable[..., Any]:
    """Admit only requests signed with HOTLINE_SECRET and recent; the actor is the platform."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        secret = current_app.config.get("HOTLINE_SECRET") or ""
        if not secret:
            raise ApiError(503, "hotline_not_configured", "未配置 12345 平台对接密钥")
        tolerance = float(current_app.config.get("HOTLINE_TIMESTAMP_TOLERANCE_SECONDS", 300))
        problem = hotline.signature_problem(
            secret, request.headers, request.get_data(), tolerance=tolerance
        )
        if problem is not None:
            log.warning("12345 callback refused from %s: %s", request.remote_addr, problem)
            raise ApiError(401, "bad_signature", f"12345 回调校验失败：{problem}")
        set_actor(PLATFORM)
        return view(*args, **kwargs)

    return wrapper


class HotlineCallbackIn(Schema):
    # The platform may add fields over time; an unknown one must not bounce a result.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    event_id: str = Field(min_length=1, max_length=64, description="转办时的事件编号")
    tracking_no: str = Field(min_length=1, max_length=20)
    status: Literal["closed"]
    result: str = Field(min_length=1, max_length=2000, description="办理结果，原样告知反映人")
    handled_at: datetime = Field(description="平台办结时间（无时区时按北京时间）")
    case_no: str = Field(
        "", max_length=64, description="12345 平台的工单编号（转办时未返回的补记）"
    )


class HotlineCallbackOut(Schema):
    event_id: str
    tracking_no: str
    status: str = Field(description="线索现在的状态")
    replayed: bool = Field(description="同一回调再次送达：未作任何改变")


@bp.post("/integrations/12345/callback")
@signed_by_platform
@bp.input(HotlineCallbackIn, arg_name="body")
@bp.output(HotlineCallbackOut)
@bp.doc(
    description="请求头 X-Pingyi-Timestamp 为 Unix 秒，须在 ±5 分钟内；X-Pingyi-Signature 为 "
    'HMAC-SHA256(共享密钥, 时间戳 + "." + 原始请求体) 的十六进制。'
    "同一事件重复送达得到 200 和线索当前状态。",
    responses={
        401: "签名或时间戳不对",
        404: "没有这个受理编号",
        409: "线索不在“已转 12345”状态",
        503: "未配置 12345 平台对接密钥",
    },
)
def hotline_callback(body: HotlineCallbackIn):
    """12345 平台回传办理结果（签名校验，可重复送达）"""
    handled_at = (
        body.handled_at if body.handled_at.tzinfo else body.handled_at.replace(tzinfo=LOCAL_TZ)
    )
    clue, replayed = hotline.apply_callback(
        event_id=body.event_id,
        tracking_no=body.tracking_no,
        result=body.result,
        handled_at=handled_at,
        case_no=body.case_no,
    )
    db.session.commit()
    return {
        "event_id": body.event_id,
        "tracking_no": clue.tracking_no,
        "status": clue.status.value,
        "replayed": replayed,
    }
