"""Degraded operation, with real servers: Redis unreachable from the start or killed mid-run, and
WeChat timing out or unreachable. Requests keep succeeding, rate limits still hold (per process),
the logs say what happened, and the outbox rides WeChat's trouble out instead of giving up."""

from __future__ import annotations

import logging
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
import requests
from flask import Flask

from app import clock, create_app
from app.extensions import db
from app.ratelimit import limiter
from tests.app.test_errors import assert_error_shape
from tests.conftest import base_config, service_missing
from tests.evaluations.helpers import h5_resident, rate
from tests.factories import make_city, make_unit
from tests.fixtures.servers import OUTPUT, free_port, gunicorn_server
from tests.notifications.test_wechat_channel import (
    SEND,
    T0,
    dispatch,
    queue,
    row,
    subscriber,
)
from tests.qr.factories import make_code

FALLBACK = "Rate limit storage unreachable - falling back to in-memory storage"
RECOVERED = "Rate limit storage recovered"


@pytest.fixture(autouse=True)
def limiter_on_its_storage() -> Iterator[None]:
    # Flask-Limiter keeps one `limiter` per process and remembers "storage dead" across the
    # apps tests create; start from a live storage so the switch to the fallback is seen here.
    limiter._storage_dead = False
    yield
    limiter._storage_dead = False


def dead_redis_url() -> str:
    """A Redis URL where nothing listens (connections are refused at once)."""
    return f"redis://127.0.0.1:{free_port()}/0"


def app_with_redis(database_url: str, redis_url: str, **config: object) -> Flask:
    return create_app(
        {
            **base_config(database_url),
            "REDIS_URL": redis_url,
            "RATELIMIT_KEY_PREFIX": f"degraded-{uuid.uuid4().hex}",
            **config,
        }
    )


class RedisServer:
    """A redis-server of our own on a free port, to kill and start again."""

    def __init__(self, folder) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            service_missing("找不到 redis-server（Debian 软件包 redis-server），跳过 Redis 故障")
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def keys(self) -> list[str]:
        return [key.decode() for key in redis.Redis.from_url(self.url).keys("*")]


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    if server.process is not None and server.process.poll() is None:
        server.kill()


def codes_for(app: Flask, count: int) -> list[str]:
    city = make_city(app)
    return [make_code(app, make_unit(app, parent=city["station_a"])).token for _ in range(count)]


def fallback_records(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "flask-limiter" and text in r.getMessage()]


# ---------------------------------------------------------------- Redis


def test_redis_unreachable_from_the_start(database_url, caplog):
    app = app_with_redis(database_url, dead_redis_url(), RATE_LIMIT_RESIDENT="3/minute")
    assert app.config["RATELIMIT_STORAGE_URI"].startswith("redis://")
    client = app.test_client()
    tokens = codes_for(app, 5)

    assert client.get("/healthz").status_code == 200
    resident = h5_resident(client)  # sign-in is rate limited too: no 500 there either
    statuses = [rate(client, resident, token).status_code for token in tokens[:4]]

    # Every request answered, and the resident limit still holds, counted in this process.
    assert statuses == [201, 201, 201, 429]
    limited = rate(client, resident, tokens[4])
    assert_error_shape(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) >= 1
    records = fallback_records(caplog, FALLBACK)
    assert len(records) == 1 and records[0].levelno == logging.WARNING
    # Another resident has a limit of their own.
    assert rate(client, h5_resident(client), tokens[4]).status_code == 201


def test_redis_killed_mid_run_and_back(database_url, redis_server, caplog):
    caplog.set_level(logging.INFO, logger="flask-limiter")
    app = app_with_redis(database_url, redis_server.url, RATE_LIMIT_RESIDENT="4/minute")
    client = app.test_client()
    tokens = iter(codes_for(app, 12))
    resident = h5_resident(client)

    assert [rate(client, resident, next(tokens)).status_code for _ in range(2)] == [201, 201]
    assert any("rate-resident" in key for key in redis_server.keys())  # counted in Redis

    redis_server.kill()
    # No error for anyone; the process counts afresh in memory and still stops at 4.
    after = [rate(client, resident, next(tokens)).status_code for _ in range(5)]
    assert after == [201, 201, 201, 201, 429]
    assert len(fallback_records(caplog, FALLBACK)) == 1
    assert not fallback_records(caplog, RECOVERED)

    redis_server.start()  # same port, empty (no persistence)
    deadline = time.monotonic() + 90
    while not fallback_records(caplog, RECOVERED):
        # Any request lets Flask-Limiter probe the storage (with exponential spacing).
        assert client.get("/healthz").status_code == 200
        assert time.monotonic() < deadline, "限流存储恢复后没有切回 Redis"
        time.sleep(0.25)
    other = h5_resident(client)
    assert rate(client, other, next(tokens)).status_code == 201
    assert any("rate-resident" in key for key in redis_server.keys())  # back in Redis


