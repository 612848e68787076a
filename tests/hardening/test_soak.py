"""Fault injection with the real servers, in CI: `bench/soak.py` for 60 s at a fixed rate.

The soak starts a PostgreSQL cluster, a Redis, the WeChat sandbox, gunicorn and two supervised
schedulers (a leader and a standby) of its own, then, under load, kills gunicorn workers and the
leading scheduler with SIGKILL,
kills and restarts Redis, restarts PostgreSQL, and makes WeChat answer errors and time out.
What a user would notice if any of it went wrong: an acknowledged rating, clue or staff action
missing from the database, a notification never delivered, or one delivered twice with no fault
to explain it, an error answered outside the JSON error shape, or a standby scheduler that takes
longer than 15 s to lead. The run must end PASS with acknowledged = found and nothing lost.
"""

from __future__ import annotations

import glob
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import service_missing
from tests.fixtures.servers import ROOT

# A run takes about two and a half minutes: 60 s of load, about 12 s for the standby scheduler
# to take over from the killed one, then the outbox drains.
SOAK_TIMEOUT = 600


def _needs_servers() -> None:
    if not (glob.glob("/usr/lib/postgresql/*/bin/initdb") or shutil.which("initdb")):
        service_missing(
            "没有 PostgreSQL 的 initdb/pg_ctl（Debian 软件包 postgresql），跳过浸泡测试"
        )
    if not shutil.which("redis-server"):
        service_missing("没有 redis-server（Debian 软件包 redis-server），跳过浸泡测试")


def _figure(pattern: str, output: str) -> tuple[int, ...]:
    found = re.search(pattern, output)
    assert found, f"浸泡测试的输出里没有 {pattern!r}：\n{output}"
    return tuple(int(group) for group in found.groups())


def test_a_minute_of_load_with_faults_loses_nothing_acknowledged():
    _needs_servers()
    run = subprocess.run(
        [
            sys.executable,
            "bench/soak.py",
            "--duration",
            "60",
            "--rate",
            "10",
            "--keep",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SOAK_TIMEOUT,
    )
    output = run.stdout + run.stderr
    logs = re.search(r"^Logs: (\S+)", run.stdout, re.MULTILINE)
    assert run.returncode == 0, output
    assert "Result: PASS" in run.stdout, output

    operations, acknowledged, found, lost = _figure(
        r"ratings \+ clue reports: (\d+) operations, acknowledged \(2xx\) (\d+), "
        r"rows found (\d+), lost (\d+)",
        run.stdout,
    )
    assert acknowledged == found and lost == 0, output
    assert acknowledged >= operations * 0.95, output  # the faults did not stop the service
    expected, sent = _figure(r"expected \(outbox rows\) (\d+): sent (\d+)", run.stdout)
    assert expected > 0 and sent == expected, output
    (unexplained,) = _figure(r"(\d+) unexplained", run.stdout)
    assert unexplained == 0, output
    (lost_notifications,) = _figure(r"\n  lost (\d+) \(marked sent", run.stdout)
    assert lost_notifications == 0, output
    takeover = re.search(r"takeover after kill -9 of the leader: ([\d.]+) s", run.stdout)
    assert takeover and float(takeover.group(1)) <= 15, output
    (unshaped,) = _figure(r"error answers outside the JSON error shape: (\d+)", run.stdout)
    assert unshaped == 0, output
    # Every fault of the schedule was injected, and the service answered again after each.
    for fault in ("gunicorn", "redis", "postgres", "scheduler", "wechat"):
        assert re.search(rf"(?im)^\s*t\+\s*[\d.]+\s.*{fault}", run.stdout), (fault, output)
    if logs:  # kept only to be shown when something above failed
        shutil.rmtree(Path(logs.group(1)), ignore_errors=True)
