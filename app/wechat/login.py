"""Turning a mini-program login code into an openid, with the API's answers for each failure."""

from __future__ import annotations

from app.errors import ApiError
from app.wechat.client import WeChatError, WeChatNotConfigured, wechat_client

# The code itself is bad: the user must log in again in the mini-program.
_BAD_CODE = frozenset({40029, 40163, 41008})


def openid_for_code(code: str) -> str:
    """jscode2session → openid. Bad code → 401; WeChat busy is retried once, then 503."""
    try:
        client = wechat_client()
    except WeChatNotConfigured as exc:
        raise ApiError(
            503, "wechat_not_configured", "服务器未配置微信小程序，请使用网页版评价"
        ) from exc
    for attempt in (1, 2):
        try:
            return client.code2session(code).openid
        except WeChatError as exc:
            if exc.errcode in _BAD_CODE:
                raise ApiError(
                    401, "wechat_code_invalid", exc.message_zh, {"errcode": exc.errcode}
                ) from exc
            if exc.is_retryable and attempt == 1:
                continue
            if exc.is_retryable:
                raise ApiError(
                    503,
                    "wechat_busy",
                    "微信登录服务繁忙，请稍后重试",
                    {"errcode": exc.errcode},
                    headers={"Retry-After": "5"},
                ) from exc
            raise ApiError(
                502, "wechat_error", f"微信登录失败：{exc.message_zh}", {"errcode": exc.errcode}
            ) from exc
    raise AssertionError("unreachable")
