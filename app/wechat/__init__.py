"""WeChat mini-program server APIs: the client the app uses, and a sandbox imitating them."""

from app.wechat.client import (
    ERRCODE_MESSAGES,
    PERMANENT_ERRCODES,
    RETRYABLE_ERRCODES,
    TOKEN_ERRCODES,
    LoginSession,
    MemoryTokenCache,
    RedisTokenCache,
    SecCheckResult,
    TokenCache,
    WeChatClient,
    WeChatError,
    WeChatNotConfigured,
    clear_process_token_caches,
    is_configured,
    refresh_wechat_token,
    wechat_client,
)

__all__ = [
    "ERRCODE_MESSAGES",
    "PERMANENT_ERRCODES",
    "RETRYABLE_ERRCODES",
    "TOKEN_ERRCODES",
    "LoginSession",
    "MemoryTokenCache",
    "RedisTokenCache",
    "SecCheckResult",
    "TokenCache",
    "WeChatClient",
    "WeChatError",
    "WeChatNotConfigured",
    "clear_process_token_caches",
    "is_configured",
    "refresh_wechat_token",
    "wechat_client",
]
