"""The rating endpoint counts all its limits (per network, per resident by hour and day) in
one Redis round trip, and still refuses the request over a limit in the error shape."""

from __future__ import annotations

import uuid

import redis

from app import create_app
from tests.app.test_errors import assert_error_shape
from tests.conftest import base_config
from tests.evaluations.helpers import h5_resident, rate
from tests.evaluations.test_ratelimit import _redis_url
from tests.factories import make_city, make_unit
from tests.qr.factories import make_code


def test_limits_are_counted_in_one_round_trip_and_still_hold(database_url, monkeypatch):
    url = _redis_url()
    prefix = f"one-trip-{uuid.uuid4().hex}"
    app = create_app(
        {
            **base_config(database_url),
            "REDIS_URL": url,
            "RATELIMIT_KEY_PREFIX": prefix,
            "RATE_LIMIT_RESIDENT": "3/minute;50/day",
            "RATE_LIMIT_ADDRESS": "100/hour",
        }
    )
    client = app.test_client()
    city = make_city(app)
    codes = [make_code(app, make_unit(app, parent=city["station_a"])) for _ in range(5)]
    resident = h5_resident(client)
    assert rate(client, resident, codes[0].token).status_code == 201  # loads the script

    commands: list[str] = []
    original = redis.Redis.execute_command

    def counted(self, *args, **options):
        commands.append(str(args[0]))
        return original(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", counted)
    assert [rate(client, resident, c.token).status_code for c in codes[1:3]] == [201, 201]
    assert commands == ["EVALSHA", "EVALSHA"]  # three limits, one round trip a request

    limited = rate(client, resident, codes[3].token)
    body = assert_error_shape(limited, 429, "rate_limited")
    assert body["details"]["limit"] == "3 per 1 minute"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert body["details"]["retry_after"] == int(limited.headers["Retry-After"])
    monkeypatch.undo()

    keys = [k.decode() for k in redis.Redis.from_url(url).keys(f"*{prefix}*")]
    assert any("rate-resident" in k for k in keys) and any("rate-address" in k for k in keys)
    # Another resident is not held back by the first one's limit.
    assert rate(client, h5_resident(client), codes[4].token).status_code == 201
