"""POST /evaluations: a resident's rating, and the clue it may carry, filed in one request.

It lives here rather than in evaluations/ because filing the clue is a call into this package.
"""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import request

from app.errors import ApiError
from app.extensions import db
from app.ratelimit import bearer_key, limits_in_one_trip, network_key
from clues.intake import submit_rating
from evaluations.identity import current_resident, resident_id_from_token, resident_required
from evaluations.schemas import EvaluationIn, EvaluationOut

bp = APIBlueprint("rating", __name__, url_prefix="/api/v1", tag="扫码评价")

IDEMPOTENCY_HEADER = "Idempotency-Key"


def _idempotency_key() -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= 100 or not key.isascii() or not key.isprintable():
        raise ApiError(
            422,
            "validation_error",
            "Idempotency-Key 须为 1–100 个可打印 ASCII 字符",
            {"location": "headers", "fields": {IDEMPOTENCY_HEADER: ["格式不正确"]}},
        )
    return key


@bp.post("/evaluations")
@limits_in_one_trip(
    ("RATE_LIMIT_ADDRESS", network_key, "rate-address"),
    ("RATE_LIMIT_RESIDENT", bearer_key(resident_id_from_token), "rate-resident"),
)
@resident_required
@bp.input(EvaluationIn, arg_name="body")
@bp.output(EvaluationOut, status_code=201)
@bp.doc(
    responses={
        403: "工作人员不能评价本单位",
        404: "二维码不存在",
        409: "今天已评价过该二维码，或相同 Idempotency-Key 的请求正在处理",
        410: "二维码已停用",
        429: "请求过于频繁",
    }
)
def submit(body: EvaluationIn):
    """提交评价（可附问题线索）。请求头 Idempotency-Key 使重试安全：同键同内容返回首次结果。"""
    submission = submit_rating(
        resident=current_resident(),
        body=body,
        client_addr=request.remote_addr or "",
        idempotency_key=_idempotency_key(),
    )
    db.session.commit()
    # A replay answers exactly as the first request did (201), marked by a header.
    headers = {"Idempotent-Replayed": "true"} if submission.replayed else {}
    return submission.body, 201, headers
