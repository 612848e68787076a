"""Logs an operator reads: a quiet scheduler prints nothing, a job that did something one line,
and production can ask for one JSON object per line."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time

from apscheduler.triggers.interval import IntervalTrigger

from app.jobs import JOBS, job, run_job
from app.logs import JsonFormatter
from notifications import scheduler


def _loud_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]


def test_a_quiet_scheduler_prints_only_that_it_started(app, caplog, monkeypatch):
    monkeypatch.setitem(app.config, "SCHEDULER_RENEW_SECONDS", 0.1)
    monkeypatch.setattr(scheduler, "SCHEDULE", {"outbox_dispatch": IntervalTrigger(seconds=0.1)})
    caplog.set_level(logging.DEBUG)
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run_scheduler, args=(app,), kwargs={"stop": stop})
    thread.start()
    try:
        time.sleep(1.5)  # a dozen renewals and dispatches with nothing to send
    finally:
        stop.set()
        thread.join(timeout=10)
    routine = [r for r in caplog.records if "outbox_dispatch done" in r.getMessage()]
    assert routine and all(r.levelno == logging.DEBUG for r in routine)
    loud = _loud_lines(caplog)
    assert len(loud) == 1 and loud[0].startswith("调度器已启动"), loud


def test_a_job_that_did_something_says_so_once(app, caplog):
    results = iter([{"sent": 0, "dead": 0}, {"sent": 2, "dead": 0}])
    job("_test_counts", "测试")(lambda: next(results))
    try:
        caplog.set_level(logging.DEBUG)
        with app.app_context():
            run_job("_test_counts")
            assert _loud_lines(caplog) == []
            run_job("_test_counts")
        assert len(_loud_lines(caplog)) == 1
        assert "'sent': 2" in _loud_lines(caplog)[0]
    finally:
        JOBS.pop("_test_counts")


def test_json_lines_for_a_log_collector():
    try:
        raise ValueError("坏了")
    except ValueError:
        record = logging.LogRecord(
            "notifications.dispatcher", logging.ERROR, __file__, 1, "发送失败 %s", (3,), None
        )
        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "notifications.dispatcher"
    assert entry["message"] == "发送失败 3"
    assert "ValueError: 坏了" in entry["exception"]
    assert entry["time"].endswith("+00:00")
