"""Resident-facing endpoints: sign-in and resolving a scanned code (rating itself, which may
file a clue, is clues/intake_routes.py)."""

from __future__ import annotations

from apiflask import APIBlueprint

from app.extensions import db
from app.ratelimit import address_key, configured, limiter, network_key
from evaluations.identity import (
    h5_sign_in,
    resident_token,
    wechat_sign_in,
)
from evaluations.questionnaire import categories_body, current_questionnaire, questionnaire_body
from evaluations.schemas import (
    ResidentTokenOut,
    ScanOut,
    WeChatSignIn,
)
from qr.models import QRCode
from qr.service import count_scan, resolve_token

bp = APIBlueprint("evaluations", __name__, url_prefix="/api/v1", tag="扫码评价")


def scan_body(code: QRCode) -> dict:
    """What a resident sees after scanning: who is rated, the questions, the categories."""
    unit, officer = code.unit, code.officer
    return {
        "unit": {
            "id": unit.id,
            "name": unit.name,
            "kind": unit.kind,
            "kind_label": unit.kind.label,
            "address": unit.address,
        },
        "officer": officer,
        "location": code.label,
        "questionnaire": questionnaire_body(current_questionnaire(unit.kind)),
        "categories": categories_body(),
    }


@bp.get("/scan/<token>")
@bp.output(ScanOut)
@bp.doc(responses={404: "二维码不存在", 410: "二维码已停用（details.current 为单位现在的二维码）"})
def scan(token: str):
    """扫码：返回被评价的单位、人员、窗口、问卷和线索类别（按天计数，不记录扫码人）"""
    code = resolve_token(token)
    count_scan(code)
    body = scan_body(code)
    db.session.commit()
    return body


@bp.post("/auth/wechat")
@limiter.limit(configured("RATE_LIMIT_SIGN_IN"), key_func=address_key, scope="sign-in")
@bp.input(WeChatSignIn, arg_name="body")
@bp.output(ResidentTokenOut)
@bp.doc(
    responses={
        401: "登录凭证无效",
        429: "登录过于频繁",
        502: "微信接口出错",
        503: "微信繁忙或未配置",
    }
)
def sign_in_wechat(body: WeChatSignIn):
    """小程序登录：wx.login 的 code 换取本系统令牌（openid 只保存带密钥的哈希）"""
    resident = wechat_sign_in(body.code)
    db.session.commit()
    return resident_token(resident)


@bp.post("/auth/h5")
# Counted per network, apart from the other sign-ins: every call mints a new identity, and one
# IPv6 subscriber has a whole /64 of addresses to mint them from.
@limiter.limit(configured("RATE_LIMIT_SIGN_IN"), key_func=network_key, scope="h5-identity")
@bp.output(ResidentTokenOut)
@bp.doc(responses={429: "请求过于频繁"})
def sign_in_h5():
    """微信外的浏览器：领取一个匿名设备身份的令牌（评价记为 h5 渠道）"""
    resident = h5_sign_in()
    db.session.commit()
    return resident_token(resident)
