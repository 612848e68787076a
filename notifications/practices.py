"""The sweeps of the seed cities' practices: bad ratings without a clue go to their unit for
差评整改, and closed clues of confidential reporters who did not re-rate are put in the
screeners' inboxes for a return visit (回访). Both are idempotent: a rating gets one
rectification, a clue one request (the inbox dedupe key), however often they run.

The rectifications' and 约谈 follow-ups' own deadlines are swept with every other stage
(app/deadlines.py; their kinds are registered in clues/practices.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from apscheduler.triggers.interval import IntervalTrigger

from app.clock import LOCAL_TZ, utcnow
from app.extensions import db
from app.jobs import job
from app.org.models import Role
from clues.models import Clue
from clues.practices import callback_due, has_callback, open_rectifications
from notifications.inbox import notify_staff
from notifications.models import InboxItem
from notifications.scheduler import schedule
from notifications.wording import render_titled

CALLBACK_KEY = "callback:"


# How far back the job looks: enough to catch up after any outage, and a first run on a
# database with years of ratings does not send every old bad rating out, already overdue.
INTAKE_LOOKBACK = timedelta(days=30)


@job("bad_rating_intake", "差评整改：不带线索的差评交所在单位核实整改、回访，按工作日计期限")
def bad_rating_intake(now: datetime | None = None) -> dict[str, Any]:
    """Open a rectification for every recent bad rating without a clue that has none yet."""
    now = now or utcnow()
    return {"opened": open_rectifications(now, since=now - INTAKE_LOOKBACK)}


def select_callbacks_to_request() -> list[Clue]:
    """Closed clues due a return visit, without one, and not yet asked for."""
    asked = sa.exists().where(
        InboxItem.dedupe_key == sa.literal(CALLBACK_KEY) + sa.cast(Clue.id, sa.String)
    )
    return list(
        db.session.scalars(
            sa.select(Clue).where(callback_due(), ~has_callback(), ~asked).order_by(Clue.id)
        )
    )


@job("callback_requests", "回访：实名保密的反映人未回评的已办结线索，提醒审核交办人员回访")
def callback_requests(now: datetime | None = None) -> dict[str, Any]:
    """Ask the screeners above each such clue's unit for a return visit, once per clue."""
    clues = select_callbacks_to_request()
    told = 0
    for clue in clues:
        title, body = render_titled("inbox/callback_due.txt", tracking_no=clue.tracking_no)
        told += notify_staff(
            roles=(Role.SCREENER,),
            unit=clue.unit,
            kind="callback_due",
            title=title,
            body=body,
            clue_id=clue.id,
            dedupe_key=f"{CALLBACK_KEY}{clue.id}",
        )
    return {"clues": len(clues), "inbox_items": told}


schedule("bad_rating_intake", IntervalTrigger(minutes=10, timezone=LOCAL_TZ))
schedule("callback_requests", IntervalTrigger(hours=1, timezone=LOCAL_TZ))
