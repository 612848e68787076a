"""QR code services: issue, revoke, rotate, resolve a scanned token, count scans."""

from __future__ import annotations

import secrets
from datetime import date

import sqlalchemy as sa

from app.audit import record_audit
from app.clock import local_date, utcnow
from app.db import upsert_insert
from app.errors import Conflict, Gone, Invalid, NotFound
from app.extensions import db
from app.org.models import Officer, Unit, subtree_filter
from qr.models import QRCode, QRScanCount, QRStatus, WxaCode
from qr.render import PosterInfo

TOKEN_BYTES = 18  # 144 bits → 24 URL-safe characters
MINI_PROGRAM_PAGE = "pages/rate/index"


def new_token() -> str:
    """An opaque random token: 144 bits, 24 URL-safe characters (fits a WeChat scene)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def get_code(code_id: int) -> QRCode:
    code = db.session.get(QRCode, code_id)
    if code is None:
        raise NotFound("二维码不存在", details={"id": code_id})
    return code


def _audit(action: str, code: QRCode, **details: object) -> None:
    record_audit(
        action,
        object_type="qr_code",
        object_id=code.id,
        unit_id=code.unit_id,
        details={"officer_id": code.officer_id, "label": code.label, **details},
    )


def issue_code(*, unit: Unit, officer: Officer | None = None, label: str = "") -> QRCode:
    """Issue a code for a unit, one of its windows (label) or one of its officers."""
    if not unit.is_active:
        raise Conflict("单位已停用，不能签发二维码", code="unit_inactive")
    if officer is not None:
        if officer.unit_id != unit.id:
            raise Invalid({"officer_id": "该人员不属于此单位"}, "该人员不属于此单位")
        if not officer.is_active:
            raise Conflict("该人员已停用，不能签发二维码", code="officer_inactive")
    duplicate = db.session.scalar(
        sa.select(QRCode.id).where(
            QRCode.unit_id == unit.id,
            QRCode.status == QRStatus.ACTIVE,
            QRCode.label == label,
            QRCode.officer_id.is_(None) if officer is None else QRCode.officer_id == officer.id,
        )
    )
    if duplicate is not None:
        raise Conflict(
            "该单位的这个窗口或人员已有有效二维码，需要新码请轮换",
            code="duplicate",
            details={"existing_id": duplicate},
        )
    code = QRCode(token=new_token(), unit=unit, officer=officer, label=label)
    db.session.add(code)
    db.session.flush()
    _audit("qr.issue", code)
    return code


def revoke_code(code: QRCode, *, reason: str) -> QRCode:
    """Revoke a code: scanning it answers 410 and points to the unit's current code."""
    if not code.is_active:
        raise Conflict("该二维码已停用", code="already_revoked")
    code.status = QRStatus.REVOKED
    code.revoked_at = utcnow()
    code.revoked_reason = reason
    db.session.flush()
    _audit("qr.revoke", code, reason=reason)
    return code


def rotate_code(code: QRCode, *, reason: str = "轮换") -> QRCode:
    """Revoke `code` and issue its replacement (same unit, officer, label) in one step."""
    revoke_code(code, reason=reason)
    replacement = QRCode(
        token=new_token(), unit_id=code.unit_id, officer_id=code.officer_id, label=code.label
    )
    db.session.add(replacement)
    db.session.flush()
    code.replaced_by_id = replacement.id
    _audit("qr.rotate", replacement, replaces=code.id)
    return replacement


def rotate_unit_codes(unit: Unit) -> list[QRCode]:
    """Rotate every active code of the unit (its own codes, not its subtree's)."""
    codes = db.session.scalars(
        sa.select(QRCode)
        .where(QRCode.unit_id == unit.id, QRCode.status == QRStatus.ACTIVE)
        .order_by(QRCode.id)
    ).all()
    return [rotate_code(code) for code in codes]


