"""QR codes: an opaque, revocable token per unit, window or officer, and daily scan counts."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import utcnow
from app.db import db, str_enum
from app.org.models import Officer, Unit


class QRStatus(enum.StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class QRCode(db.Model):
    __tablename__ = "qr_codes"
    __table_args__ = (sa.Index("ix_qr_codes_unit_status", "unit_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # ≥128 random bits, URL-safe, ≤32 characters so it also fits a WeChat `scene`.
    token: Mapped[str] = mapped_column(sa.String(32), unique=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"))
    officer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("officers.id"), index=True)
    label: Mapped[str] = mapped_column(sa.String(50), default="")  # window, e.g. 户籍窗口 2 号
    status: Mapped[QRStatus] = mapped_column(
        str_enum(QRStatus, "qr_status"), default=QRStatus.ACTIVE
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str] = mapped_column(sa.String(100), default="")
    # The code issued in this one's place when it was rotated.
    replaced_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("qr_codes.id"))

    unit: Mapped[Unit] = relationship(lazy="joined")
    officer: Mapped[Officer | None] = relationship(lazy="joined")
    replaced_by: Mapped[QRCode | None] = relationship(remote_side=[id])

    @property
    def url(self) -> str:
        """What the printed code encodes: an ordinary link that WeChat and any scanner open."""
        return f"{current_app.config['PUBLIC_BASE_URL']}/q/{self.token}"

    @property
    def serial(self) -> str:
        """The short number printed on the poster, to tell stickers apart."""
        return f"PY{self.id:06d}"

    @property
    def is_active(self) -> bool:
        return self.status is QRStatus.ACTIVE


class QRScanCount(db.Model):
    """How many times a code was scanned on a local day; nothing about who scanned."""

    __tablename__ = "qr_scan_counts"

    qr_code_id: Mapped[int] = mapped_column(sa.ForeignKey("qr_codes.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


class WxaCode(db.Model):
    """The mini-program code WeChat drew for a token, fetched once and kept."""

    __tablename__ = "qr_wxacodes"

    qr_code_id: Mapped[int] = mapped_column(sa.ForeignKey("qr_codes.id"), primary_key=True)
    token: Mapped[str] = mapped_column(sa.String(32))
    page: Mapped[str] = mapped_column(sa.String(100))
    png: Mapped[bytes] = mapped_column(sa.LargeBinary)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
