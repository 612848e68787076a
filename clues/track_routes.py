"""GET /api/v1/track/{secret}: the tracking link's view as JSON, for anyone holding the link."""

from __future__ import annotations

from apiflask import APIBlueprint

from app.ratelimit import configured, limiter, network_key
from clues.resident import tracking_view
from clues.schemas import TrackOut
from clues.tracking import clue_by_secret

bp = APIBlueprint("tracking", __name__, url_prefix="/api/v1", tag="问题线索")


@bp.get("/track/<secret>")
@limiter.limit(configured("RATE_LIMIT_TRACKING_LINK"), key_func=network_key, scope="track-link")
@bp.output(TrackOut)
@bp.doc(responses={404: "链接不存在", 410: "办结已久，链接已失效", 429: "查询过于频繁"})
def track(secret: str):
    """凭私人查询链接查看一条线索：进度、承诺期限、办理单位、结论与答复、回评和复核（免登录）"""
    return tracking_view(clue_by_secret(secret))
