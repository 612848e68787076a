"""Soak: the whole product under a fixed load, with faults injected on a schedule.

Every server is real and private to the run, so nothing here disturbs anyone else's work:
PostgreSQL (initdb in a temporary folder, its own port), redis-server (its own port), the WeChat
sandbox, gunicorn (gthread workers) serving the app, and the scheduler under a small supervisor
that starts it again a second after it dies (as systemd's Restart=always would).

Load: residents submit ratings at a fixed rate (open loop: request i is issued at i/rate seconds
whatever the answers); every --clue-every-th is a bad rating carrying a clue, from a WeChat
resident who allowed subscribe messages. A staff actor screens the clues (accepts two in three,
rejects the rest) and walks half of the accepted ones to closed (assign, start, report, approve),
so residents are owed WeChat messages. Clients retry with the same Idempotency-Key on connection
errors, 5xx and 409 "in flight", as the mini-program does; staff retry their actions and, when a
retry meets 409, check whether the earlier attempt took effect.

Faults, at fractions of --duration: kill -9 a gunicorn worker (twice); a burst of WeChat errors
(-1 busy, 45009 rate limit, 40001 token expired); Redis killed -9, restarted later; a window of
WeChat timeouts (the sandbox hangs past our read timeout, then does the work anyway); PostgreSQL
restarted; kill -9 of the leading scheduler while it is sending: a standby scheduler (a second
supervised copy) takes the lease over, and the killed one comes back as the new standby.

At the end, after the dispatcher drained the outbox: requests sent, acknowledged, rows found,
lost; notifications expected (outbox rows), sent (the sandbox's record of delivered messages),
duplicated (WeChat has no idempotency key: a send whose result was never recorded — process
killed, database gone, answer timed out — goes again) with the fault that explains each
duplicate, dead-lettered; the fault timeline with the time to the next successful request.
Exit status 1 unless acknowledged == found, nothing is lost, the outbox drained and every
duplicate is explained by a fault.

Run: scripts/bench soak [--duration 60] [--rate 20] [--workers 4] [--pg-stop-mode immediate]
                        [--keep]
Needs PostgreSQL's server binaries (initdb, pg_ctl) and redis-server. Run as root, the private
PostgreSQL runs as the `postgres` user (it refuses root); otherwise as the current user.
"""

from __future__ import annotations

import argparse
import glob
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa
from common import BENCH_SECRET, ROOT, gunicorn

from tests.fixtures.servers import free_port, stop_process

SANDBOX_APPID = "wxsandbox"
SANDBOX_SECRET = "sandbox-secret"
SEND_API = "/cgi-bin/message/subscribe/send"
STAFF_PASSWORD = "Soak2026pass"
KINDS = ("clue_accepted", "clue_result", "rerating_invite")
RETRY_STATUSES = {500, 502, 503, 504}
# What an acknowledged staff action owes the reporter (notifications/triggers.py).
OWED = {
    "accept": ("clue_accepted",),
    "reject": ("clue_result",),
    "approve": ("clue_result", "rerating_invite"),
}
CLIENT_TIMEOUT = (3.05, 15.0)
# A standby scheduler leads again this soon after the leader's kill -9 (default lease 10 s,
# renewed or tried every 2 s).
TAKEOVER_TARGET_SECONDS = 15.0

# The settings the servers run with (printed with the results). Shorter than production's
# outbox lease and backoff so the run drains in minutes; the scheduler's own lease (10 s, renewed
# every 2 s) and the dispatch interval (15 s) are the product's defaults.
WECHAT_CONNECT_TIMEOUT = 1.0
WECHAT_READ_TIMEOUT = 3.0
OUTBOX_LEASE_SECONDS = 60
SERVER_SETTINGS = {
    "WECHAT_CONNECT_TIMEOUT": str(WECHAT_CONNECT_TIMEOUT),
    "WECHAT_READ_TIMEOUT": str(WECHAT_READ_TIMEOUT),
    "OUTBOX_LEASE_SECONDS": str(OUTBOX_LEASE_SECONDS),
    "OUTBOX_BACKOFF_BASE_SECONDS": "2",
    "OUTBOX_BACKOFF_CAP_SECONDS": "20",
    # Every request comes from 127.0.0.1: the per-address limits would stop the load itself.
    # The limits stay on (every request still counts in Redis), only higher.
    "RATE_LIMIT_ADDRESS": "100000000/hour",
    "RATE_LIMIT_SIGN_IN": "100000000/hour",
    # Every attempt counts against a resident's limit, retries after a 5xx too: during a
    # database restart a resident's ten ratings retried a few times each would pass 20/hour.
    "RATE_LIMIT_RESIDENT": "100000/hour",
}


def now() -> float:
    return time.time()


