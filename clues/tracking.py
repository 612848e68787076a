"""The reporter's private tracking link and 查询码: how a resident outside WeChat (no login, any
device) follows a clue, re-rates it and appeals.

Each clue gets, when filed, a random secret (192 bits, never derived from the tracking number
or anything else guessable) that makes the link `/t/{secret}`, and a short 查询码 typed
together with the tracking number on the look-up page. The link works while the case is open
and for TRACKING_LINK_RETENTION_DAYS after it ended (closed, rejected), then answers 410.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import utcnow
from app.db import BigId, db
from app.errors import Gone, NotFound
from clues.models import Clue
from clues.states import OPEN_STATUSES, ClueStatus

# 查询码: no 0/O, 1/I/L, so it survives being read aloud or copied by hand.
ACCESS_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
ACCESS_CODE_LENGTH = 8
SECRET_BYTES = 24  # 192 bits, 32 URL-safe characters


class ClueTracking(db.Model):
    """The reporter's capability to follow one clue: the link's secret and the 查询码."""

    __tablename__ = "clue_tracking"

    clue_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("clues.id"), primary_key=True)
    secret: Mapped[str] = mapped_column(sa.String(64), unique=True)
    access_code: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    clue: Mapped[Clue] = relationship()


def new_secret() -> str:
    """A fresh link secret from the system's CSPRNG."""
    return secrets.token_urlsafe(SECRET_BYTES)


def new_access_code() -> str:
    """A fresh 查询码 of ACCESS_CODE_LENGTH characters (about 40 bits)."""
    return "".join(secrets.choice(ACCESS_CODE_ALPHABET) for _ in range(ACCESS_CODE_LENGTH))


def issue_tracking(clue: Clue) -> ClueTracking:
    """Give a newly filed clue its link secret and 查询码 (flushes)."""
    tracking = ClueTracking(clue_id=clue.id, secret=new_secret(), access_code=new_access_code())
    db.session.add(tracking)
    db.session.flush()
    return tracking


def tracking_of(clue: Clue) -> ClueTracking | None:
    return db.session.get(ClueTracking, clue.id)


def tracking_url(clue: Clue) -> str | None:
    """The absolute private link of `clue` (PUBLIC_BASE_URL/t/{secret}); None if it has none."""
    tracking = tracking_of(clue)
    if tracking is None:
        return None
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/t/{tracking.secret}"


def format_access_code(code: str) -> str:
    """The 查询码 as shown: two groups of four (ABCD 2345)."""
    return f"{code[:4]} {code[4:]}"


def normalize_access_code(typed: str) -> str:
    """What a resident typed, as stored: spaces and dashes dropped, upper case."""
    return "".join(ch for ch in typed.upper() if ch.isalnum())


# ---------------------------------------------------------------- how long a link works


def ended_at(clue: Clue) -> datetime | None:
    """When the case the reporter follows ended (None while it is still open)."""
    followed = clue.master if clue.status is ClueStatus.MERGED and clue.master else clue
    if followed.status in OPEN_STATUSES:
        return None
    if followed.status is ClueStatus.REJECTED:
        return followed.rejected_at
    return followed.closed_at or followed.withdrawn_at or followed.updated_at


def link_expires_at(clue: Clue) -> datetime | None:
    """When the link stops working (None while the case is open)."""
    end = ended_at(clue)
    if end is None:
        return None
    return end + timedelta(days=current_app.config["TRACKING_LINK_RETENTION_DAYS"])


def _usable(tracking: ClueTracking | None, *, now: datetime | None = None) -> Clue:
    if tracking is None:
        raise NotFound("没有找到这条线索，请核对链接或查询码")
    expires = link_expires_at(tracking.clue)
    if expires is not None and (now or utcnow()) > expires:
        raise Gone("这条线索已办结很久，查询链接已失效")
    return tracking.clue


def clue_by_secret(secret: str) -> Clue:
    """The clue a tracking link opens; NotFound for an unknown secret, Gone once expired."""
    if not secret or len(secret) > 64:
        return _usable(None)
    tracking = db.session.scalar(sa.select(ClueTracking).where(ClueTracking.secret == secret))
    return _usable(tracking)


def tracking_by_code(tracking_no: str, access_code: str) -> ClueTracking:
    """The tracking of a clue by its number and 查询码; one answer for every miss, so the
    page says nothing about which numbers exist."""
    code = normalize_access_code(access_code)
    tracking = db.session.scalar(
        sa.select(ClueTracking)
        .join(Clue, Clue.id == ClueTracking.clue_id)
        .where(Clue.tracking_no == tracking_no.strip().upper()[:20])
    )
    expected = tracking.access_code if tracking is not None else "-" * ACCESS_CODE_LENGTH
    if not hmac.compare_digest(expected.encode(), code.encode()) or tracking is None:
        raise NotFound("查询编号或查询码不正确，请核对后重新输入")
    _usable(tracking)
    return tracking
