"""Retention of residents' personal data: what is erased, and when (job "retention_sweep").

| what                               | erased                                                     |
| ---------------------------------- | ---------------------------------------------------------- |
| reporter's phone, tracking link    | RETENTION_REPORTER_DAYS after the case ended (its last     |
| and 查询码                          | stage closed, appeal and re-rating windows over)           |
| photos of a clue                   | RETENTION_PHOTO_DAYS after the case ended; a referred case |
|                                    | only after the referral was concluded                      |
| H5 device identity (keyed hash)    | RETENTION_DEVICE_DAYS after the device was last seen,      |
|                                    | unless its resident follows a case still open              |
| network hash of a rating           | RETENTION_ADDRESS_DAYS after the rating                    |

Erasure keeps every row and number that statistics, rankings and the ledger count (the clue,
its trail, the rating, the resident's id, the photo's size and SHA-256 in the sealed dossier)
and removes only the personal value. Each erasure is audited (what kind, which object, which
rule) without the value erased. The sweep is idempotent: what is erased is not found again.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from app.audit import record_audit
from app.clock import utcnow
from app.extensions import db
from app.jobs import job
from clues.models import Clue, CluePhoto, ClueReporter, ClueStage, Referral
from clues.states import OPEN_STATUSES
from clues.tracking import ClueTracking, ended_at
from evaluations.identity import Channel, Resident
from evaluations.models import Evaluation

ERASED_IDENTITY_PREFIX = "erased:"  # never a hex HMAC, so never any device's hash
BATCH = 500


@dataclass(frozen=True)
class Periods:
    reporter: timedelta
    photo: timedelta
    device: timedelta
    address: timedelta
    appeal: timedelta


def periods() -> Periods:
    """The retention periods in force (days in the configuration)."""
    config = current_app.config

    def days(name: str) -> timedelta:
        return timedelta(days=int(config[name]))

    return Periods(
        reporter=days("RETENTION_REPORTER_DAYS"),
        photo=days("RETENTION_PHOTO_DAYS"),
        device=days("RETENTION_DEVICE_DAYS"),
        address=days("RETENTION_ADDRESS_DAYS"),
        appeal=days("CLUE_APPEAL_WINDOW_DAYS"),
    )


def case_over_at(clue: Clue, last_stage_end: datetime | None, appeal: timedelta) -> datetime | None:
    """When nothing more can happen to the case: it ended (see `tracking.ended_at`), its
    appeal window and re-rating window are over; None while it is open."""
    end = ended_at(clue)
    if end is None:
        return None
    moments = [end + appeal, clue.rerating_due_at, last_stage_end]
    return max(moment for moment in moments if moment is not None)


def _stage_ends(clue_ids: Sequence[int]) -> tuple[set[int], dict[int, datetime]]:
    """Clues with a stage still open, and each clue's last finished stage."""
    rows = db.session.execute(
        sa.select(
            ClueStage.clue_id,
            sa.func.count().filter(ClueStage.finished_at.is_(None)),
            sa.func.max(ClueStage.finished_at),
        )
        .where(ClueStage.clue_id.in_(clue_ids))
        .group_by(ClueStage.clue_id)
    ).all()
    return {row[0] for row in rows if row[1]}, {row[0]: row[2] for row in rows if row[2]}


def _ended_before(moment: datetime) -> sa.Select:
    """Ids of clues not open whose last status stamp is before `moment`: a coarse bound that
    every clue due at `moment` meets (`case_over_at` decides)."""
    last_stamp = sa.func.coalesce(
        Clue.closed_at, Clue.rejected_at, Clue.withdrawn_at, Clue.merged_at, Clue.updated_at
    )
    return (
        sa.select(Clue.id)
        .where(Clue.status.not_in(OPEN_STATUSES), last_stamp <= moment)
        .order_by(Clue.id)
    )


def _due_clues(
    candidates: sa.Select, period: timedelta, now: datetime
) -> Iterable[tuple[Clue, datetime]]:
    """The clues among `candidates` (a select of ids) whose case was over `period` ago."""
    ids = list(db.session.scalars(candidates.limit(BATCH * 10)))
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        open_stage, last_end = _stage_ends(chunk)
        clues = db.session.scalars(sa.select(Clue).where(Clue.id.in_(chunk)).order_by(Clue.id))
        for clue in clues:
            if clue.id in open_stage:
                continue
            over = case_over_at(clue, last_end.get(clue.id), periods().appeal)
            if over is not None and over + period <= now:
                yield clue, over + period


def _audit(
    items: list[str],
    *,
    object_type: str,
    object_id: object,
    unit_id: int | None,
    rule: str,
    due_at: datetime | None = None,
    count: int | None = None,
) -> None:
    details: dict[str, object] = {"items": items, "rule": rule}
    if due_at is not None:
        details["due_at"] = due_at.isoformat(timespec="seconds")
    if count is not None:
        details["count"] = count
    record_audit(
        "retention.erase",
        object_type=object_type,
        object_id=object_id,
        unit_id=unit_id,
        details=details,
    )


