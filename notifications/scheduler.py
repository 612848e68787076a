"""The scheduler process: APScheduler (blocking) running the registered jobs.

Exactly one scheduler is active: it holds the database lease "scheduler" and renews it;
a second copy waits until the lease lapses (the first stopped or died) and then takes over.
The lease lasts SCHEDULER_LEASE_SECONDS (10) and is renewed, or tried by a standby, every
SCHEDULER_RENEW_SECONDS (2): a standby takes over within about 12 s of a kill -9. Each job
runs fenced: it checks the lease and its token before it starts and before every commit, so a
leader that was paused past its lease and wakes up never writes.
APScheduler 3 cannot share a job store between processes, so it never runs inside the web app.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import click
from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask, current_app
from flask.cli import with_appcontext

from app.clock import LOCAL_TZ
from app.jobs import JOBS, run_job
from app.locks import (
    LeaseLost,
    fence_in,
    holds_lease,
    lease_holder,
    release_lease,
    take_lease,
    worker_id,
)

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"

# Fixed job ids and their triggers (Asia/Shanghai); `schedule()` adds more.
SCHEDULE: dict[str, IntervalTrigger | CronTrigger] = {
    "wechat_token_refresh": IntervalTrigger(minutes=5, timezone=LOCAL_TZ),
    "outbox_dispatch": IntervalTrigger(seconds=15, timezone=LOCAL_TZ),
    "deadline_sweep": IntervalTrigger(minutes=30, timezone=LOCAL_TZ),
    "warning_letters": IntervalTrigger(minutes=30, timezone=LOCAL_TZ),
    "rerating_sweep": IntervalTrigger(hours=1, timezone=LOCAL_TZ),
    "dead_letter_digest": CronTrigger(hour=8, minute=30, timezone=LOCAL_TZ),
    "retention_sweep": CronTrigger(hour=3, minute=30, timezone=LOCAL_TZ),
}


def schedule(name: str, trigger: IntervalTrigger | CronTrigger) -> None:
    """Add the registered job `name` to the schedule: how packages above this one (stats'
    notices) put their jobs on it without this package importing them."""
    SCHEDULE[name] = trigger


JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}


def lease_timing(app: Flask) -> tuple[timedelta, timedelta]:
    """The scheduler lease's time to live and its renewal interval, from the configuration."""
    ttl = timedelta(seconds=float(app.config.get("SCHEDULER_LEASE_SECONDS", 10)))
    renew = timedelta(seconds=float(app.config.get("SCHEDULER_RENEW_SECONDS", 2)))
    if renew * 2 > ttl:
        raise click.ClickException(
            "SCHEDULER_RENEW_SECONDS 必须不超过 SCHEDULER_LEASE_SECONDS 的一半"
            "（续期失败一次也不丢租约）"
        )
    return ttl, renew


def run_fenced(app: Flask, name: str, holder: str, token: int) -> None:
    """Run the job `name` only while `holder` holds the scheduler lease under `token`."""
    with app.app_context():
        if not holds_lease(LEASE_NAME, holder, token):
            log.warning("job %s skipped: this scheduler no longer holds the lease", name)
            raise LeaseLost(LEASE_NAME)
        run_job(name, fence=lambda session: fence_in(session, LEASE_NAME, holder, token))


def build_scheduler(
    app: Flask, on_lost_lease: threading.Event, holder: str, token: int
) -> BlockingScheduler:
    """A scheduler with every scheduled job plus the lease renewal."""
    scheduler = BlockingScheduler(timezone=LOCAL_TZ, job_defaults=JOB_DEFAULTS)
    ttl, renew_every = lease_timing(app)

    def lose_lease() -> None:
        if not on_lost_lease.is_set():
            log.error("调度器租约被其他进程接管，本进程停止执行任务")
            on_lost_lease.set()
            scheduler.shutdown(wait=False)

    def run_in_app(name: str) -> None:
        try:
            run_fenced(app, name, holder, token)
        except LeaseLost:
            lose_lease()

    for name, trigger in SCHEDULE.items():
        if name not in JOBS:
            raise RuntimeError(f"scheduled job {name!r} is not registered")
        scheduler.add_job(
            run_in_app, trigger, args=[name], id=name, name=name, replace_existing=True
        )

    def renew() -> None:
        with app.app_context():
            if take_lease(LEASE_NAME, holder, ttl) != token:
                lose_lease()

    scheduler.add_job(
        renew,
        IntervalTrigger(seconds=renew_every.total_seconds()),
        id="_lease_renewal",
        name="lease renewal",
    )

    def on_error(event: JobExecutionEvent) -> None:
        log.error("任务 %s 执行失败：%s", event.job_id, event.exception)

    scheduler.add_listener(on_error, EVENT_JOB_ERROR)
    return scheduler


def run_scheduler(app: Flask, *, stop: threading.Event | None = None) -> None:
    """Wait for the lease, then run the jobs until stopped (Ctrl-C) or the lease is lost."""
    stop = stop or threading.Event()
    holder = worker_id()
    ttl, renew_every = lease_timing(app)
    announced = False
    while not stop.is_set():
        with app.app_context():
            token = take_lease(LEASE_NAME, holder, ttl)
            current = None if token is not None else lease_holder(LEASE_NAME)
        if token is None:
            if not announced:
                log.info("另一个调度器（%s）正在运行，本进程等待接管", current)
                announced = True
            stop.wait(renew_every.total_seconds())
            continue
        announced = False
        log.info("调度器已启动（%s，第 %d 任），任务：%s", holder, token, ", ".join(SCHEDULE))
        lost = threading.Event()
        scheduler = build_scheduler(app, lost, holder, token)
        threading.Thread(target=_shutdown_on, args=(stop, lost, scheduler), daemon=True).start()
        try:
            scheduler.start()  # blocks until shutdown
        except (KeyboardInterrupt, SystemExit):
            stop.set()
        finally:
            if scheduler.running:
                scheduler.shutdown(wait=False)
            if not lost.is_set():
                with app.app_context():
                    release_lease(LEASE_NAME, holder)
        if not lost.is_set():
            return


def _shutdown_on(
    stop: threading.Event, lost: threading.Event, scheduler: BlockingScheduler
) -> None:
    while not (stop.wait(1) or lost.is_set()):
        pass
    if stop.is_set() and scheduler.running:
        scheduler.shutdown(wait=False)


@click.group("scheduler", help="调度器进程（全局只运行一个）。")
def scheduler_cli() -> None:
    pass


@scheduler_cli.command("run", help="运行调度器；已有调度器运行时本进程等待，Ctrl-C 退出。")
@with_appcontext
def run_command() -> None:
    run_scheduler(current_app._get_current_object())  # type: ignore[attr-defined]
