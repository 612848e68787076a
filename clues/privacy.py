"""个人信息处理规则: the resident-facing page saying what is kept, for how long, who sees it.

The periods come from the same configuration the retention sweep uses (clues/retention.py),
so the page never promises what the system does not do. Every H5 page links here.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

bp = Blueprint("privacy", __name__, template_folder="templates")


@bp.get("/privacy")
def rules_page() -> str:
    config = current_app.config
    return render_template(
        "h5/privacy.html",
        reporter_days=config["RETENTION_REPORTER_DAYS"],
        photo_days=config["RETENTION_PHOTO_DAYS"],
        device_days=config["RETENTION_DEVICE_DAYS"],
        address_days=config["RETENTION_ADDRESS_DAYS"],
        appeal_days=config["CLUE_APPEAL_WINDOW_DAYS"],
    )