def erase_reporter_data(now: datetime) -> tuple[int, int]:
    """Reporters' phones and tracking links whose period is over: (phones, links) erased."""
    period = periods().reporter
    with_phone = sa.select(ClueReporter.clue_id).where(ClueReporter.phone_encrypted.is_not(None))
    with_link = sa.select(ClueTracking.clue_id)
    candidates = _ended_before(now - period).where(
        sa.or_(Clue.id.in_(with_phone), Clue.id.in_(with_link))
    )
    phones = links = 0
    for clue, due in _due_clues(candidates, period, now):
        items = []
        reporter = db.session.get(ClueReporter, clue.id)
        if reporter is not None and reporter.phone_encrypted is not None:
            reporter.phone_encrypted = None
            reporter.sms_consent = False
            items.append("reporter_phone")
            phones += 1
        tracking = db.session.get(ClueTracking, clue.id)
        if tracking is not None:
            db.session.delete(tracking)
            items.append("tracking_link")
            links += 1
        _audit(
            items,
            object_type="clue",
            object_id=clue.id,
            unit_id=clue.unit_id,
            rule=f"RETENTION_REPORTER_DAYS={period.days}",
            due_at=due,
        )
    return phones, links


def erase_photos(now: datetime) -> int:
    """Photos of cases over RETENTION_PHOTO_DAYS ago (a referred case: after its conclusion)."""
    period = periods().photo
    candidates = _ended_before(now - period).where(
        Clue.id.in_(sa.select(CluePhoto.clue_id).where(sa.func.length(CluePhoto.content) > 0))
    )
    erased = 0
    for clue, due in _due_clues(candidates, period, now):
        referral = db.session.scalar(sa.select(Referral).where(Referral.clue_id == clue.id))
        if referral is not None:
            if referral.concluded_at is None or referral.concluded_at + period > now:
                continue
            due = max(due, referral.concluded_at + period)
        photos = db.session.scalars(
            sa.select(CluePhoto).where(
                CluePhoto.clue_id == clue.id, sa.func.length(CluePhoto.content) > 0
            )
        ).all()
        for photo in photos:
            photo.content = b""
        erased += len(photos)
        _audit(
            [f"photo:{photo.id}" for photo in photos],
            object_type="clue",
            object_id=clue.id,
            unit_id=clue.unit_id,
            rule=f"RETENTION_PHOTO_DAYS={period.days}",
            due_at=due,
        )
    return erased


def erase_device_identities(now: datetime) -> int:
    """H5 device identities not seen for RETENTION_DEVICE_DAYS whose resident follows no open
    case: the keyed hash becomes a random marker, the resident row (and its ratings) stays."""
    period = periods().device
    following = (
        sa.select(ClueReporter.resident_id)
        .join(Clue, Clue.id == ClueReporter.clue_id)
        .where(Clue.status.in_(OPEN_STATUSES), ClueReporter.resident_id.is_not(None))
    )
    residents = db.session.scalars(
        sa.select(Resident)
        .where(
            Resident.channel == Channel.H5,
            Resident.last_seen_at <= now - period,
            ~Resident.identity_hash.startswith(ERASED_IDENTITY_PREFIX),
            Resident.id.not_in(following.scalar_subquery()),
        )
        .order_by(Resident.id)
        .limit(BATCH * 10)
    ).all()
    for resident in residents:
        resident.identity_hash = ERASED_IDENTITY_PREFIX + secrets.token_hex(16)
        _audit(
            ["h5_device_identity"],
            object_type="resident",
            object_id=resident.id,
            unit_id=None,
            rule=f"RETENTION_DEVICE_DAYS={period.days}",
            due_at=resident.last_seen_at + period,
        )
    return len(residents)


def erase_address_hashes(now: datetime) -> int:
    """Network hashes of ratings older than RETENTION_ADDRESS_DAYS, one audit row a run."""
    period = periods().address
    before = now - period
    erased = db.session.execute(
        sa.update(Evaluation)
        .where(Evaluation.client_hash != "", Evaluation.created_at <= before)
        .values(client_hash="")
        .execution_options(synchronize_session=False)
    ).rowcount
    if erased:
        _audit(
            ["rating_network_hash"],
            object_type="evaluations",
            object_id=f"created<={before.isoformat(timespec='seconds')}",
            unit_id=None,
            rule=f"RETENTION_ADDRESS_DAYS={period.days}",
            count=erased,
        )
    return erased


@job("retention_sweep", "个人信息到期删除：反映人电话、查询链接、照片、H5 设备标识、评价的网络哈希")
def retention_sweep(now: datetime | None = None) -> dict[str, int]:
    """Erase every personal value whose retention period is over; counts by kind."""
    now = now or utcnow()
    phones, links = erase_reporter_data(now)
    result = {
        "reporter_phones": phones,
        "tracking_links": links,
        "photos": erase_photos(now),
        "device_identities": erase_device_identities(now),
        "address_hashes": erase_address_hashes(now),
    }
    db.session.flush()
    return result
