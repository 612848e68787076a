"""The scheduler process: APScheduler (blocking) running the registered jobs.

Exactly one scheduler is active: it holds the database lease "scheduler" and renews it;
a second copy waits until the lease lapses (the first stopped or died) and then takes over.
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
from app.locks import acquire_lease, lease_holder, release_lease, worker_id

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
LEASE_TTL = timedelta(seconds=60)
RENEW_EVERY = timedelta(seconds=15)

# Fixed job ids and their triggers (Asia/Shanghai); `schedule()` adds more.
SCHEDULE: dict[str, IntervalTrigger | CronTrigger] = {
    "wechat_token_refresh": IntervalTrigger(minutes=5, timezone=LOCAL_TZ),
    "outbox_dispatch": IntervalTrigger(seconds=15, timezone=LOCAL_TZ),
    "deadline_sweep": IntervalTrigger(minutes=30, timezone=LOCAL_TZ),
    "warning_letters": IntervalTrigger(minutes=30, timezone=LOCAL_TZ),
    "rerating_sweep": IntervalTrigger(hours=1, timezone=LOCAL_TZ),
    "dead_letter_digest": CronTrigger(hour=8, minute=30, timezone=LOCAL_TZ),
}


def schedule(name: str, trigger: IntervalTrigger | CronTrigger) -> None:
    """Add the registered job `name` to the schedule: how packages above this one (stats'
    notices) put their jobs on it without this package importing them."""
    SCHEDULE[name] = trigger


JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}


def build_scheduler(app: Flask, on_lost_lease: threading.Event, holder: str) -> BlockingScheduler:
    """A scheduler with every scheduled job plus the lease renewal."""
    scheduler = BlockingScheduler(timezone=LOCAL_TZ, job_defaults=JOB_DEFAULTS)

    def run_in_app(name: str) -> None:
        with app.app_context():
            run_job(name)

    for name, trigger in SCHEDULE.items():
        if name not in JOBS:
            raise RuntimeError(f"scheduled job {name!r} is not registered")
        scheduler.add_job(
            run_in_app, trigger, args=[name], id=name, name=name, replace_existing=True
        )

    def renew() -> None:
        with app.app_context():
            if not acquire_lease(LEASE_NAME, holder, LEASE_TTL):
                log.error("调度器租约被其他进程接管，本进程停止执行任务")
                on_lost_lease.set()
                scheduler.shutdown(wait=False)

    scheduler.add_job(
        renew,
        IntervalTrigger(seconds=RENEW_EVERY.total_seconds()),
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
    announced = False
    while not stop.is_set():
        with app.app_context():
            acquired = acquire_lease(LEASE_NAME, holder, LEASE_TTL)
            current = None if acquired else lease_holder(LEASE_NAME)
        if not acquired:
            if not announced:
                log.info("另一个调度器（%s）正在运行，本进程等待接管", current)
                announced = True
            stop.wait(RENEW_EVERY.total_seconds())
            continue
        log.info("调度器已启动（%s），任务：%s", holder, ", ".join(SCHEDULE))
        lost = threading.Event()
        scheduler = build_scheduler(app, lost, holder)
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
