"""The job registry: every scheduled job is a plain, idempotent function over database state,
registered here by name, run by the scheduler and once from `flask --app run jobs run <name>`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.clock import utcnow
from app.extensions import db
from app.locks import LeaseLost
from app.logs import did_something

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    func: Callable[[], Any]
    description: str


JOBS: dict[str, Job] = {}
_FENCE = "pingyi_fence"


class JobRun(db.Model):
    """Each job's last success and failure, for /metrics and the operator."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    last_success_at: Mapped[datetime | None]
    last_failure_at: Mapped[datetime | None]
    last_duration_seconds: Mapped[float] = mapped_column(sa.Float, default=0.0)


def record_run(name: str, *, ok: bool, seconds: float) -> None:
    """Note the outcome of a run in its own transaction; a database that is gone (the reason the
    job failed, often) is only logged."""
    values: dict[str, Any] = {"last_duration_seconds": seconds}
    values["last_success_at" if ok else "last_failure_at"] = utcnow()
    try:
        with db.engine.begin() as conn:
            if conn.execute(sa.update(JobRun).where(JobRun.name == name).values(**values)).rowcount:
                return
        with db.engine.begin() as conn:
            conn.execute(sa.insert(JobRun).values(name=name, **values))
    except IntegrityError:
        record_run(name, ok=ok, seconds=seconds)  # inserted meanwhile: update it
    except SQLAlchemyError as error:
        log.warning("could not record the run of job %s: %s", name, type(error).__name__)


@sa.event.listens_for(Session, "before_commit")
def _fenced_commit(session: Session) -> None:
    fence = session.info.get(_FENCE)
    if fence is not None:
        fence(session)


def job(name: str, description: str) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Register `func` as the job `name` (description in Chinese, shown by `jobs list`)."""

    def register(func: Callable[[], Any]) -> Callable[[], Any]:
        if name in JOBS and JOBS[name].func is not func:
            raise RuntimeError(f"job {name!r} registered twice")
        JOBS[name] = Job(name, func, description)
        return func

    return register


Fence = Callable[[Session], None]


def run_job(name: str, *, fence: Fence | None = None) -> Any:
    """Run one job in the current app context: commit on success, roll back on failure.

    `fence(session)` (the scheduler's lease check) runs before each commit the job makes, in
    the committing transaction; when it raises, the job's writes are rolled back.
    """
    entry = JOBS[name]
    started = time.monotonic()
    if fence is not None:
        db.session.info[_FENCE] = fence
    try:
        result = entry.func()
        db.session.commit()
    except LeaseLost:
        db.session.rollback()
        log.warning("job %s stopped: this scheduler no longer holds the lease", name)
        raise
    except Exception:
        db.session.rollback()
        log.exception("job %s failed", name)
        record_run(name, ok=False, seconds=time.monotonic() - started)
        raise
    finally:
        db.session.info.pop(_FENCE, None)
        db.session.remove()
    record_run(name, ok=True, seconds=time.monotonic() - started)
    # Routine runs that found nothing to do stay at DEBUG: a quiet minute prints nothing.
    level = logging.INFO if did_something(result) else logging.DEBUG
    log.log(level, "job %s done in %.3fs: %s", name, time.monotonic() - started, result)
    return result
