"""Password guesses, counted per staff account and client network.

Too many wrong passwords (at sign-in or when changing one's own password) refuse that account
from that network for a while. The account itself is never locked: a stranger who knows a
username cannot shut its owner out, and the owner signing in from their own network is not
slowed by guesses made elsewhere. A network is an IPv4 address or an IPv6 /64
(`app.ratelimit.client_network`). The counters live in the database, so every worker sees the
same count and they follow the application clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column

from app.db import db
from app.org.models import StaffAccount


class PasswordFailures(db.Model):
    """Wrong passwords for one account from one network since its last success or lock."""

    __tablename__ = "password_failures"
    __table_args__ = (sa.UniqueConstraint("staff_id", "network"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        sa.ForeignKey("staff_accounts.id", ondelete="CASCADE"), index=True
    )
    network: Mapped[str] = mapped_column(sa.String(64))
    failures: Mapped[int] = mapped_column(default=0)
    last_failed_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]


def _row(account: StaffAccount, network: str) -> PasswordFailures | None:
    return db.session.scalar(
        sa.select(PasswordFailures).where(
            PasswordFailures.staff_id == account.id, PasswordFailures.network == network[:64]
        )
    )


def is_refused(account: StaffAccount, *, network: str, now: datetime) -> bool:
    """Whether `network` has guessed this account's password too often to be heard now."""
    row = _row(account, network)
    return row is not None and row.locked_until is not None and row.locked_until > now


def count_failure(account: StaffAccount, *, network: str, now: datetime) -> PasswordFailures:
    """One more wrong password from `network`; at the limit the network is refused for
    LOGIN_LOCK_MINUTES (its `locked_until`) and counting starts again."""
    row = _row(account, network)
    if row is None:
        row = PasswordFailures(staff_id=account.id, network=network[:64], failures=0)
        db.session.add(row)
    row.failures += 1
    row.last_failed_at = now
    if row.failures >= current_app.config["LOGIN_MAX_FAILURES"]:
        row.failures = 0
        row.locked_until = now + timedelta(minutes=current_app.config["LOGIN_LOCK_MINUTES"])
    db.session.flush()
    return row


def forget(account: StaffAccount, *, network: str) -> None:
    """The right password from `network`: its count starts again."""
    db.session.execute(
        sa.delete(PasswordFailures).where(
            PasswordFailures.staff_id == account.id, PasswordFailures.network == network[:64]
        )
    )


def forget_all(account: StaffAccount) -> None:
    """A new password: every network's count and refusal for this account ends."""
    db.session.execute(sa.delete(PasswordFailures).where(PasswordFailures.staff_id == account.id))
