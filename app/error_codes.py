"""The error catalogue: every `error` code the API can answer with, once.

Each code carries its HTTP status, the usual Chinese message, what it means and what a client
should do with it. `GET /api/v1/errors` serves this list, the OpenAPI document names the codes
each operation can return (app/apidoc.py), and tests/app/test_error_catalogue.py scans the code
base and fails when a code is raised anywhere without an entry here.

The generic codes come from the statuses the app answers with (`app.errors._STATUS_DEFAULTS`
through `status_defaults()`) and the domain error classes' own codes; the rest are declared
below, grouped by the package that raises them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from app.enums import LabelledEnum
from app.errors import DomainError, class_status, status_defaults


class ClientAction(LabelledEnum):
    """What a client does with an error code."""

    RETRY = "retry", "稍后重试（同样的请求，可带同一个 Idempotency-Key）"
    RELOGIN = "relogin", "重新登录后再试"
    SHOW_MESSAGE = "show_message", "把 message 显示给用户，不要自动重试"
    FIX_INPUT = "fix_input", "按 details.fields 在对应字段旁提示用户修改后再提交"


A = ClientAction


@dataclass(frozen=True)
class ErrorCode:
    """One machine code: its status(es), usual message, meaning and the client's action."""

    code: str
    status: int
    message: str
    meaning: str
    action: ClientAction
    # A few codes are answered with a second status by one route (kept for compatibility).
    also: tuple[int, ...] = ()

    @property
    def statuses(self) -> tuple[int, ...]:
        return (self.status, *self.also)

    def as_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "status": self.status,
            "also_status": list(self.also),
            "message": self.message,
            "meaning": self.meaning,
            "action": self.action.value,
            "action_label": self.action.label,
        }


# What the generic codes (one per status, and the domain classes' defaults) mean to a client.
_GENERIC: dict[str, tuple[str, ClientAction]] = {
    "bad_request": ("请求无法解析", A.FIX_INPUT),
    "unauthorized": ("没有带登录令牌，或令牌不是本系统签发的", A.RELOGIN),
    "forbidden": ("当前身份（角色）不允许这个操作", A.SHOW_MESSAGE),
    "out_of_scope": ("对象不在当前工作人员的管辖范围内", A.SHOW_MESSAGE),
    "not_found": ("对象不存在，或不属于当前用户", A.SHOW_MESSAGE),
    "method_not_allowed": ("该路径不支持这个请求方法", A.FIX_INPUT),
    "conflict": ("对象的当前状态不允许这个操作", A.SHOW_MESSAGE),
    "illegal_transition": (
        "线索当前状态不能执行这个动作；details.allowed_from 是允许的状态",
        A.SHOW_MESSAGE,
    ),
    "gone": ("对象已失效（例如已停用）", A.SHOW_MESSAGE),
    "payload_too_large": ("请求体或上传的文件超过大小限制", A.FIX_INPUT),
    "unsupported_media_type": ("请求体类型不对：JSON 接口只接受 application/json", A.FIX_INPUT),
    "validation_error": ("请求参数不符合要求；details.fields 按字段给出说明", A.FIX_INPUT),
    "locked": ("暂时锁定，稍后再试", A.RETRY),
    "rate_limited": (
        "请求过于频繁；响应头 Retry-After 和 details.retry_after 给出等待秒数",
        A.RETRY,
    ),
    "internal_error": ("服务器内部错误，已记录日志", A.RETRY),
    "service_unavailable": ("依赖的服务暂不可用", A.RETRY),
}


def _e(
    code: str,
    status: int | type[DomainError],
    message: str,
    meaning: str,
    action: ClientAction,
    also: tuple[int, ...] = (),
) -> ErrorCode:
    number = status if isinstance(status, int) else class_status(status)
    return ErrorCode(code, number, message, meaning, action, also)


def _generic() -> list[ErrorCode]:
    defaults = status_defaults()
    entries = []
    for status, (code, message) in defaults.items():
        meaning, action = _GENERIC[code]
        entries.append(ErrorCode(code, status, message, meaning, action))
    from app.errors import IllegalTransition, OutOfScope

    for cls in (OutOfScope, IllegalTransition):
        meaning, action = _GENERIC[cls.code]
        entries.append(ErrorCode(cls.code, class_status(cls), cls.message, meaning, action))
    return entries