def test_without_redis_each_gunicorn_worker_counts_for_itself(app, database_url):
    tokens = codes_for(app, 24)
    log_name = "degraded-ratelimit"
    env = {
        "REDIS_URL": dead_redis_url(),
        "RATE_LIMIT_RESIDENT": "4/minute",
        "RATELIMIT_KEY_PREFIX": f"degraded-{uuid.uuid4().hex}",
    }
    with gunicorn_server(
        database_url,
        workers=2,
        threads=4,
        env=env,
        log_name=log_name,
        extra_args=[
            "--reuse-port",
            "--access-logfile",
            "-",
            "--access-logformat",
            "pid=%(p)s status=%(s)s path=%(U)s",
        ],
    ) as base:
        sign_in = requests.post(f"{base}/api/v1/auth/h5", timeout=10)
        assert sign_in.status_code == 200
        headers = {"Authorization": f"Bearer {sign_in.json()['token']}", "Connection": "close"}
        statuses: list[int] = []

        def send(qr_token: str) -> None:
            response = requests.post(
                f"{base}/api/v1/evaluations",
                timeout=30,
                headers=headers,
                json={"qr_token": qr_token, "level": 5},
            )
            statuses.append(response.status_code)

        threads = [threading.Thread(target=send, args=(token,)) for token in tokens]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    log = (OUTPUT / f"{log_name}.log").read_text()
    answers = re.findall(r"pid=<?(\d+)>? status=(\d+) path=/api/v1/evaluations", log)
    assert sorted(statuses) == sorted(int(status) for _, status in answers)
    assert set(statuses) <= {201, 429}, statuses  # never a 500
    by_worker: dict[str, Counter[str]] = {}
    for pid, status in answers:
        by_worker.setdefault(pid, Counter())[status] += 1
    busy = [pid for pid, seen in by_worker.items() if sum(seen.values()) > 4]
    if len(busy) < 2:
        pytest.fail(f"请求没有分到两个工作进程（{by_worker}），无法证明各进程各自计数")
    for seen in by_worker.values():
        # Each process lets exactly 4 through: its own in-memory count, not a shared one.
        assert seen["201"] == min(4, sum(seen.values())), by_worker
    assert statuses.count(201) > 4
    assert log.count(FALLBACK) >= 2  # every worker says it fell back


# ---------------------------------------------------------------- WeChat


@pytest.fixture
def frozen():
    clock.set_now(T0)
    yield T0
    clock.set_now(None)


def test_without_redis_wechat_messages_still_go_out(wired_app, client, wechat, caplog):
    wired_app.config["REDIS_URL"] = dead_redis_url()  # the token cache lives there
    alice = subscriber(wired_app, client, wechat, "alice", kinds=("clue_result",))
    message_id = queue(wired_app, alice.resident_id)

    assert dispatch(wired_app)["sent"] == 1
    assert row(wired_app, message_id).status.value == "sent"
    assert len(wechat.messages()) == 1
    assert any(
        r.name == "app.wechat.client" and "wechat token cache: redis" in r.getMessage()
        for r in caplog.records
    )


def test_a_window_of_wechat_timeouts_is_ridden_out_with_growing_backoff(
    wired_app, client, wechat, frozen
):
    wired_app.config["WECHAT_READ_TIMEOUT"] = 0.5
    # WeChat's quota to spare: every hung send below is delivered in the end (see the last lines).
    alice = subscriber(wired_app, client, wechat, "alice", kinds=("clue_result",), granted=10)
    message_id = queue(wired_app, alice.resident_id)
    wechat.fail("timeout", count=4, api=SEND, delay=1.0)

    for attempt in (1, 2, 3, 4):
        started = clock.utcnow()
        assert dispatch(wired_app)["retry"] == 1
        message = row(wired_app, message_id)
        assert (message.status.value, message.attempts) == ("pending", attempt)
        assert "超时" in message.last_error
        ceiling = timedelta(seconds=30 * 2 ** (attempt - 1))  # exponential, with full jitter
        assert started < message.next_attempt_at <= started + ceiling
        assert dispatch(wired_app)["leased"] == 0  # not before its time
        clock.set_now(message.next_attempt_at)

    assert dispatch(wired_app)["sent"] == 1
    done = row(wired_app, message_id)
    assert (done.status.value, done.attempts, done.last_error) == ("sent", 5, "")

    # WeChat has no idempotency key: each send that timed out on our side was still delivered.
    deadline = time.monotonic() + 10
    while len(wechat.calls(SEND)) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sum(1 for call in wechat.calls(SEND) if call.get("delayed")) == 4
    assert len(wechat.messages()) == 5


def test_wechat_unreachable_is_retried_not_dead_lettered(wired_app, client, wechat, frozen):
    alice = subscriber(wired_app, client, wechat, "alice", kinds=("clue_result",))
    message_id = queue(wired_app, alice.resident_id)
    wired_app.config["WECHAT_API_BASE"] = f"http://127.0.0.1:{free_port()}"  # nobody there

    assert dispatch(wired_app)["retry"] == 1
    message = row(wired_app, message_id)
    assert (message.status.value, message.attempts) == ("pending", 1)
    assert "无法连接微信服务器" in message.last_error

    wired_app.config["WECHAT_API_BASE"] = wechat.base_url
    clock.set_now(message.next_attempt_at)
    assert dispatch(wired_app)["sent"] == 1
    assert len(wechat.messages()) == 1
    with wired_app.app_context():
        db.session.remove()
