"""Leases: a named lock held in the database, renewed by its holder, taken over when it lapses.

They keep singletons (the scheduler) single across processes and machines on both engines.
A holder killed with -9 simply stops renewing; the lease lapses after its ttl.

Fencing: every change of holder increments the lease's `token`. A holder that was paused (stopped
process, long GC, frozen VM) may wake up believing it still leads; work done under a lease checks
holder and token in the same transaction as its writes (`fence_in`), so such a holder's writes
are refused instead of racing the new holder's.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.clock import utcnow
from app.db import db


def worker_id() -> str:
    """A name for this process's run, unique across processes and machines."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease(db.Model):
    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(128))
    expires_at: Mapped[datetime]
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The fencing token: one more at every change of holder.
    token: Mapped[int] = mapped_column(default=1, server_default="1")


class LeaseLost(Exception):
    """This process no longer holds the lease it was working under."""


def take_lease(name: str, holder: str, ttl: timedelta) -> int | None:
    """Take or renew the lease `name` for `holder`: its fencing token, None while someone else
    holds it. Runs and commits in its own connection, apart from the caller's transaction."""
    now = utcnow()
    with db.engine.begin() as conn:
        taken = conn.execute(
            sa.update(Lease)
            .where(Lease.name == name, sa.or_(Lease.holder == holder, Lease.expires_at < now))
            .values(
                token=sa.case((Lease.holder == holder, Lease.token), else_=Lease.token + 1),
                acquired_at=sa.case((Lease.holder == holder, Lease.acquired_at), else_=now),
                holder=holder,
                expires_at=now + ttl,
            )
        ).rowcount
        if taken:
            return conn.scalar(sa.select(Lease.token).where(Lease.name == name))
    try:
        with db.engine.begin() as conn:
            conn.execute(
                sa.insert(Lease).values(
                    name=name, holder=holder, expires_at=now + ttl, acquired_at=now, token=1
                )
            )
        return 1
    except IntegrityError:
        return None


def acquire_lease(name: str, holder: str, ttl: timedelta) -> bool:
    """Take or renew the lease `name` for `holder`; False while someone else holds it."""
    return take_lease(name, holder, ttl) is not None


def holds_lease(name: str, holder: str, token: int) -> bool:
    """Whether `holder` still holds the live lease `name` under fencing token `token`."""
    with db.engine.connect() as conn:
        return conn.scalar(_held(name, holder, token)) is not None


def fence_in(session: Session, name: str, holder: str, token: int) -> None:
    """Refuse (LeaseLost) unless `holder` still holds the lease under `token`, checked inside
    `session`'s transaction. On PostgreSQL the lease row stays locked until that transaction
    ends, so no one takes the lease over between this check and the commit."""
    if session.scalar(_held(name, holder, token).with_for_update()) is None:
        raise LeaseLost(name)


def _held(name: str, holder: str, token: int) -> sa.Select:
    return sa.select(Lease.name).where(
        Lease.name == name,
        Lease.holder == holder,
        Lease.token == token,
        Lease.expires_at > utcnow(),
    )


def release_lease(name: str, holder: str) -> None:
    """Give the lease up at once so a waiting process can take it."""
    with db.engine.begin() as conn:
        conn.execute(
            sa.update(Lease)
            .where(Lease.name == name, Lease.holder == holder)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )


def lease_holder(name: str) -> str | None:
    """Who holds the lease now (None when free or lapsed)."""
    with db.engine.connect() as conn:
        row = conn.execute(
            sa.select(Lease.holder, Lease.expires_at).where(Lease.name == name)
        ).first()
    if row is None:
        return None
    return row.holder if row.expires_at > utcnow() else None