def _declared() -> list[ErrorCode]:
    from app.errors import Conflict, Gone, Invalid, NotFound, NotPermitted, Unauthenticated

    return [
        # the app itself: request bodies, tokens, health
        _e("invalid_json", 400, "请求体不是有效的 JSON", "请求体无法按 JSON 解析", A.FIX_INPUT),
        _e(
            "token_expired",
            401,
            "登录已过期，请重新登录",
            "令牌已过期（群众 30 天、工作人员 8 小时）",
            A.RELOGIN,
        ),
        _e(
            "token_invalid",
            Unauthenticated,
            "登录凭证无效，请重新登录",
            "令牌签名不对、已注销或对应的身份已停用",
            A.RELOGIN,
        ),
        _e(
            "duplicate",
            Conflict,
            "数据与已有记录冲突",
            "与已有记录重复（编号、用户名等），或两个请求同时提交",
            A.SHOW_MESSAGE,
        ),
        _e(
            "database_unavailable",
            503,
            "数据库不可用",
            "健康检查连不上数据库",
            A.RETRY,
        ),
        # staff accounts and the organisation registry (app/org)
        _e(
            "invalid_credentials",
            Unauthenticated,
            "用户名或密码不正确",
            "工作人员登录：用户名或密码不对（不区分哪一个）",
            A.FIX_INPUT,
        ),
        _e(
            "wrong_password",
            NotPermitted,
            "原密码不正确",
            "修改密码时原密码不对",
            A.FIX_INPUT,
        ),
        _e(
            "too_many_failures",
            423,
            "原密码错误次数过多，请稍后再试",
            "同一账号或网络连续输错密码，暂时不接受登录；details 给出等待时间",
            A.RETRY,
        ),
        _e(
            "parent_inactive",
            Conflict,
            "上级单位已停用，不能在其下新增单位",
            "上级单位已停用",
            A.SHOW_MESSAGE,
        ),
        _e(
            "placement",
            Conflict,
            "该角色不能设在这个单位",
            "角色与所在单位的层级不符（如核查人员须在基层单位）",
            A.FIX_INPUT,
            also=(422,),
        ),
        _e("cycle", Conflict, "不能把单位移到它自己的下级单位之下", "单位上下级成环", A.FIX_INPUT),
        _e(
            "has_active_children",
            Conflict,
            "请先停用该单位的下级单位",
            "停用单位前须先停用下级单位",
            A.SHOW_MESSAGE,
        ),
        _e("unit_inactive", Conflict, "该单位已停用", "单位已停用", A.SHOW_MESSAGE),
        _e("officer_inactive", Conflict, "该人员已停用", "人员已停用", A.SHOW_MESSAGE),
        _e(
            "self_deactivation",
            Conflict,
            "不能停用自己的账号",
            "管理员停用的是自己的账号",
            A.SHOW_MESSAGE,
        ),
        # WeChat sign-in and mini-program codes (app/wechat, qr)
        _e(
            "wechat_not_configured",
            503,
            "未配置微信小程序",
            "服务器没有配置小程序 AppID/Secret",
            A.SHOW_MESSAGE,
            also=(409,),
        ),
        _e(
            "wechat_code_invalid",
            401,
            "微信登录凭证无效，请重新登录",
            "wx.login 的 code 无效或已使用（每个 code 只能换一次）",
            A.RELOGIN,
        ),
        _e("wechat_busy", 503, "微信服务繁忙，请稍后再试", "微信接口繁忙", A.RETRY),
        _e("wechat_error", 502, "微信服务出错", "微信接口返回了错误", A.RETRY),
        _e(
            "not_wechat",
            Conflict,
            "网页版无法接收微信订阅消息，请在微信小程序中订阅",
            "H5 匿名身份不能订阅小程序消息",
            A.SHOW_MESSAGE,
        ),
        _e(
            "identity_mismatch",
            NotPermitted,
            "登录凭证不属于当前用户，请重新进入小程序后再订阅",
            "订阅同意里的 openid 与当前令牌的身份不同",
            A.RELOGIN,
        ),
        # QR codes (qr)
        _e("qr_not_found", NotFound, "二维码不存在", "扫到的二维码不存在", A.SHOW_MESSAGE),
        _e(
            "qr_revoked",
            Gone,
            "该二维码已停用",
            "二维码已停用或已轮换，请扫描现场新的二维码",
            A.SHOW_MESSAGE,
            also=(409,),
        ),
        _e("already_revoked", Conflict, "二维码已停用", "重复停用", A.SHOW_MESSAGE),
        _e(
            "no_codes",
            404,
            "该单位及下级单位没有有效的二维码",
            "批量导出时子树里没有有效二维码",
            A.SHOW_MESSAGE,
        ),
        _e(
            "export_not_ready",
            409,
            "导出尚未完成，请稍后再下载",
            "批量导出任务还在排队或生成中；details 给出进度",
            A.RETRY,
        ),
        _e(
            "font_missing",
            503,
            "服务器缺少中文字体",
            "生成图片或 PDF 需要的中文字体没有安装",
            A.RETRY,
        ),
        # ratings (evaluations)
        _e(
            "already_rated",
            Conflict,
            "您已评价过该二维码，感谢您的参与",
            "同一群众同一二维码一天只能评价一次",
            A.SHOW_MESSAGE,
        ),
        _e(
            "own_unit",
            NotPermitted,
            "工作人员不能评价本单位",
            "绑定了工作人员的微信不能评价自己所在的单位",
            A.SHOW_MESSAGE,
        ),
        _e(
            "idempotency_in_flight",
            Conflict,
            "相同 Idempotency-Key 的请求正在处理中，请稍后重试",
            "带同一个 Idempotency-Key 的前一个请求还没处理完",
            A.RETRY,
        ),
        _e(
            "idempotency_key_reused",
            Invalid,
            "Idempotency-Key 已用于另一份内容",
            "同一个 Idempotency-Key 用于了不同的请求体；新的提交请换一个键",
            A.FIX_INPUT,
        ),
        # clues (clues)
        _e(
            "reporter_conflict",
            NotPermitted,
            "您所在单位是被反映单位或其下级，不能查看反映人信息",
            "查看反映人身份的人在被反映单位或其下级",
            A.SHOW_MESSAGE,
        ),
        _e(
            "reporter_not_referred",
            NotPermitted,
            "纪检联络员只能查看已移交纪检线索的反映人",
            "纪检联络员只能看已移交线索的反映人",
            A.SHOW_MESSAGE,
        ),
        _e(
            "accused_officer",
            NotPermitted,
            "被反映的人员不能办理反映自己的线索",
            "当前工作人员就是线索里被反映的人员",
            A.SHOW_MESSAGE,
        ),
        _e(
            "not_assignee",
            NotPermitted,
            "该线索已指定其他承办人",
            "线索交办给了本单位的另一位核查人员",
            A.SHOW_MESSAGE,
        ),
        _e(
            "self_verification",
            Invalid,
            "交给被反映单位自查须填写理由",
            "把违纪类线索交给被反映单位自己核查时必须记录理由",
            A.FIX_INPUT,
        ),
        _e("merge_into_self", Conflict, "不能并入线索本身", "主线索就是本线索", A.FIX_INPUT),
        _e(
            "bad_master",
            Conflict,
            "不能并入已并案或不予受理的线索",
            "主线索已并案或不予受理",
            A.FIX_INPUT,
        ),
        _e(
            "not_livelihood",
            Conflict,
            "只有民生类诉求可以转 12345",
            "线索类别不是民生诉求",
            A.SHOW_MESSAGE,
        ),
        _e(
            "extension_pending",
            Conflict,
            "已有待审批的延期申请",
            "同一线索同时只能有一个待审批的延期申请",
            A.SHOW_MESSAGE,
        ),
        _e(
            "no_extension_request",
            Conflict,
            "没有待审批的延期申请",
            "批准或不批准延期时没有待审批的申请",
            A.SHOW_MESSAGE,
        ),
        _e(
            "not_invited",
            Conflict,
            "该线索尚未办结，暂不能回评",
            "线索还没有办结，没有邀请回评",
            A.SHOW_MESSAGE,
        ),
        _e("already_rerated", Conflict, "您已回评过", "每条线索只能回评一次", A.SHOW_MESSAGE),
        _e("rerating_closed", Conflict, "回评期限已过", "办结后的回评期限已过", A.SHOW_MESSAGE),
        _e(
            "cannot_appeal",
            Conflict,
            "只有已办结的线索可以申请复核",
            "线索尚未办结",
            A.SHOW_MESSAGE,
        ),
        _e(
            "appeal_window_closed",
            Conflict,
            "复核申请期限已过",
            "办结后申请复核的期限已过",
            A.SHOW_MESSAGE,
        ),
        _e(
            "satisfied",
            Conflict,
            "您的回评为满意，不能再申请复核",
            "回评满意的线索不能申请复核",
            A.SHOW_MESSAGE,
        ),
        _e(
            "already_appealed",
            Conflict,
            "您已就这次办理结果申请过复核",
            "同一办理结果只能申请一次复核",
            A.SHOW_MESSAGE,
        ),
        _e(
            "not_referable",
            Conflict,
            "只有查实且涉及违纪违规的线索可以移交纪检",
            "只有查实且涉及违纪违规的线索可以移交",
            A.SHOW_MESSAGE,
        ),
        _e("already_referred", Conflict, "该线索已移交纪检", "重复移交", A.SHOW_MESSAGE),
        _e(
            "referral_conflict",
            NotPermitted,
            "您所在单位是被反映单位或其下级，不能查看该移交卷宗",
            "纪检联络员所在单位是被反映单位或其下级",
            A.SHOW_MESSAGE,
        ),
        # photos (clues/photos.py)
        _e(
            "unsupported_image",
            415,
            "只接受 JPEG、PNG、WebP、GIF、BMP 图片",
            "上传的文件不是支持的图片格式",
            A.FIX_INPUT,
        ),
        _e("image_too_large", 413, "图片像素过多", "图片文件或像素超过上限", A.FIX_INPUT),
        _e("invalid_image", Invalid, "无法识别的图片文件", "文件损坏或不是图片", A.FIX_INPUT),
        _e("clue_closed", Conflict, "线索已办结，不能再补充照片", "线索已结束", A.SHOW_MESSAGE),
        _e(
            "too_many_photos",
            Conflict,
            "每条线索最多 6 张照片",
            "每条线索的照片数有上限",
            A.SHOW_MESSAGE,
        ),
        _e(
            "photo_quota",
            Conflict,
            "每天最多上传 20 张照片，请明天再试",
            "同一群众每天上传照片的总量有上限",
            A.SHOW_MESSAGE,
        ),
        # rectification, return visits, interviews, public outcomes (clues/practices.py)
        _e("already_rectified", Conflict, "该差评已整改", "差评已整改过", A.SHOW_MESSAGE),
        _e(
            "not_closed",
            Conflict,
            "线索办结后才能回访",
            "回访、公开办理情况都要等线索办结",
            A.SHOW_MESSAGE,
        ),
        _e("already_followed_up", Conflict, "该约谈已跟进", "约谈已记录过跟进", A.SHOW_MESSAGE),
        # letters and the 12345 platform (notifications)
        _e(
            "not_answerable",
            Conflict,
            "该函件无需回复",
            "只有督办函等需要回复的函件可以回复",
            A.SHOW_MESSAGE,
        ),
        _e("already_answered", Conflict, "该函件已回复", "函件已经回复过", A.SHOW_MESSAGE),
        _e(
            "hotline_not_configured",
            503,
            "未配置 12345 平台对接密钥",
            "服务器没有配置 12345 回调的签名密钥",
            A.SHOW_MESSAGE,
        ),
        _e(
            "bad_signature",
            401,
            "12345 回调校验失败",
            "12345 平台回调的签名或时间戳不对",
            A.FIX_INPUT,
        ),
        _e(
            "event_mismatch",
            Invalid,
            "回调的工单号与线索不符",
            "12345 回调里的工单号不是这条线索转出时的工单号",
            A.FIX_INPUT,
        ),
    ]


