"""Configuration read from the environment.

`Config` is what `create_app()` uses; `create_app({...})` applies overrides on top (tests).
Production (`PINGYI_ENV=production`) refuses to start with the development secrets.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import click

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"

DEV_SECRET_KEY = "dev-only-secret-key-change-me"
DEV_PUBLIC_BASE_URL = "http://127.0.0.1:5000"
# What `flask up` and the tests give the local WeChat sandbox: never a real mini-program.
SANDBOX_WECHAT_APPID = "wxsandbox"
MIN_SECRET_LENGTH = 32


class InsecureConfiguration(click.ClickException):
    """Production refuses to start. A ClickException so that `flask …` prints the reasons as
    one line and exits 1; under gunicorn it is an ordinary error at boot, so the arbiter halts
    ("Worker failed to boot") instead of respawning workers forever."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("生产配置不安全，拒绝启动：" + "；".join(problems))


def normalize_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the usual way."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


class Config:
    ENV = os.environ.get("PINGYI_ENV", "development")
    SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)
    # Keyed hashes of openids/device ids, and encryption of reporters' phone numbers.
    # Unset in development: derived from SECRET_KEY. Required in production.
    IDENTITY_HASH_KEY = os.environ.get("IDENTITY_HASH_KEY") or None
    # Fernet key; "new,old,…" during a key rotation (app/crypto.py, `flask crypto rotate`).
    PHONE_ENCRYPTION_KEY = os.environ.get("PHONE_ENCRYPTION_KEY") or None

    SQLALCHEMY_DATABASE_URI = normalize_database_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'pingyi.sqlite3'}")
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    # PostgreSQL: a pooled connection the server has closed (a restart, a crash, an idle
    # timeout) is replaced at checkout, found without a round trip (app/db.py).
    DB_POOL_PRE_PING = os.environ.get("DB_POOL_PRE_PING", "1") != "0"
    SQLITE_BUSY_TIMEOUT_MS = _env_int("SQLITE_BUSY_TIMEOUT_MS", 30_000)

    REDIS_URL = os.environ.get("REDIS_URL") or None
    # Logs: LOG_FORMAT=json writes one JSON object a line for a log collector (app/logs.py);
    # LOG_LEVEL=DEBUG also shows every routine scheduler job run.
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", DEV_PUBLIC_BASE_URL).rstrip("/")
    # Number of reverse proxies in front of the app whose X-Forwarded-* headers we trust.
    PROXY_COUNT = _env_int("PROXY_COUNT", 0)
    MAX_CONTENT_LENGTH = _env_int("MAX_CONTENT_LENGTH", 8 * 1024 * 1024)

    # Staff sign-in
    STAFF_TOKEN_TTL_SECONDS = _env_int("STAFF_TOKEN_TTL_SECONDS", 8 * 3600)
    LOGIN_MAX_FAILURES = _env_int("LOGIN_MAX_FAILURES", 5)
    LOGIN_LOCK_MINUTES = _env_int("LOGIN_LOCK_MINUTES", 15)
    PASSWORD_HASH_METHOD = os.environ.get("PASSWORD_HASH_METHOD", "scrypt")
    # Where each role may sit: the unit kinds (UnitKind values) of its account's unit, None for
    # anywhere. Those who see reporters, review or administer sit at 政法委 units, never inside
    # the units they oversee. Overridable per role, e.g. STAFF_PLACEMENT='{"analyst": null}'.
    STAFF_PLACEMENT: dict[str, list[str] | None] = {
        "screener": ["committee"],
        "superior": ["committee"],
        "liaison": ["committee"],
        "analyst": ["committee"],
        "admin": ["committee"],
        "verifier": None,
        **json.loads(os.environ.get("STAFF_PLACEMENT", "{}")),
    }

    # Residents and ratings
    RESIDENT_TOKEN_TTL_SECONDS = _env_int("RESIDENT_TOKEN_TTL_SECONDS", 30 * 24 * 3600)
    # One rating per resident per code per N days; 0 switches the rule off.
    EVALUATION_PERIOD_DAYS = _env_int("EVALUATION_PERIOD_DAYS", 1)
    BURST_WINDOW_SECONDS = _env_int("BURST_WINDOW_SECONDS", 600)
    BURST_SAME_NETWORK_LIMIT = _env_int("BURST_SAME_NETWORK_LIMIT", 3)
    BURST_CODE_PER_MINUTE = _env_int("BURST_CODE_PER_MINUTE", 20)
    # How long a process may keep serving the questionnaire version it last read.
    QUESTIONNAIRE_CACHE_SECONDS = _env_int("QUESTIONNAIRE_CACHE_SECONDS", 30)

    # Clue deadlines in working days per stage, verification overridable per category
    # (e.g. CLUE_VERIFICATION_DAYS='{"integrity": 20}'); windows in calendar days.
    # Working days per stage; forwarded: the 12345 platform's result; referral_*: the liaison's
    # receipt and conclusion of a referred case.
    CLUE_DEADLINE_DAYS = {
        "screening": 2,
        "verification": 15,
        "review": 3,
        "appeal": 3,
        "forwarded": 15,
        "referral_receipt": 2,
        "referral_conclusion": 30,
    }
    # An overdue stage climbs one unit up the tree every this many working days, to the root.
    ESCALATION_INTERVAL_DAYS = _env_int("ESCALATION_INTERVAL_DAYS", 5)
    # Warn (console banner, /healthz) once deadlines can reach a year whose official holiday
    # schedule is not loaded: the coming year from this many days before it starts.
    CALENDAR_LOOKAHEAD_DAYS = _env_int("CALENDAR_LOOKAHEAD_DAYS", 60)
    CLUE_VERIFICATION_DAYS = json.loads(os.environ.get("CLUE_VERIFICATION_DAYS", "{}"))
    CLUE_RERATING_WINDOW_DAYS = _env_int("CLUE_RERATING_WINDOW_DAYS", 7)
    CLUE_APPEAL_WINDOW_DAYS = _env_int("CLUE_APPEAL_WINDOW_DAYS", 7)
    # How long a reporter's tracking link (/t/{secret}) keeps working after the case ended.
    TRACKING_LINK_RETENTION_DAYS = _env_int("TRACKING_LINK_RETENTION_DAYS", 180)
    CLUE_EXTENSION_MAX_DAYS = _env_int("CLUE_EXTENSION_MAX_DAYS", 15)
    # Misconduct categories are verified by a unit above the reported one (no
    # self-verification); assigning them to the reported unit or below needs a recorded reason.
    MISCONDUCT_CATEGORIES = json.loads(
        os.environ.get("MISCONDUCT_CATEGORIES", '["conduct", "integrity", "unfair_enforcement"]')
    )
    # High-frequency warning: ≥ N different reporters about one target, or ≥ N clues from one
    # reporter about one target, within the window.
    WARNING_WINDOW_DAYS = _env_int("WARNING_WINDOW_DAYS", 30)
    WARNING_DISTINCT_REPORTERS = _env_int("WARNING_DISTINCT_REPORTERS", 3)
    WARNING_REPEAT_REPORTS = _env_int("WARNING_REPEAT_REPORTS", 3)
    DUPLICATE_WINDOW_DAYS = _env_int("DUPLICATE_WINDOW_DAYS", 30)
    # Rankings: a unit needs this many ratings / finished verifications to be ranked.
    RANKING_MIN_EVALUATIONS = _env_int("RANKING_MIN_EVALUATIONS", 10)
    RANKING_MIN_STAGES = _env_int("RANKING_MIN_STAGES", 3)
    # Letters: who signs them (default: the root unit) and how long a unit has to answer a
    # supervision letter before it escalates.
    LETTER_ISSUER = os.environ.get("LETTER_ISSUER") or None
    SUPERVISION_RESPONSE_DAYS = _env_int("SUPERVISION_RESPONSE_DAYS", 3)
    RERATING_REMINDER_AFTER_DAYS = _env_int("RERATING_REMINDER_AFTER_DAYS", 3)

    # The seed cities' practices (docs/decisions.md, 种子城市的做法). 差评整改: working days a
    # unit has to verify, fix and call back a bad rating that carries no clue; a 约谈's
    # follow-up is due this many working days after it unless the record says otherwise.
    BAD_RATING_RECTIFY_DAYS = _env_int("BAD_RATING_RECTIFY_DAYS", 5)
    INTERVIEW_FOLLOW_UP_DAYS = _env_int("INTERVIEW_FOLLOW_UP_DAYS", 20)
    # Targets shown beside the figures in notices and on the dashboard (default: what Wuhan
    # reports, 按期办结率 99.5 %, 群众满意率 83.6 %).
    TARGET_ON_TIME_RATE = float(os.environ.get("TARGET_ON_TIME_RATE", "0.995"))
    TARGET_SATISFACTION_RATE = float(os.environ.get("TARGET_SATISFACTION_RATE", "0.836"))
    # 年度考评 (stats/annual.py): weight of each rate in the 100-point score, and the points
    # taken off for each 约谈 of the year. JSON to override, e.g. '{"satisfaction": 40}'.
    ANNUAL_SCORE_WEIGHTS: dict[str, float] = {
        "satisfaction": 30,
        "on_time": 25,
        "rerating_satisfaction": 15,
        "resolved": 15,
        "rectification": 15,
        **json.loads(os.environ.get("ANNUAL_SCORE_WEIGHTS", "{}")),
    }
    ANNUAL_INTERVIEW_PENALTY = float(os.environ.get("ANNUAL_INTERVIEW_PENALTY", "2"))
    # 晒在网上: the public ranking and outcomes page, off unless PUBLIC_DISCLOSURE=1.
    PUBLIC_DISCLOSURE = os.environ.get("PUBLIC_DISCLOSURE", "0") == "1"
    PUBLIC_OUTCOMES_LIMIT = _env_int("PUBLIC_OUTCOMES_LIMIT", 50)

    # Retention of personal data (clues/retention.py, job retention_sweep), in days: reporter's
    # phone and tracking link after the case is over (appeal and re-rating windows included);
    # photos after the case (a referral: after its conclusion); H5 device identities after the
    # device was last seen; a rating's network hash after the rating.
    RETENTION_REPORTER_DAYS = _env_int("RETENTION_REPORTER_DAYS", 180)
    RETENTION_PHOTO_DAYS = _env_int("RETENTION_PHOTO_DAYS", 365)
    RETENTION_DEVICE_DAYS = _env_int("RETENTION_DEVICE_DAYS", 90)
    RETENTION_ADDRESS_DAYS = _env_int("RETENTION_ADDRESS_DAYS", 30)

    # The scheduler's lease (notifications/scheduler.py): a standby takes over at most about
    # LEASE + RENEW seconds after the leader dies; renewal must come at least twice per lease.
    SCHEDULER_LEASE_SECONDS = float(os.environ.get("SCHEDULER_LEASE_SECONDS", "10"))
    SCHEDULER_RENEW_SECONDS = float(os.environ.get("SCHEDULER_RENEW_SECONDS", "2"))

    # /metrics (app/metrics.py): readable from these networks (comma-separated CIDRs), or from
    # anywhere with `Authorization: Bearer <METRICS_TOKEN>`; everyone else gets 403.
    METRICS_ALLOWED_NETWORKS = os.environ.get("METRICS_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN") or None

    # Outbox delivery: leases, retries with exponential backoff and jitter, dead letters.
    OUTBOX_MAX_ATTEMPTS = _env_int("OUTBOX_MAX_ATTEMPTS", 8)
    OUTBOX_LEASE_SECONDS = _env_int("OUTBOX_LEASE_SECONDS", 300)
    OUTBOX_LEASE_BATCH = _env_int("OUTBOX_LEASE_BATCH", 20)
    OUTBOX_BACKOFF_BASE_SECONDS = _env_int("OUTBOX_BACKOFF_BASE_SECONDS", 30)
    OUTBOX_BACKOFF_CAP_SECONDS = _env_int("OUTBOX_BACKOFF_CAP_SECONDS", 3600)
    # WeChat subscribe-message templates by our message kind (JSON; unset: the demo templates
    # documented in notifications/channels/wechat.py).
    WECHAT_TEMPLATES = (
        json.loads(os.environ["WECHAT_TEMPLATES"]) if os.environ.get("WECHAT_TEMPLATES") else None
    )
    WECHAT_MINIPROGRAM_STATE = os.environ.get("WECHAT_MINIPROGRAM_STATE", "formal")
    # The city's 12345 platform: where livelihood clues are forwarded, the shared HMAC secret,
    # and the callback URL we give it (default: PUBLIC_BASE_URL/integrations/12345/callback).
    HOTLINE_URL = os.environ.get("HOTLINE_URL", "")
    HOTLINE_SECRET = os.environ.get("HOTLINE_SECRET", "")
    HOTLINE_CALLBACK_URL = os.environ.get("HOTLINE_CALLBACK_URL") or None
    HOTLINE_CONNECT_TIMEOUT = float(os.environ.get("HOTLINE_CONNECT_TIMEOUT", "3.05"))
    HOTLINE_READ_TIMEOUT = float(os.environ.get("HOTLINE_READ_TIMEOUT", "10"))
    HOTLINE_TIMESTAMP_TOLERANCE_SECONDS = _env_int("HOTLINE_TIMESTAMP_TOLERANCE_SECONDS", 300)
    # Tencent Cloud SMS (SendSms 2021-01-11) to consenting confidential reporters; off until
    # SMS_SECRET_ID, SMS_SECRET_KEY, SMS_SDK_APP_ID and SMS_SIGN_NAME are set. SMS_TEMPLATES
    # maps our message kinds to approved templates (JSON; unset: the demo templates documented
    # in notifications/channels/sms.py). Quiet hours are local "start-end" hours ("" for none).
    SMS_ENDPOINT = os.environ.get("SMS_ENDPOINT", "https://sms.tencentcloudapi.com").rstrip("/")
    SMS_REGION = os.environ.get("SMS_REGION", "ap-guangzhou")
    SMS_SECRET_ID = os.environ.get("SMS_SECRET_ID", "")
    SMS_SECRET_KEY = os.environ.get("SMS_SECRET_KEY", "")
    SMS_SDK_APP_ID = os.environ.get("SMS_SDK_APP_ID", "")
    SMS_SIGN_NAME = os.environ.get("SMS_SIGN_NAME", "")
    SMS_TEMPLATES = (
        json.loads(os.environ["SMS_TEMPLATES"]) if os.environ.get("SMS_TEMPLATES") else None
    )
    SMS_CONNECT_TIMEOUT = float(os.environ.get("SMS_CONNECT_TIMEOUT", "3.05"))
    SMS_READ_TIMEOUT = float(os.environ.get("SMS_READ_TIMEOUT", "10"))
    SMS_QUIET_HOURS = os.environ.get("SMS_QUIET_HOURS", "22-8")
    SMS_DAILY_LIMIT_PER_RESIDENT = _env_int("SMS_DAILY_LIMIT_PER_RESIDENT", 3)
    SMS_MAX_AGE_HOURS = _env_int("SMS_MAX_AGE_HOURS", 72)

    # Staff console: a signed session cookie limited to /console.
    CONSOLE_SESSION_SECONDS = _env_int("CONSOLE_SESSION_SECONDS", 8 * 3600)
    CONSOLE_TREND_WEEKS = _env_int("CONSOLE_TREND_WEEKS", 12)
    SESSION_COOKIE_NAME = "pingyi_console"
    SESSION_COOKIE_PATH = "/console"
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_HTTPONLY = True

    # Rate limits (Flask-Limiter syntax), shared through Redis when REDIS_URL is set.
    RATELIMIT_ENABLED = os.environ.get("RATELIMIT_ENABLED", "1") != "0"
    RATE_LIMIT_RESIDENT = os.environ.get("RATE_LIMIT_RESIDENT", "20/hour;60/day")
    RATE_LIMIT_ADDRESS = os.environ.get("RATE_LIMIT_ADDRESS", "300/hour")
    RATE_LIMIT_SIGN_IN = os.environ.get("RATE_LIMIT_SIGN_IN", "30/minute")
    # Clues filed without a rating, and photo uploads (each decodes an image): per resident
    # and per network (an IPv4 address, an IPv6 /64). Photos are also capped at 20 stored a
    # day per resident (clues/photos.py); these count requests, refused ones included.
    RATE_LIMIT_CLUE_RESIDENT = os.environ.get("RATE_LIMIT_CLUE_RESIDENT", "5/hour;10/day")
    RATE_LIMIT_CLUE_NETWORK = os.environ.get("RATE_LIMIT_CLUE_NETWORK", "20/hour")
    RATE_LIMIT_PHOTO_RESIDENT = os.environ.get("RATE_LIMIT_PHOTO_RESIDENT", "30/hour;60/day")
    RATE_LIMIT_PHOTO_NETWORK = os.environ.get("RATE_LIMIT_PHOTO_NETWORK", "120/hour")
    # The 查询码 look-up page: a typed number and code, per network and per browser.
    RATE_LIMIT_TRACKING_CODE = os.environ.get("RATE_LIMIT_TRACKING_CODE", "10/10 minutes;30/day")
    # Tracking links and their JSON: a 192-bit secret cannot be guessed; this stops scraping.
    RATE_LIMIT_TRACKING_LINK = os.environ.get("RATE_LIMIT_TRACKING_LINK", "120/hour")
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "pingyi")

    # WeChat (empty appid: WeChat features are off)
    WECHAT_API_BASE = os.environ.get("WECHAT_API_BASE", "https://api.weixin.qq.com").rstrip("/")
    WECHAT_APPID = os.environ.get("WECHAT_APPID", "")
    WECHAT_SECRET = os.environ.get("WECHAT_SECRET", "")
    WECHAT_CONNECT_TIMEOUT = float(os.environ.get("WECHAT_CONNECT_TIMEOUT", "3.05"))
    WECHAT_READ_TIMEOUT = float(os.environ.get("WECHAT_READ_TIMEOUT", "10"))

    # QR rendering: a CJK font file (found through fontconfig when unset) and the cache folder
    QR_FONT_PATH = os.environ.get("QR_FONT_PATH") or None
    QR_CACHE_DIR = os.environ.get("QR_CACHE_DIR") or None  # default: instance/qr-cache

    # APIFlask / OpenAPI
    TITLE = "评议 Pingyi API"
    VERSION = "1.0"
    DESCRIPTION = (
        "群众扫码评议政法单位、问题线索闭环处置的接口。错误统一为 "
        '`{"error", "message", "details"}`。'
    )
    SECURITY_SCHEMES = {
        "BearerAuth": {"type": "http", "scheme": "bearer", "description": "登录后获得的令牌"}
    }
    # Every operation with a path parameter can answer 404 (no such object, or an id the
    # route does not accept); the rest document their 404s themselves.
    AUTO_404_RESPONSE = True
    SUCCESS_DESCRIPTION = "成功"
    VALIDATION_ERROR_DESCRIPTION = "请求参数有误"
    NOT_FOUND_DESCRIPTION = "资源不存在"
    AUTH_ERROR_DESCRIPTION = "未登录或登录已失效"
    JSON_SORT_KEYS = False

    @classmethod
    def check_production(cls, config: dict) -> None:
        """Refuse to run production with development secrets or development defaults."""
        if config.get("ENV") != "production":
            return
        problems = production_problems(config)
        if problems:
            raise InsecureConfiguration(problems)