def wait_for(check: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except Exception:  # noqa: BLE001 - the thing we wait for is still coming up
            pass
        time.sleep(interval)
    return False


# ---------------------------------------------------------------- private servers


def _pg_bindir() -> Path:
    configured = os.environ.get("SOAK_PG_BINDIR")
    if configured:
        return Path(configured)
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise SystemExit(
        "找不到 PostgreSQL 的 initdb/pg_ctl（Debian: postgresql-15），或设置 SOAK_PG_BINDIR"
    )


class PrivatePostgres:
    """A PostgreSQL cluster of our own in `folder`: restarting it disturbs nobody."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.bindir = _pg_bindir()
        self.as_postgres = os.geteuid() == 0  # the server refuses to run as root
        self.admin_url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        # No pipes: a server started by pg_ctl would inherit them and hold them open.
        with open(self.folder / "pg_ctl.log", "ab") as log:
            subprocess.run(
                [*prefix, *args], stdout=log, stderr=subprocess.STDOUT, check=True, cwd=self.folder
            )

    def _pg_ctl(self, *args: str) -> None:
        log = str(self.folder / "postgresql.log")
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", log, "-w", "-t", "60", *args
        )

    def start(self) -> None:
        if self.as_postgres:
            shutil.chown(self.folder, "postgres")
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=200"
        )
        self._pg_ctl("-o", options, "start")

    def restart(self, mode: str) -> None:
        self._pg_ctl("-m", mode, "restart")

    def stop(self) -> None:
        try:
            self._pg_ctl("-m", "fast", "stop")
        except subprocess.CalledProcessError:
            pass


class PrivateRedis:
    """A redis-server of our own, without persistence, that the run kills and restarts."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("找不到 redis-server（Debian: redis-server）")
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = open(folder / "redis.log", "ab")  # noqa: SIM115 - closed in stop()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        if not wait_for(lambda: socket.create_connection(("127.0.0.1", self.port), 0.2), 10):
            raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.log.close()


class Supervised:
    """A process started again one second after it exits, however it exits."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.process: subprocess.Popen[bytes] | None = None
        self.exits: list[tuple[float, int]] = []  # (when, return code)
        self.starts: list[float] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"supervise-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()
        wait_for(lambda: self.process is not None, 10)

    def _run(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                self.process = subprocess.Popen(
                    self.command, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT
                )
                self.starts.append(now())
            code = self.process.wait()
            if self._stopping.is_set():
                return
            self.exits.append((now(), code))
            self._stopping.wait(1.0)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill9(self) -> int:
        with self._lock:
            pid = self.pid
            os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            if self.process is not None and self.process.poll() is None:
                stop_process(self.process, timeout=15)
        self._thread.join(timeout=20)
        self.log.close()


@contextmanager
def background(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with open(log, "ab") as handle:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT
        )
        try:
            yield process
        finally:
            stop_process(process)


def children(pid: int) -> list[int]:
    """The child processes of `pid` (gunicorn's workers)."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        found = []
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                fields = Path(stat).read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(stat.split("/")[2]))
        return found


# ---------------------------------------------------------------- the city


@dataclass
class City:
    codes: list[str]  # one per unit, for ordinary ratings
    station_code: str  # the unit the clues are about
    station_id: int
    resident_tokens: list[str]  # H5 residents for ordinary ratings


def seed(database_url: str, *, codes: int, residents: int) -> City:
    """Units (a city, a district, a police station and `codes` offices), staff, H5 residents."""
    from app import create_app
    from app.extensions import db
    from app.org.models import Role, UnitKind
    from app.org.service import create_staff, create_unit
    from evaluations.identity import Channel, Resident, ResidentIdentity, resident_token
    from qr.service import issue_code
    from tests.conftest import base_config

    app = create_app({**base_config(database_url), "SECRET_KEY": BENCH_SECRET})
    with app.app_context():
        city = create_unit(
            code="S", name="浸泡测试市委政法委", kind=UnitKind.COMMITTEE, parent=None
        )
        district = create_unit(
            code="S-D", name="浸泡测试区委政法委", kind=UnitKind.COMMITTEE, parent=city
        )
        station = create_unit(
            code="S-D-GA",
            name="浸泡测试区公安分局城关派出所",
            kind=UnitKind.POLICE,
            parent=district,
        )
        tokens = []
        for n in range(codes):
            unit = create_unit(
                code=f"S-D-SF{n}",
                name=f"浸泡测试区司法所{n}",
                kind=UnitKind.JUSTICE,
                parent=district,
            )
            tokens.append(issue_code(unit=unit).token)
        station_code = issue_code(unit=station).token
        for username, role, unit in (
            ("soak-screener", Role.SCREENER, city),
            ("soak-superior", Role.SUPERIOR, district),
            ("soak-verifier", Role.VERIFIER, station),
        ):
            create_staff(
                username=username,
                password=STAFF_PASSWORD,
                display_name=username,
                role=role,
                unit=unit,
            )
        db.session.bulk_save_objects(
            [Resident(identity_hash=f"soak{n:060d}", channel=Channel.H5) for n in range(residents)]
        )
        db.session.commit()
        ids = list(
            db.session.scalars(
                sa.select(Resident.id)
                .where(Resident.identity_hash.like("soak%"))
                .order_by(Resident.id)
            )
        )
        auth = [resident_token(ResidentIdentity(rid, Channel.H5))["token"] for rid in ids]
        station_id = station.id
        db.session.remove()
        db.engine.dispose()
    return City(tokens, station_code, station_id, auth)


def template_ids() -> dict[str, str]:
    from notifications.channels.wechat import DEFAULT_TEMPLATES

    return {kind: str(spec["template_id"]) for kind, spec in DEFAULT_TEMPLATES.items()}


def template_keys() -> dict[str, list[str]]:
    from notifications.channels.wechat import DEFAULT_TEMPLATES

    return {str(spec["template_id"]): list(spec["fields"]) for spec in DEFAULT_TEMPLATES.values()}


# ---------------------------------------------------------------- clients


@dataclass
class Attempt:
    kind: str  # rating | clue | staff | setup
    started: float
    ended: float
    status: int | None  # None: no answer (connection error, timeout)
    error: str = ""
    shaped: bool = True  # an error answered in our JSON error shape (or no error)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def failed(self) -> bool:
        return self.status is None or self.status in RETRY_STATUSES


@dataclass
class Op:
    kind: str
    key: str
    issued: float
    acknowledged: bool = False
    status: int | None = None
    error: str = ""
    attempts: int = 0
    body: dict[str, Any] = field(default_factory=dict)
    openid: str = ""


class Client:
    """HTTP with the mini-program's retry rules; every attempt is recorded."""

    def __init__(self, base: str, op_deadline: float) -> None:
        self.base = base
        self.op_deadline = op_deadline
        self.attempts: list[Attempt] = []
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def call(
        self,
        kind: str,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[requests.Response | None, int]:
        """Send until an answer that is not worth retrying, or the deadline; (answer, attempts)."""
        deadline = time.monotonic() + self.op_deadline
        attempt = 0
        response: requests.Response | None = None
        while True:
            attempt += 1
            started = now()
            try:
                response = self._session().request(
                    method,
                    self.base + path,
                    json=json_body,
                    # A connection per request, as nginx talks to its upstream by default:
                    # kept-alive connections would pin each client to one worker.
                    headers={**(headers or {}), "Connection": "close"},
                    timeout=CLIENT_TIMEOUT,
                )
            except requests.RequestException as error:
                self.attempts.append(Attempt(kind, started, now(), None, type(error).__name__))
                response = None
                self._local.session = None  # a fresh connection for the retry
            else:
                code, shaped = "", True
                if response.status_code >= 400:
                    try:
                        answer = response.json()
                        code = answer.get("error", "")
                        shaped = {"error", "message", "details"} <= set(answer)
                    except (ValueError, AttributeError):
                        code, shaped = response.text[:40], False
                self.attempts.append(
                    Attempt(kind, started, now(), response.status_code, code, shaped)
                )
                in_flight = response.status_code == 409 and code == "idempotency_in_flight"
                if response.status_code not in RETRY_STATUSES and not in_flight:
                    return response, attempt
            if time.monotonic() > deadline:
                return response, attempt
            time.sleep(min(2.0, 0.1 * 2**attempt) * random.uniform(0.5, 1.0))


def rating_body(city: City, index: int, rng: random.Random) -> dict[str, Any]:
    return {
        "qr_token": city.codes[(index // 10 + index % 10) % len(city.codes)],
        "level": rng.choice((5, 5, 5, 4, 4, 3, 2)),
        "dimensions": {"attitude": rng.randint(3, 5), "efficiency": rng.randint(3, 5)},
        "comment": "窗口办事顺利",
    }


CLUE_STORIES = (
    "窗口工作人员态度生硬，要求补交的材料前后说法不一，来回跑了三趟。",
    "办理户口迁移时被告知系统故障，连续两周都是同样答复，没有人说明何时能办。",
    "值班民警接警后迟迟不出警，事后也没有回访，希望核实处理。",
    "办事大厅工作时间经常无人在岗，电话无人接听，群众排队等候很久。",
)


@dataclass
class WeChatResident:
    name: str
    openid: str
    token: str


class StaffActor:
    """Screens clues as they arrive and walks some of them to closed."""

    TARGET = {
        "accept": "accepted",
        "reject": "rejected",
        "assign": "assigned",
        "start": "verifying",
        "submit_report": "reviewing",
        "approve": "closed",
    }

    def __init__(self, client: Client, station_id: int) -> None:
        self.client = client
        self.station_id = station_id
        self.tokens: dict[str, str] = {}
        self.acknowledged: list[tuple[int, str]] = []  # (clue id, action)
        self.confirmed = 0  # acknowledged by reading the clue: the answer itself was lost
        self.failed: list[tuple[int, str, str]] = []
        self.requests = 0

    def sign_in(self) -> None:
        for role in ("screener", "superior", "verifier"):
            response, _ = self.client.call(
                "setup",
                "POST",
                "/api/v1/staff/session",
                json_body={"username": f"soak-{role}", "password": STAFF_PASSWORD},
            )
            assert response is not None and response.status_code == 200, response
            self.tokens[role] = response.json()["token"]

    def _headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def clues(self, status: str) -> list[dict[str, Any]]:
        response, attempts = self.client.call(
            "staff",
            "GET",
            f"/api/v1/clues?status={status}&per_page=200",
            headers=self._headers("screener"),
        )
        self.requests += attempts
        if response is None or response.status_code != 200:
            return []
        return response.json()["items"]

    def act(self, clue_id: int, action: str, role: str, body: dict[str, Any]) -> bool:
        response, attempts = self.client.call(
            "staff",
            "POST",
            f"/api/v1/clues/{clue_id}/{action}",
            json_body=body,
            headers=self._headers(role),
        )
        self.requests += attempts
        if response is not None and response.status_code == 200:
            self.acknowledged.append((clue_id, action))
            return True
        if response is not None and response.status_code == 409 and attempts > 1:
            # An earlier attempt may have taken effect while its answer was lost.
            check, more = self.client.call(
                "staff", "GET", f"/api/v1/clues/{clue_id}", headers=self._headers(role)
            )
            self.requests += more
            if check is not None and check.status_code == 200:
                if check.json()["status"] == self.TARGET[action]:
                    self.acknowledged.append((clue_id, action))
                    self.confirmed += 1
                    return True
        status = "no answer" if response is None else str(response.status_code)
        self.failed.append((clue_id, action, status))
        return False

    def tick(self) -> None:
        for clue in self.clues("submitted"):
            if clue["id"] % 3 == 0:
                self.act(
                    clue["id"],
                    "reject",
                    "screener",
                    {"reason": "no_substance", "message": "反映内容不够具体，欢迎补充后再次反映"},
                )
            else:
                self.act(clue["id"], "accept", "screener", {"note": "受理"})
        for clue in self.clues("accepted"):
            if clue["id"] % 2:
                continue
            steps = (
                (
                    "assign",
                    "screener",
                    {
                        "unit_id": self.station_id,
                        "note": "请核查",
                        "self_verification_reason": "派出所先行自查，分局督导",
                    },
                ),
                ("start", "verifier", {}),
                (
                    "submit_report",
                    "verifier",
                    {
                        "outcome": "partly_substantiated",
                        "findings": "经调取窗口录像并询问当事人，反映的情况部分属实。",
                        "reply_to_reporter": "经核查部分属实，已责令整改并向您致歉",
                    },
                ),
                ("approve", "superior", {"note": "同意"}),
            )
            for action, role, body in steps:
                if not self.act(clue["id"], action, role, body):
                    break


# ---------------------------------------------------------------- faults


@dataclass
class Fault:
    name: str
    started: float
    done: float  # when the fault was fully in place (or over, for restarts)
    detail: str = ""
    window: tuple[float, float] | None = None  # when a duplicate may be blamed on it
    notes: list[str] = field(default_factory=list)
    kind: str = ""  # worker | scheduler | postgres | redis | wechat_errors | wechat_timeouts


class Soak:
    def __init__(self, args: argparse.Namespace, folder: Path) -> None:
        self.args = args
        self.folder = folder
        self.faults: list[Fault] = []
        self.fault_errors: list[str] = []
        self.rng = random.Random(args.seed)
        self.injected = 0  # failures injected into the sandbox so far
        self.takeover_seconds: float | None = None  # kill -9 of the leader → standby leads

    def leading_scheduler(self) -> Supervised:
        """The supervised scheduler process that holds the lease now."""
        holder = self.scalar(
            "SELECT holder FROM leases WHERE name = 'scheduler' AND expires_at > now()"
        )
        for supervised in self.schedulers:
            if holder and f":{supervised.pid}:" in holder:
                return supervised
        raise RuntimeError(f"no running scheduler holds the lease (holder {holder})")

    # -- helpers over the running system --------------------------------------------------

    def sandbox(self, method: str, path: str, body: Any = None) -> Any:
        response = requests.request(
            method, f"{self.sandbox_base}/__sandbox__/{path}", json=body, timeout=10
        )
        response.raise_for_status()
        return response.json()

    def injected_calls(self) -> int:
        """How many subscribe/send calls the sandbox answered with an injected failure."""
        return sum(1 for call in self.sandbox("GET", f"calls?api={SEND_API}") if call["injected"])

    def scalar(self, statement: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(statement), params).scalar()

    # -- faults ---------------------------------------------------------------------------

    def kill_worker(self) -> None:
        master = int(self.pidfile.read_text())
        workers = children(master)
        victim = self.rng.choice(workers)
        started = now()
        os.kill(victim, signal.SIGKILL)
        fault = Fault(
            "gunicorn worker kill -9",
            started,
            started,
            f"pid {victim}, one of {len(workers)} workers",
            kind="worker",
        )
        respawned = wait_for(
            lambda: len(set(children(master)) - {victim}) >= len(workers), 60, 0.02
        )
        fault.notes.append(
            f"master started a new worker after {now() - started:.2f} s"
            if respawned
            else "master did NOT replace the worker within 60 s"
        )
        self.faults.append(fault)

    def wechat_errors(self) -> None:
        started = now()
        for errcode, count in ((-1, 3), (45009, 3), (40001, 3)):
            self.sandbox("POST", "fail", {"errcode": errcode, "count": count, "api": SEND_API})
            self.injected += count
        self.faults.append(
            Fault(
                "WeChat errors: -1 ×3, 45009 ×3, 40001 ×3 on subscribe/send",
                started,
                started,
                kind="wechat_errors",
            )
        )

    def wechat_timeouts(self) -> None:
        started = now()
        delay = WECHAT_READ_TIMEOUT + 2
        self.sandbox(
            "POST", "fail", {"errcode": "timeout", "count": 3, "delay": delay, "api": SEND_API}
        )
        self.injected += 3
        self.faults.append(
            Fault(
                f"WeChat timeouts: 3 sends hang {delay:.0f} s "
                f"(read timeout {WECHAT_READ_TIMEOUT:.0f} s)",
                started,
                started,
                kind="wechat_timeouts",
            )
        )

    def redis_outage(self, seconds: float) -> None:
        started = now()
        self.redis.kill()
        fault = Fault(
            f"Redis kill -9, restarted after {seconds:.0f} s", started, started, kind="redis"
        )
        self.faults.append(fault)
        time.sleep(seconds)
        self.redis.start()
        fault.notes.append(f"redis-server back at t+{now() - self.t0:.1f} s")
        fault.window = (started, now())

    def postgres_restart(self) -> None:
        started = now()
        self.postgres.restart(self.args.pg_stop_mode)
        done = now()
        fault = Fault(
            f"PostgreSQL restart (pg_ctl restart -m {self.args.pg_stop_mode})",
            started,
            done,
            f"pg_ctl took {done - started:.2f} s",
            window=(started, done),
            kind="postgres",
        )
        self.faults.append(fault)

    def kill_scheduler(self) -> None:
        """kill -9 the scheduler while a WeChat send is in flight (the duplicate window)."""
        hang = WECHAT_READ_TIMEOUT - 1  # the send would succeed; the process dies first
        # Failures are served first come first served: wait until the earlier ones are used up.
        wait_for(lambda: self.injected_calls() >= self.injected, 60, 0.5)
        self.sandbox(
            "POST", "fail", {"errcode": "timeout", "count": 1, "delay": hang, "api": SEND_API}
        )
        leader = self.leading_scheduler()
        pid = leader.pid
        leased = (
            "SELECT count(*) FROM outbox WHERE status = 'pending' AND channel = 'wechat' "
            "AND lease_until > now() AND leased_by LIKE :holder"
        )
        in_flight = wait_for(lambda: self.scalar(leased, holder=f"%:{pid}:%") > 0, 40, 0.05)
        if in_flight:
            time.sleep(0.3)  # prepared, and now hanging inside the sandbox
        started = now()
        killed = leader.kill9()
        fault = Fault(
            "scheduler kill -9" + (" during a WeChat send" if in_flight else ""),
            started,
            started,
            f"pid {killed}"
            + ("" if in_flight else "; no send was in flight within 40 s, killed anyway"),
            kind="scheduler",
        )
        span = WECHAT_CONNECT_TIMEOUT + WECHAT_READ_TIMEOUT + 1
        fault.window = (started - span, started + span)
        self.faults.append(fault)

        def new_holder() -> bool:
            holder = self.scalar(
                "SELECT holder FROM leases WHERE name = 'scheduler' AND expires_at > now()"
            )
            return holder is not None and f":{killed}:" not in holder

        if wait_for(new_holder, 180, 0.05):
            self.takeover_seconds = now() - started
            fault.notes.append(
                f"the standby scheduler took the lease after {self.takeover_seconds:.1f} s"
            )
        else:
            fault.notes.append("no scheduler took the lease within 180 s")

    def run_fault(self, at: float, name: str, action: Callable[[], None]) -> None:
        delay = self.t0 + at - now()
        if delay > 0:
            time.sleep(delay)
        try:
            action()
        except Exception as error:  # noqa: BLE001 - reported with the results
            self.fault_errors.append(f"{name}: {type(error).__name__}: {error}")

    # -- the run --------------------------------------------------------------------------

    def run(self) -> int:
        args = self.args
        with ExitStack() as stack:
            self.postgres = PrivatePostgres(self.folder / "pg")
            (self.folder / "pg").mkdir()
            self.postgres.start()
            stack.callback(self.postgres.stop)
            self.redis = PrivateRedis(self.folder)
            self.redis.start()
            stack.callback(self.redis.stop)

            from tests.conftest import create_postgres_database, migrate_database

            url = create_postgres_database(self.postgres.admin_url, "pingyi_soak")
            migrate_database(url)
            self.engine = sa.create_engine(url, pool_pre_ping=True)
            stack.callback(self.engine.dispose)
            total = int(args.rate * args.duration) + 1
            city = seed(url, codes=40, residents=total // 10 + 2)

            sandbox_port = free_port()
            self.sandbox_base = f"http://127.0.0.1:{sandbox_port}"
            env = {
                **os.environ,
                "DATABASE_URL": url,
                "SECRET_KEY": BENCH_SECRET,
                "REDIS_URL": self.redis.url,
                "RATELIMIT_KEY_PREFIX": f"soak-{os.getpid()}",
                "WECHAT_API_BASE": self.sandbox_base,
                "WECHAT_APPID": SANDBOX_APPID,
                "WECHAT_SECRET": SANDBOX_SECRET,
                "HOTLINE_URL": "",
                "PYTHONPATH": str(ROOT),
                "FLASK_APP": "run",
                **SERVER_SETTINGS,
            }
            env.pop("PINGYI_ENV", None)
            flask = [sys.executable, "-m", "flask", "--app", "run"]
            templates = [
                f"--template={tid}={','.join(keys)}" for tid, keys in template_keys().items()
            ]
            stack.enter_context(
                background(
                    flask + ["wechat-sandbox", "--port", str(sandbox_port), *templates],
                    env,
                    self.folder / "wechat-sandbox.log",
                )
            )
            if not wait_for(lambda: self.sandbox("GET", "") is not None, 30, 0.1):
                raise RuntimeError("the WeChat sandbox did not start")

            self.pidfile = self.folder / "gunicorn.pid"
            port = free_port()
            base = stack.enter_context(
                gunicorn(
                    "run:app",
                    url,
                    port=port,
                    workers=args.workers,
                    threads=args.threads,
                    env={key: env[key] for key in env if key not in ("DATABASE_URL",)},
                    extra_args=[
                        "--pid",
                        str(self.pidfile),
                        "--access-logfile",
                        "-",
                        "--access-logformat",
                        "pid=%(p)s status=%(s)s",
                    ],
                    log_path=self.folder / "gunicorn.log",
                )
            )
            # A leader and a standby, each restarted by its supervisor when it dies.
            self.schedulers = [
                Supervised(name, flask + ["scheduler", "run"], env, self.folder / f"{name}.log")
                for name in ("scheduler", "standby")
            ]
            for supervised in self.schedulers:
                supervised.start()
                stack.callback(supervised.stop)
            held = "SELECT count(*) FROM leases WHERE name = 'scheduler' AND expires_at > now()"
            if not wait_for(lambda: self.scalar(held) == 1, 60, 0.2):
                raise RuntimeError("the scheduler did not start")

            client = Client(base, op_deadline=args.op_deadline)
            wechat_residents = self.sign_up_wechat_residents(client, total // args.clue_every + 2)
            staff = StaffActor(client, city.station_id)
            staff.sign_in()
            setup_attempts = len(client.attempts)

            print(
                f"Soak: {args.duration} s at {args.rate:g} ratings/s (every {args.clue_every}th "
                f"with a clue), gunicorn {args.workers}×{args.threads} gthread, "
                f"{os.cpu_count()} cores\n"
                f"  private PostgreSQL :{self.postgres.port}, Redis :{self.redis.port}, "
                f"WeChat sandbox :{sandbox_port}, two schedulers (leader and standby) under "
                f"supervisors; logs in "
                f"{self.folder}\n"
                "  server settings: "
                + ", ".join(f"{k}={v}" for k, v in SERVER_SETTINGS.items() if "RATE" not in k)
                + "\n",
                flush=True,
            )

            ops = self.drive(client, city, wechat_residents, staff, total)
            drained = self.drain()
            time.sleep(WECHAT_READ_TIMEOUT + 3)  # hung sandbox requests finish and are recorded
            return self.report(client, setup_attempts, ops, staff, drained)

    def sign_up_wechat_residents(self, client: Client, count: int) -> list[WeChatResident]:
        """WeChat residents who allowed every message kind once (in our ledger and WeChat's)."""
        from sandboxes.wechat import sandbox_openid

        ids = template_ids()

        def sign_up(n: int) -> WeChatResident:
            name = f"soak{n}"
            response, _ = client.call(
                "setup", "POST", "/api/v1/auth/wechat", json_body={"code": f"{name}~login"}
            )
            assert response is not None and response.status_code == 200, response
            token = response.json()["token"]
            response, _ = client.call(
                "setup",
                "POST",
                "/api/v1/me/subscriptions",
                json_body={"code": f"{name}~subscribe", "templates": list(KINDS)},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response is not None and response.status_code == 200, response
            openid = sandbox_openid(SANDBOX_APPID, name)
            for kind in KINDS:
                # Quota to spare at WeChat, so a duplicate shows up as a duplicate, not a 43101.
                self.sandbox(
                    "POST",
                    "subscriptions",
                    {"openid": openid, "template_id": ids[kind], "count": 3},
                )
            return WeChatResident(name, openid, token)

        with ThreadPoolExecutor(16) as pool:
            return list(pool.map(sign_up, range(count)))

    def drive(
        self,
        client: Client,
        city: City,
        wechat_residents: list[WeChatResident],
        staff: StaffActor,
        total: int,
    ) -> list[Op]:
        args = self.args
        ops: list[Op] = []
        rng = random.Random(args.seed)
        stop_staff = threading.Event()
        d = args.duration
        schedule: list[tuple[float, str, Callable[[], None]]] = [
            (0.05 * d, "worker kill 1", self.kill_worker),
            (0.10 * d, "wechat errors", self.wechat_errors),
            # Longer than the dispatch interval (15 s), so the scheduler meets it too.
            (0.16 * d, "redis outage", lambda: self.redis_outage(max(16.0, 0.27 * d))),
            (0.46 * d, "wechat timeouts", self.wechat_timeouts),
            (0.52 * d, "postgres restart", self.postgres_restart),
            (0.62 * d, "scheduler kill", self.kill_scheduler),
            (0.80 * d, "worker kill 2", self.kill_worker),
        ]

        def staff_loop() -> None:
            while not stop_staff.wait(1.0):
                staff.tick()

        def submit(op: Op, token: str) -> None:
            response, attempts = client.call(
                op.kind,
                "POST",
                "/api/v1/evaluations",
                json_body=op.body,
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": op.key},
            )
            op.attempts = attempts
            if response is None:
                op.error = "no answer"
                return
            op.status = response.status_code
            if response.status_code == 201:
                op.acknowledged = True
                op.body = {**op.body, "_answer": response.json()}
            else:
                try:
                    op.error = response.json().get("error", "")
                except ValueError:
                    op.error = response.text[:80]

        self.t0 = now()
        fault_threads = [
            threading.Thread(target=self.run_fault, args=item, daemon=True) for item in schedule
        ]
        for thread in fault_threads:
            thread.start()
        staff_thread = threading.Thread(target=staff_loop, daemon=True)
        staff_thread.start()
        clue_number = 0
        with ThreadPoolExecutor(args.clients) as pool:
            for index in range(total):
                issue_at = self.t0 + index / args.rate
                pause = issue_at - now()
                if pause > 0:
                    time.sleep(pause)
                if index % args.clue_every == args.clue_every - 1:
                    resident = wechat_residents[clue_number]
                    clue_number += 1
                    body = {
                        "qr_token": city.station_code,
                        "level": 1,
                        "comment": "很不满意",
                        "clue": {
                            "category": "conduct",
                            "description": f"{CLUE_STORIES[index % len(CLUE_STORIES)]}（{index}）",
                            "identity": "anonymous",
                        },
                    }
                    op = Op("clue", uuid.uuid4().hex, now(), body=body, openid=resident.openid)
                    token = resident.token
                else:
                    rating = index - clue_number
                    op = Op("rating", uuid.uuid4().hex, now(), body=rating_body(city, rating, rng))
                    token = city.resident_tokens[rating // 10]
                ops.append(op)
                pool.submit(submit, op, token)
            self.load_ended = now()
        for thread in fault_threads:
            thread.join()
        stop_staff.set()
        staff_thread.join()
        staff.tick()  # what arrived at the very end
        return ops

    def drain(self) -> bool:
        """Wait until no WeChat message is pending (the dispatcher runs every 15 s)."""
        pending = "SELECT count(*) FROM outbox WHERE channel = 'wechat' AND status = 'pending'"
        started = now()
        drained = wait_for(lambda: self.scalar(pending) == 0, self.args.drain_timeout, 1.0)
        self.drain_seconds = now() - started
        return drained

    # -- results --------------------------------------------------------------------------

    def report(
        self,
        client: Client,
        setup_attempts: int,
        ops: list[Op],
        staff: StaffActor,
        drained: bool,
    ) -> int:
        t0 = self.t0
        attempts = client.attempts[setup_attempts:]
        problems: list[str] = []

        with self.engine.connect() as conn:
            evaluation_ids = set(conn.execute(sa.text("SELECT id FROM evaluations")).scalars())
            tracking_nos = set(conn.execute(sa.text("SELECT tracking_no FROM clues")).scalars())
            events = {
                (row.clue_id, row.action)
                for row in conn.execute(sa.text("SELECT clue_id, action FROM clue_events"))
            }
            outbox = conn.execute(
                sa.text(
                    "SELECT o.id, o.kind, o.status, o.attempts, o.last_error, o.clue_id, "
                    "o.payload, c.tracking_no FROM outbox o LEFT JOIN clues c ON c.id = o.clue_id "
                    "WHERE o.channel = 'wechat'"
                )
            ).all()
        messages = self.sandbox("GET", "messages")
        calls = self.sandbox("GET", f"calls?api={SEND_API}")
        gunicorn_log = (self.folder / "gunicorn.log").read_text(errors="replace")
        scheduler_log = "".join(
            (self.folder / f"{s.name}.log").read_text(errors="replace") for s in self.schedulers
        )

        # Ratings and clue reports.
        ratings = [op for op in ops if op.kind == "rating"]
        clues = [op for op in ops if op.kind == "clue"]
        acked = [op for op in ops if op.acknowledged]
        acked_ids = [op.body["_answer"]["id"] for op in acked]
        found = sum(1 for i in acked_ids if i in evaluation_ids)
        lost = len(acked_ids) - found
        unacknowledged = [op for op in ops if not op.acknowledged]
        orphans = len(evaluation_ids) - len(set(acked_ids))
        acked_clues = [op for op in clues if op.acknowledged]
        clue_numbers = [op.body["_answer"]["clue"]["tracking_no"] for op in acked_clues]
        clues_found = sum(1 for n in clue_numbers if n in tracking_nos)
        staff_recorded = sum(1 for item in staff.acknowledged if item in events)

        # Notifications: outbox rows against the sandbox's record of delivered messages.
        ids = template_ids()
        openid_by_number = {
            op.body["_answer"]["clue"]["tracking_no"]: op.openid for op in acked_clues
        }
        delivered: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
        for message in messages:
            number = message["data"].get("character_string1", {}).get("value", "")
            delivered[(message["touser"], message["template_id"], number)].append(message)
        by_status = Counter(row.status for row in outbox)
        expected_keys: dict[tuple[str, str, str], Any] = {}
        for row in outbox:
            key = (openid_by_number.get(row.tracking_no, "?"), ids[row.kind], row.tracking_no)
            expected_keys[key] = row
        delivered_rows = [key for key in expected_keys if delivered.get(key)]
        marked_sent_not_delivered = [
            row.id
            for key, row in expected_keys.items()
            if row.status == "sent" and not delivered.get(key)
        ]
        phantom = [key for key in delivered if key not in expected_keys]
        owed = {
            (clue_id, kind)
            for clue_id, action in staff.acknowledged
            for kind in OWED.get(action, ())
        }
        queued = {(row.clue_id, row.kind) for row in outbox}
        never_queued = sorted(owed - queued)
        duplicated = {key: items for key, items in delivered.items() if len(items) > 1}
        explanations = Counter()
        unexplained: list[str] = []
        for key, items in duplicated.items():
            explanations_for = self.explain(key[0], min(m["at"] for m in items), calls)
            explanations[explanations_for] += 1
            if explanations_for == "unexplained":
                unexplained.append(f"{key[2]} {key[1]} ×{len(items)}")

        # Print.
        print("Fault timeline (t = seconds since the load started)")
        successes = sorted((a.started, a.ended) for a in attempts if a.ok)
        for fault in sorted(self.faults, key=lambda f: f.started):
            line = f"  t+{fault.started - t0:5.1f}  {fault.name}"
            if fault.detail:
                line += f" ({fault.detail})"
            print(line)
            recovery = min((end for start, end in successes if start >= fault.done), default=None)
            if recovery is None:
                print("           NO successful request afterwards")
                problems.append(f"no recovery after {fault.name}")
            elif not fault.kind.startswith("wechat"):
                # Attempts that failed from the fault until 5 s after service was back.
                until = max(recovery, fault.done) + 5
                errors = Counter(
                    str(a.error or a.status)
                    for a in attempts
                    if a.failed and fault.started - 0.5 <= a.ended <= until
                )
                print(
                    f"           next successful request {recovery - fault.started:.2f} s after "
                    f"the fault began; failed attempts meanwhile and 5 s after: "
                    f"{sum(errors.values())} "
                    f"({', '.join(f'{k} {v}' for k, v in errors.items()) or 'none'})"
                )
            for note in fault.notes:
                print(f"           {note}")
            self.describe_wechat_recovery(fault, calls)
        if self.fault_errors:
            for error in self.fault_errors:
                print(f"  fault injection failed: {error}")
                problems.append(error)
        fallbacks = gunicorn_log.count("falling back to in-memory storage")
        recovered = gunicorn_log.count("Rate limit storage recovered")
        token_cache = scheduler_log.count("wechat token cache: redis")
        print(
            f"  logs: rate-limit fallback to process memory logged {fallbacks}×, storage recovered "
            f"{recovered}×; scheduler's token cache Redis errors logged {token_cache}×; "
            f"scheduler exits {[code for s in self.schedulers for _, code in s.exits]}, "
            f"started {sum(len(s.starts) for s in self.schedulers)}× (leader and standby)"
        )
        takeover = self.takeover_seconds
        print(
            "  scheduler takeover after kill -9 of the leader: "
            + (f"{takeover:.1f} s" if takeover is not None else "never")
            + f" (target ≤ {TAKEOVER_TARGET_SECONDS:.0f} s)"
        )
        if takeover is None or takeover > TAKEOVER_TARGET_SECONDS:
            problems.append(f"scheduler takeover not within {TAKEOVER_TARGET_SECONDS:.0f} s")
        unshaped = Counter(str(a.status) for a in attempts if not a.shaped)
        print(
            f"  error answers outside the JSON error shape: {sum(unshaped.values())}"
            + (f" {dict(unshaped)}" if unshaped else "")
        )
        if unshaped:
            problems.append(f"error answers outside the JSON error shape: {dict(unshaped)}")

        sent_requests = len(attempts)
        per_worker = Counter(re.findall(r"^pid=<?(\d+)>? status=", gunicorn_log, re.MULTILINE))
        print("\nRequests")
        late = max((op.issued - (t0 + i / self.args.rate)) for i, op in enumerate(ops))
        print(
            f"  HTTP requests sent {sent_requests} (ratings and clue reports "
            f"{sum(op.attempts for op in ops)}, staff {staff.requests}); "
            f"issued at {len(ops) / (self.load_ended - t0):.1f}/s over "
            f"{self.load_ended - t0:.1f} s (latest issue {late * 1000:.0f} ms behind schedule)"
        )
        print(
            f"  answered by {len(per_worker)} worker processes (killed ones included): "
            f"{sorted(per_worker.values(), reverse=True)}"
        )
        print(
            f"  answers: {dict(Counter(str(a.status or a.error) for a in attempts).most_common())}"
        )
        print(
            f"  ratings + clue reports: {len(ops)} operations, acknowledged (2xx) {len(acked)}, "
            f"rows found {found}, lost {lost}; not acknowledged {len(unacknowledged)}"
            + (
                f" ({dict(Counter(op.error or op.status for op in unacknowledged))})"
                if unacknowledged
                else ""
            )
            + f"; rows committed without an acknowledgement {orphans}"
        )
        print(
            f"    of which clue reports: {len(clues)}, acknowledged {len(acked_clues)}, clue rows "
            f"found {clues_found}, lost {len(acked_clues) - clues_found}; ratings {len(ratings)}"
        )
        print(
            f"  staff actions: acknowledged {len(staff.acknowledged)} "
            f"({dict(Counter(a for _, a in staff.acknowledged))}), recorded in the clue trail "
            f"{staff_recorded}, lost {len(staff.acknowledged) - staff_recorded}, "
            f"failed {len(staff.failed)}; {staff.confirmed} confirmed by reading the clue after "
            "a retry met 409 (the first attempt had taken effect, its answer was lost)"
        )

        print("\nNotifications (WeChat subscribe messages)")
        print(
            f"  expected (outbox rows) {len(outbox)}: sent {by_status.get('sent', 0)}, "
            f"dead-lettered {by_status.get('dead', 0)}, skipped {by_status.get('skipped', 0)}, "
            f"still pending {by_status.get('pending', 0)}; by kind "
            f"{dict(Counter(row.kind for row in outbox))}"
        )
        print(
            f"  sent (the sandbox's record): {len(messages)} messages for {len(delivered_rows)} "
            f"outbox events; outbox drained in {self.drain_seconds:.0f} s after the load "
            + ("" if drained else "— NOT drained")
        )
        extra = sum(len(items) - 1 for items in duplicated.values())
        print(
            f"  duplicated: {len(duplicated)} events ({extra} extra messages): "
            f"{explanations.get('kill', 0)} explained by the scheduler kill in the send window, "
            f"{explanations.get('timeout', 0)} by WeChat timeouts (WeChat did the work, we never "
            f"heard), {explanations.get('postgres', 0)} by the PostgreSQL restart, "
            f"{explanations.get('unexplained', 0)} unexplained"
        )
        lost_notifications = (
            len(marked_sent_not_delivered) + len(never_queued) + by_status.get("pending", 0)
        )
        print(
            f"  lost {lost_notifications} (marked sent but never delivered "
            f"{len(marked_sent_not_delivered)}, owed by an acknowledged staff action but never "
            f"queued {len(never_queued)}, pending after the drain {by_status.get('pending', 0)}); "
            f"delivered without an outbox row {len(phantom)}"
        )
        for row in outbox:
            if row.status == "dead":
                print(
                    f"    dead: outbox {row.id} {row.kind} after {row.attempts}: {row.last_error}"
                )

        if lost:
            problems.append(f"{lost} acknowledged ratings have no row")
        if found != len(acked):
            problems.append(f"acknowledged {len(acked)} != found {found}")
        if len(acked_clues) != clues_found:
            problems.append("acknowledged clue reports without a clue row")
        if staff_recorded != len(staff.acknowledged):
            problems.append("acknowledged staff actions missing from the clue trail")
        if lost_notifications:
            problems.append(f"{lost_notifications} notifications lost")
        if phantom:
            problems.append(f"{len(phantom)} messages delivered without an outbox row")
        if unexplained:
            problems.append(f"unexplained duplicates: {unexplained}")
        if not drained:
            problems.append("the outbox did not drain")
        print(
            "\nResult: "
            + ("PASS" if not problems else "FAIL\n  " + "\n  ".join(problems))
            + f"\nLogs: {self.folder}"
            + ("" if self.args.keep else " (removed; --keep to keep them)")
        )
        return 0 if not problems else 1

    def explain(self, openid: str, first_at: float, calls: list[dict[str, Any]]) -> str:
        """Which fault explains a message delivered more than once."""
        for call in calls:
            if (
                call.get("touser") == openid
                and call.get("delayed", 0) >= WECHAT_READ_TIMEOUT
                and abs(call["at"] - first_at) < 2
            ):
                return "timeout"
        span = WECHAT_CONNECT_TIMEOUT + WECHAT_READ_TIMEOUT + 1
        for fault in self.faults:
            if fault.window is None or fault.kind not in ("scheduler", "postgres"):
                continue
            start, end = fault.window
            if start - span <= first_at <= end + span:
                return "kill" if fault.kind == "scheduler" else "postgres"
        return "unexplained"

    def describe_wechat_recovery(self, fault: Fault, calls: list[dict[str, Any]]) -> None:
        later = [c for c in calls if c["at"] >= fault.started]
        if fault.kind in ("wechat_errors", "wechat_timeouts"):
            injected = [c for c in later if c.get("injected")]
            if not injected:
                print("           the injected failures were not reached")
                return
            wanted = 9 if fault.kind == "wechat_errors" else 3
            last = max(c["at"] for c in injected[:wanted])
            codes = Counter(
                "timeout" if c.get("delayed") else c["errcode"] for c in injected[:wanted]
            )
            ok = next((c["at"] for c in later if c["at"] > last and c["errcode"] == 0), None)
            print(
                f"           injected answers reached {dict(codes)}, the last at "
                f"t+{last - self.t0:.1f}; next delivered message "
                + (f"{ok - last:.1f} s after it" if ok else "never")
            )
        elif fault.kind == "scheduler":
            ok = next((c["at"] for c in later if c["errcode"] == 0 and not c.get("injected")), None)
            print(
                "           next WeChat delivery by the new scheduler "
                + (f"{ok - fault.started:.1f} s after the kill" if ok else "never")
            )


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60, help="seconds of load (≥ 60)")
    parser.add_argument("--rate", type=float, default=20, help="ratings issued per second")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker")
    parser.add_argument("--clients", type=int, default=64, help="client threads")
    parser.add_argument("--clue-every", type=int, default=10, help="every Nth rating has a clue")
    parser.add_argument("--op-deadline", type=float, default=90, help="seconds a client retries")
    parser.add_argument("--drain-timeout", type=float, default=300)
    parser.add_argument("--pg-stop-mode", choices=["fast", "immediate"], default="fast")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true", help="keep the logs and data folder")
    args = parser.parse_args()
    # Stopped with SIGTERM: unwind like Ctrl-C, so every server we started is stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    folder = Path(tempfile.mkdtemp(prefix="pingyi-soak-"))
    os.chmod(folder, 0o755)
    try:
        status = Soak(args, folder).run()
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    sys.exit(status)


if __name__ == "__main__":
    main()