def _build() -> dict[str, ErrorCode]:
    registry: dict[str, ErrorCode] = {}
    for entry in [*_generic(), *_declared()]:
        if entry.code in registry:
            raise ValueError(f"error code {entry.code!r} is registered twice")
        registry[entry.code] = entry
    return registry


# Every code, by name, in the order a reader meets them.
ERROR_CODES: dict[str, ErrorCode] = _build()


def error_code(code: str) -> ErrorCode:
    """The registry entry of `code` (KeyError names an unregistered code)."""
    return ERROR_CODES[code]


def codes_with_status(status: int) -> list[ErrorCode]:
    """Every registered code answered with `status`."""
    return [entry for entry in ERROR_CODES.values() if status in entry.statuses]


# ---------------------------------------------------------------- codes by operation

# The codes an operation answers with beyond those its documented statuses imply (below), by
# "METHOD /path" as in the OpenAPI document; `*` matches one path segment (the clue actions).
# The clue actions' refusals are the catalogue's (clues/actions.py `can()`): role, scope,
# recusal, the transition table, then each action's own guard.
_CLUE_ACTION = ("forbidden", "out_of_scope", "accused_officer", "illegal_transition")
_VERIFIER = (*_CLUE_ACTION, "not_assignee")
_WECHAT_LOGIN = ("wechat_not_configured", "wechat_code_invalid", "wechat_busy", "wechat_error")
_PHOTO = ("unsupported_image", "image_too_large", "invalid_image")
OPERATION_ERRORS: dict[str, tuple[str, ...]] = {
    "GET /healthz": ("database_unavailable",),
    "POST /api/v1/auth/wechat": _WECHAT_LOGIN,
    "POST /api/v1/staff/session": ("invalid_credentials",),
    "POST /api/v1/staff/me/password": ("wrong_password", "too_many_failures"),
    "POST /api/v1/staff/me/wechat": (*_WECHAT_LOGIN, "duplicate"),
    "POST /api/v1/units": ("duplicate", "parent_inactive"),
    "PATCH /api/v1/units/{unit_id}": ("duplicate", "cycle", "placement", "parent_inactive"),
    "POST /api/v1/units/{unit_id}/activate": ("parent_inactive",),
    "POST /api/v1/units/{unit_id}/deactivate": ("has_active_children",),
    "POST /api/v1/units/{unit_id}/officers": ("duplicate", "unit_inactive"),
    "PATCH /api/v1/officers/{officer_id}": ("duplicate",),
    "POST /api/v1/staff": ("duplicate", "unit_inactive", "placement", "officer_inactive"),
    "PATCH /api/v1/staff/{staff_id}": ("duplicate", "placement", "officer_inactive"),
    "POST /api/v1/staff/{staff_id}/deactivate": ("self_deactivation",),
    "POST /api/v1/qr-codes": ("duplicate", "unit_inactive", "officer_inactive"),
    "POST /api/v1/qr-codes/{code_id}/revoke": ("already_revoked",),
    "GET /api/v1/qr-codes/{code_id}/wxacode": (
        "qr_revoked",
        "wechat_not_configured",
        "wechat_error",
    ),
    "GET /api/v1/qr-codes/{code_id}/poster": ("font_missing",),
    "GET /api/v1/qr-codes/export": ("no_codes", "font_missing"),
    "POST /api/v1/qr-codes/export-jobs": ("no_codes", "font_missing"),
    "GET /api/v1/qr-codes/export-jobs/{export_id}/file": ("export_not_ready",),
    "GET /api/v1/letters/{letter_id}/pdf": ("font_missing",),
    "POST /api/v1/letters/{letter_id}/response": ("not_answerable", "already_answered"),
    "GET /api/v1/scan/{token}": ("qr_not_found", "qr_revoked"),
    "POST /api/v1/evaluations": (
        "qr_not_found",
        "qr_revoked",
        "already_rated",
        "own_unit",
        "idempotency_in_flight",
        "idempotency_key_reused",
    ),
    "POST /api/v1/me/clues": ("qr_not_found", "qr_revoked"),
    "POST /api/v1/me/clues/{tracking_no}/rerating": (
        "not_invited",
        "already_rerated",
        "rerating_closed",
    ),
    "POST /api/v1/me/clues/{tracking_no}/appeal": (
        "cannot_appeal",
        "appeal_window_closed",
        "satisfied",
        "already_appealed",
    ),
    "POST /api/v1/me/clues/{tracking_no}/photos": (
        *_PHOTO,
        "clue_closed",
        "too_many_photos",
        "photo_quota",
    ),
    "POST /api/v1/me/subscriptions": ("not_wechat", "identity_mismatch", *_WECHAT_LOGIN),
    "GET /api/v1/clues/{clue_id}": ("out_of_scope",),
    "GET /api/v1/clues/{clue_id}/reporter": ("reporter_conflict", "reporter_not_referred"),
    "POST /api/v1/clues/{clue_id}/*": _CLUE_ACTION,
    "POST /api/v1/clues/{clue_id}/merge": ("merge_into_self", "bad_master"),
    "POST /api/v1/clues/{clue_id}/forward_12345": ("not_livelihood",),
    "POST /api/v1/clues/{clue_id}/assign": ("unit_inactive", "self_verification"),
    "POST /api/v1/clues/{clue_id}/reassign": ("unit_inactive", "self_verification"),
    "POST /api/v1/clues/{clue_id}/send_back": _VERIFIER,
    "POST /api/v1/me/clues/{tracking_no}/withdraw": ("illegal_transition",),
    "POST /api/v1/clues/{clue_id}/start": _VERIFIER,
    "POST /api/v1/clues/{clue_id}/submit_report": _VERIFIER,
    "POST /api/v1/clues/{clue_id}/request_extension": (*_VERIFIER, "extension_pending"),
    "POST /api/v1/clues/{clue_id}/approve_extension": ("no_extension_request",),
    "POST /api/v1/clues/{clue_id}/deny_extension": ("no_extension_request",),
    "POST /api/v1/clues/{clue_id}/refer": ("not_referable", "already_referred"),
    "GET /api/v1/referrals/{referral_id}": ("out_of_scope", "referral_conflict"),
    "POST /api/v1/referrals/{referral_id}/*": (
        "out_of_scope",
        "referral_conflict",
        "illegal_transition",
    ),
    "POST /api/v1/bad-ratings/{rectification_id}/rectify": ("out_of_scope", "already_rectified"),
    "POST /api/v1/clues/{clue_id}/callbacks": ("not_closed",),
    "PUT /api/v1/clues/{clue_id}/public-summary": ("not_closed",),
    "POST /api/v1/interviews/{interview_id}/follow-up": ("out_of_scope", "already_followed_up"),
    "POST /integrations/12345/callback": (
        "bad_signature",
        "hotline_not_configured",
        "event_mismatch",
    ),
}

