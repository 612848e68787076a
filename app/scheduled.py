"""Jobs of the app package."""

from app.jobs import job
from app.wechat import refresh_wechat_token

job("wechat_token_refresh", "提前刷新微信 access_token（未配置微信时跳过）")(refresh_wechat_token)