def _too_short(value: object) -> bool:
    return not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH


def production_problems(config: dict) -> list[str]:
    """Everything that makes `config` unfit for production, each naming its variable."""
    from cryptography.fernet import Fernet

    problems = []
    secret = config.get("SECRET_KEY")
    if secret == DEV_SECRET_KEY or _too_short(secret):
        problems.append(f"SECRET_KEY 必须设置为至少 {MIN_SECRET_LENGTH} 个字符的随机值")
    identity_key = config.get("IDENTITY_HASH_KEY")
    if _too_short(identity_key):
        problems.append(
            f"IDENTITY_HASH_KEY 必须设置为至少 {MIN_SECRET_LENGTH} 个字符的随机值"
            "（openid 和设备号的带密钥哈希）"
        )
    elif identity_key == secret:
        problems.append("IDENTITY_HASH_KEY 不能与 SECRET_KEY 相同")
    phone_keys = config.get("PHONE_ENCRYPTION_KEY")
    if not phone_keys:
        problems.append("PHONE_ENCRYPTION_KEY 必须设置（Fernet 密钥，用于加密反映人电话）")
    else:
        for key in str(phone_keys).split(","):
            try:
                Fernet(key.strip().encode())
            except ValueError:
                problems.append(
                    "PHONE_ENCRYPTION_KEY 不是有效的 Fernet 密钥（32 字节的 URL 安全 Base64，"
                    "可用 python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())' 生成）"
                )
                break
    if str(config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("sqlite"):
        problems.append("生产环境必须通过 DATABASE_URL 使用 PostgreSQL，不能用 SQLite")
    base = str(config.get("PUBLIC_BASE_URL") or "")
    if base == DEV_PUBLIC_BASE_URL or urlsplit(base).scheme != "https" or not urlsplit(base).netloc:
        problems.append(
            "PUBLIC_BASE_URL 必须设置为本服务对外的 https 地址（二维码里的地址，"
            "小程序也只能访问 https）"
        )
    if config.get("WECHAT_APPID"):
        if config["WECHAT_APPID"] == SANDBOX_WECHAT_APPID:
            problems.append("WECHAT_APPID 仍是本地微信沙箱的 wxsandbox，请改为小程序的 AppID")
        if urlsplit(str(config.get("WECHAT_API_BASE") or "")).scheme != "https":
            problems.append("WECHAT_API_BASE 必须是 https 地址（不能指向本地微信沙箱）")
        if _too_short(config.get("WECHAT_SECRET")):
            problems.append("WECHAT_SECRET 必须设置为小程序的 AppSecret")
    # The callback route is always mounted: any configured end of the 12345 link (or a secret
    # at all) means it is live, and a short secret can be guessed.
    hotline_live = any(config.get(k) for k in ("HOTLINE_URL", "HOTLINE_CALLBACK_URL"))
    if (hotline_live or config.get("HOTLINE_SECRET")) and _too_short(config.get("HOTLINE_SECRET")):
        problems.append(
            "配置了 12345 对接（HOTLINE_URL 或 HOTLINE_CALLBACK_URL）时，HOTLINE_SECRET 必须是"
            f"至少 {MIN_SECRET_LENGTH} 个字符的随机值"
        )
    problems.extend(sms_problems(config))
    if not config.get("RATELIMIT_ENABLED", True):
        problems.append("生产环境不能关闭限流（RATELIMIT_ENABLED 不能为 0）")
    if config.get("DEBUG"):
        problems.append("生产环境不能开启调试模式（去掉 FLASK_DEBUG 或 --debug）")
    return problems


# What `flask up` and the tests give the local SMS sandbox: never a real Tencent Cloud key.
SANDBOX_SMS_SECRET_ID = "AKIDsandboxPingyiSmsSecretId000000"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0")


def sms_problems(config: dict) -> list[str]:
    """Why the SMS settings are unfit for production (nothing while SMS is off)."""
    if not any(config.get(k) for k in ("SMS_SECRET_ID", "SMS_SDK_APP_ID", "SMS_TEMPLATES")):
        return []
    problems = []
    endpoint = urlsplit(str(config.get("SMS_ENDPOINT") or ""))
    if endpoint.scheme != "https" or (endpoint.hostname or "") in LOOPBACK_HOSTS:
        problems.append(
            "SMS_ENDPOINT 必须是腾讯云短信的 https 地址（如 https://sms.tencentcloudapi.com），"
            "不能指向本地短信沙箱"
        )
    if config.get("SMS_SECRET_ID") in ("", None, SANDBOX_SMS_SECRET_ID):
        problems.append("SMS_SECRET_ID 必须设置为腾讯云 API 密钥的 SecretId（不能用沙箱的）")
    if _too_short(config.get("SMS_SECRET_KEY")):
        problems.append("SMS_SECRET_KEY 必须设置为腾讯云 API 密钥的 SecretKey")
    if not config.get("SMS_SDK_APP_ID") or not config.get("SMS_SIGN_NAME"):
        problems.append(
            "SMS_SDK_APP_ID 和 SMS_SIGN_NAME 必须设置为短信控制台的应用 ID 和已审核的签名"
        )
    if not config.get("SMS_TEMPLATES"):
        problems.append("SMS_TEMPLATES 必须设置为短信控制台审核通过的模板（演示模板只能用于沙箱）")
    return problems
