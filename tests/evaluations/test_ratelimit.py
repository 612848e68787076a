"""Rate limits per resident and per address; shared by every worker through Redis."""

from __future__ import annotations

import os
import re
import sys
import threading
import uuid

import pytest
import redis
import requests

from app import create_app
from app.extensions import db
from app.ratelimit import limiter
from tests.app.test_errors import assert_error_shape
from tests.conftest import base_config, service_missing
from tests.evaluations.helpers import h5_resident, rate
from tests.factories import make_city, make_unit
from tests.fixtures.servers import OUTPUT, gunicorn_server
from tests.qr.factories import make_code


def test_resident_limit_answers_429_in_the_error_shape(app, client):
    app.config["RATE_LIMIT_RESIDENT"] = "3/minute"
    city = make_city(app)
    codes = [make_code(app, make_unit(app, parent=city["station_a"])) for _ in range(5)]
    resident = h5_resident(client)
    statuses = [rate(client, resident, code.token).status_code for code in codes[:3]]
    assert statuses == [201, 201, 201]
    limited = rate(client, resident, codes[3].token)
    body = assert_error_shape(limited, 429, "rate_limited")
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert body["details"]["retry_after"] == int(limited.headers["Retry-After"])
    # Another resident is not held back by the first one's limit.
    assert rate(client, h5_resident(client), codes[4].token).status_code == 201


def test_address_limit_holds_across_residents(app, client):
    app.config["RATE_LIMIT_ADDRESS"] = "2/minute"
    city = make_city(app)
    code = make_code(app, city["station_a"])
    assert rate(client, h5_resident(client), code.token).status_code == 201
    assert rate(client, h5_resident(client), code.token).status_code == 201
    assert_error_shape(rate(client, h5_resident(client), code.token), 429)
    other = {"REMOTE_ADDR": "198.51.100.20"}
    response = client.post(
        "/api/v1/evaluations",
        headers=h5_resident(client),
        json={"qr_token": code.token, "level": 5},
        environ_base=other,
    )
    assert response.status_code == 201


def test_a_default_limit_an_operator_configures_holds_where_no_route_declares_one(database_url):
    """The app declares no default limit, so the limiter skips its pass before each view;
    an operator who sets RATELIMIT_DEFAULT must still have it counted."""
    app = create_app({**base_config(database_url), "RATELIMIT_DEFAULT": "2/minute"})
    try:
        code = make_code(app, make_city(app)["station_a"])
        client = app.test_client()
        statuses = [client.get(f"/api/v1/scan/{code.token}").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert_error_shape(client.get(f"/api/v1/scan/{code.token}"), 429, "rate_limited")
    finally:
        limiter.limit_manager.set_default_limits([])  # the limiter is the process's own
        with app.app_context():
            db.engine.dispose()


def _redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        service_missing("未设置 TEST_REDIS_URL，跳过需要 Redis 的测试")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        service_missing(f"Redis 不可用（{url}）：{exc}")
    return url


def test_two_gunicorn_workers_share_the_limit_through_redis(app, database_url):
    redis_url = _redis_url()
    city = make_city(app)
    codes = [make_code(app, make_unit(app, parent=city["station_a"])) for _ in range(16)]
    env = {
        "REDIS_URL": redis_url,
        "RATE_LIMIT_RESIDENT": "4/minute",
        "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
    }
    with gunicorn_server(
        database_url,
        workers=2,
        threads=4,
        env=env,
        log_name="ratelimit",
        extra_args=[
            "--reuse-port",
            "--access-logfile",
            "-",
            "--access-logformat",
            "pid=%(p)s status=%(s)s",
        ],
    ) as base:
        token = requests.post(f"{base}/api/v1/auth/h5", timeout=10).json()["token"]
        statuses: list[int] = []

        def send(qr_token: str) -> None:
            response = requests.post(
                f"{base}/api/v1/evaluations",
                timeout=30,
                headers={"Authorization": f"Bearer {token}", "Connection": "close"},
                json={"qr_token": qr_token, "level": 5},
            )
            statuses.append(response.status_code)

        threads = [threading.Thread(target=send, args=(c.token,)) for c in codes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    log = (OUTPUT / "ratelimit.log").read_text()
    pids = set(re.findall(r"pid=<(\d+)> status=(?:201|429)", log)) or set(
        re.findall(r"pid=(\d+) status=(?:201|429)", log)
    )
    assert sorted(statuses) == [201] * 4 + [429] * 12, statuses
    if len(pids) < 2:
        pytest.fail(f"请求只到达了一个工作进程（{pids}），无法证明限流跨进程共享")


def _admitted_together(counter, limit, key: str, threads: int) -> int:
    """How many of `threads` requests arriving at the same moment for `key` are let through."""
    barrier = threading.Barrier(threads)
    results: list[bool] = []

    def hit() -> None:
        barrier.wait()
        results.append(counter.hit(limit, key))

    started = [threading.Thread(target=hit) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
    return sum(results)


def test_without_redis_the_app_counts_in_the_thread_safe_memory_storage(app):
    from app.ratelimit import SerializedMemoryStorage, limiter

    # In memory without Redis, and as the fallback when Redis is gone.
    assert isinstance(limiter.storage, SerializedMemoryStorage)
    assert isinstance(limiter._fallback_storage, SerializedMemoryStorage)


def test_in_memory_counting_admits_exactly_the_limit_when_threads_meet_a_new_key():
    """Without Redis (or after it went away) a gthread worker counts in memory: eight threads
    arriving together for a new resident must let exactly the limit through, every time.
    (limits' own MemoryStorage loses a count about once in a hundred such races.)"""
    from limits import parse
    from limits.strategies import FixedWindowRateLimiter

    from app.ratelimit import SerializedMemoryStorage

    counter = FixedWindowRateLimiter(SerializedMemoryStorage())
    limit = parse("4/minute")
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show at once
    try:
        admitted = [_admitted_together(counter, limit, f"id:{n}", 8) for n in range(1000)]
    finally:
        sys.setswitchinterval(switch_interval)
    assert set(admitted) == {4}, {n: admitted.count(n) for n in set(admitted)}