def current_code_for(code: QRCode) -> QRCode | None:
    """The code that now stands where `code` stood: its replacement, else the unit's own."""
    seen: set[int] = set()
    candidate = code
    while candidate.replaced_by_id is not None and candidate.id not in seen:
        seen.add(candidate.id)
        candidate = candidate.replaced_by
        if candidate.is_active:
            return candidate
    return db.session.scalars(
        sa.select(QRCode)
        .where(QRCode.unit_id == code.unit_id, QRCode.status == QRStatus.ACTIVE)
        .order_by(QRCode.officer_id.is_not(None), QRCode.label != "", QRCode.id)
    ).first()


def resolve_token(token: str) -> QRCode:
    """The active code for a scanned token: 404 unknown, 410 revoked (with the current code)."""
    code = db.session.scalar(sa.select(QRCode).where(QRCode.token == token))
    if code is None:
        raise NotFound("二维码无效，请核对后重新扫描", code="qr_not_found")
    if not code.is_active:
        current = current_code_for(code)
        raise Gone(
            "该二维码已停用，请扫描窗口张贴的新二维码",
            code="qr_revoked",
            details={"current": {"token": current.token, "url": current.url} if current else None},
        )
    return code


def count_scan(code: QRCode, day: date | None = None) -> None:
    """Add one to the code's scan count for the local day (no record of who scanned)."""
    values = {"qr_code_id": code.id, "day": day or local_date(), "count": 1}
    statement = upsert_insert(QRScanCount).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["qr_code_id", "day"],
        set_={"count": QRScanCount.count + 1},
    )
    db.session.execute(statement)


def scan_counts(code: QRCode, *, since: date, until: date) -> list[QRScanCount]:
    return list(
        db.session.scalars(
            sa.select(QRScanCount)
            .where(QRScanCount.qr_code_id == code.id, QRScanCount.day.between(since, until))
            .order_by(QRScanCount.day)
        )
    )


def location_line(code: QRCode) -> str:
    """The window or officer the code stands for, as printed on the poster."""
    if code.officer is not None:
        officer = code.officer
        line = f"{officer.position} {officer.name} 编号 {officer.staff_no}".strip()
        return f"{code.label} · {line}" if code.label else line
    return code.label


def poster_info(code: QRCode) -> PosterInfo:
    return PosterInfo(
        url=code.url, unit_name=code.unit.name, location=location_line(code), serial=code.serial
    )


def subtree_codes(unit: Unit) -> list[QRCode]:
    """Every active code of `unit` and its descendants, in tree order."""
    return list(
        db.session.scalars(
            sa.select(QRCode)
            .join(Unit, QRCode.unit_id == Unit.id)
            .where(subtree_filter(unit.path), QRCode.status == QRStatus.ACTIVE)
            .order_by(Unit.path, QRCode.id)
        )
    )


def subtree_poster_infos(unit: Unit) -> list[PosterInfo]:
    return [poster_info(code) for code in subtree_codes(unit)]


def revoke_codes_of(
    *, unit_id: int | None = None, officer_id: int | None = None, reason: str
) -> int:
    """Revoke the active codes of a unit or an officer taken out of service."""
    stmt = sa.select(QRCode).where(QRCode.status == QRStatus.ACTIVE)
    stmt = (
        stmt.where(QRCode.unit_id == unit_id)
        if unit_id is not None
        else stmt.where(QRCode.officer_id == officer_id)
    )
    codes = db.session.scalars(stmt).all()
    for code in codes:
        revoke_code(code, reason=reason)
    return len(codes)


def wxacode_png(code: QRCode) -> bytes:
    """The mini-program code for the token: fetched from WeChat once, then served from storage."""
    from app.wechat import wechat_client

    stored = db.session.get(WxaCode, code.id)
    if stored is not None and stored.token == code.token:
        return stored.png
    png = wechat_client().get_unlimited_wxacode(scene=code.token, page=MINI_PROGRAM_PAGE)
    if stored is None:
        db.session.add(
            WxaCode(qr_code_id=code.id, token=code.token, page=MINI_PROGRAM_PAGE, png=png)
        )
    else:
        stored.token, stored.png, stored.fetched_at = code.token, png, utcnow()
    db.session.flush()
    return png