# What a documented status implies whatever the operation: the app answers these itself.
_BY_STATUS: dict[str, tuple[str, ...]] = {
    "400": ("invalid_json",),
    "403": ("forbidden",),
    "404": ("not_found",),
    "413": ("payload_too_large",),
    "415": ("unsupported_media_type",),
    "422": ("validation_error",),
    "429": ("rate_limited",),
}
_SIGNED_IN = ("unauthorized", "token_expired", "token_invalid")


def _matches(pattern: str, key: str) -> bool:
    return re.fullmatch(re.escape(pattern).replace(r"\*", "[^/]+"), key) is not None


def declared_codes(key: str) -> list[str]:
    """The codes OPERATION_ERRORS gives the operation `key`, exact entries and patterns."""
    codes: list[str] = []
    for pattern, named in OPERATION_ERRORS.items():
        if _matches(pattern, key):
            codes.extend(c for c in named if c not in codes)
    return codes


def operation_codes(key: str, operation: dict[str, Any]) -> list[ErrorCode]:
    """Every code the operation can answer with: its declared codes, those its documented
    statuses and sign-in imply, and each remaining documented error status's default."""
    codes = list(_SIGNED_IN) if operation.get("security") else []
    responses = operation.get("responses", {})
    for status, implied in _BY_STATUS.items():
        if status in responses:
            codes.extend(implied)
    codes.extend(declared_codes(key))
    entries = list(dict.fromkeys(ERROR_CODES[code] for code in codes))
    statuses = {s for entry in entries for s in entry.statuses}
    defaults = status_defaults()
    for status in responses:
        number = int(status) if status.isdigit() else 0
        if number >= 400 and number not in statuses and number in defaults:
            entries.append(ERROR_CODES[defaults[number][0]])
    return entries
