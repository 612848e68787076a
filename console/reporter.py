"""查看反映人: the reporter's identity on the console, under the same rule as the API.

The clue page offers the form only to those `reporter_refusal` lets through; the read itself
is a POST with the reason the reader gives (never a link a browser could prefetch), goes
through `read_reporter` (which refuses again and writes the audit row) and is shown once, on a
page that is never cached.
"""

from __future__ import annotations

from flask import Response, request

from app.extensions import db
from app.org.models import Role
from clues import service
from clues.models import ReporterIdentity
from clues.schemas import ReporterQuery
from console.forms import FormError, describe, parse
from console.web import bp, console_view, current_staff, page

CHANNELS = {"wechat": "微信小程序", "h5": "网页（扫码）"}


@bp.post("/clues/<int:clue_id>/reporter")
@console_view(Role.SCREENER, Role.ADMIN, Role.LIAISON)
def clue_reporter(clue_id: int) -> Response:
    staff = current_staff()
    clue = service.get_clue(clue_id)
    service.ensure_visible(staff, clue)
    service.ensure(service.reporter_refusal(clue, staff))
    try:
        query = parse(ReporterQuery, request.form)
    except FormError as error:
        return page(
            "reporter.html",
            error.status,
            clue=clue,
            reporter=None,
            error_lines=describe(error.errors, {"reason": "查看理由"}),
            reason=request.form.get("reason", ""),
        )
    view = service.read_reporter(clue, staff=staff, reason=query.reason)
    db.session.commit()
    return page(
        "reporter.html",
        clue=clue,
        reporter=view,
        identity=ReporterIdentity(view.identity).label,
        channel=CHANNELS.get(view.channel or "", "—"),
        reason=query.reason,
        error_lines=[],
    )
