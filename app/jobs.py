"""The job registry: every scheduled job is a plain, idempotent function over database state,
registered here by name, run by the scheduler and once from `flask --app run jobs run <name>`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.extensions import db
from app.logs import did_something

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    func: Callable[[], Any]
    description: str


JOBS: dict[str, Job] = {}


def job(name: str, description: str) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Register `func` as the job `name` (description in Chinese, shown by `jobs list`)."""

    def register(func: Callable[[], Any]) -> Callable[[], Any]:
        if name in JOBS and JOBS[name].func is not func:
            raise RuntimeError(f"job {name!r} registered twice")
        JOBS[name] = Job(name, func, description)
        return func

    return register


def run_job(name: str) -> Any:
    """Run one job in the current app context: commit on success, roll back on failure."""
    entry = JOBS[name]
    started = time.monotonic()
    try:
        result = entry.func()
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("job %s failed", name)
        raise
    finally:
        db.session.remove()
    # Routine runs that found nothing to do stay at DEBUG: a quiet minute prints nothing.
    level = logging.INFO if did_something(result) else logging.DEBUG
    log.log(level, "job %s done in %.3fs: %s", name, time.monotonic() - started, result)
    return result
