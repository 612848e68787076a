"""Leases: a named lock held in the database, renewed by its holder, taken over when it lapses.

They keep singletons (the scheduler) single across processes and machines on both engines.
A holder killed with -9 simply stops renewing; the lease lapses after its ttl.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

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


def acquire_lease(name: str, holder: str, ttl: timedelta) -> bool:
    """Take or renew the lease `name` for `holder`; False while someone else holds it.

    Runs and commits in its own connection so it never mixes with the caller's transaction.
    """
    now = utcnow()
    with db.engine.begin() as conn:
        taken = conn.execute(
            sa.update(Lease)
            .where(Lease.name == name, sa.or_(Lease.holder == holder, Lease.expires_at < now))
            .values(holder=holder, expires_at=now + ttl)
        ).rowcount
    if taken:
        return True
    try:
        with db.engine.begin() as conn:
            conn.execute(
                sa.insert(Lease).values(
                    name=name, holder=holder, expires_at=now + ttl, acquired_at=now
                )
            )
        return True
    except IntegrityError:
        return False


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
