"""Profile: where one POST /api/v1/evaluations spends its time, in process.

Seeds a scratch database as bench/submit.py does, then sends N ratings through the Flask test
client under cProfile (rate limits in Redis, as in production) and prints the share of the
time spent in each layer (rate limiting, token check, request parsing, the database, JSON,
the rest of Flask), then the top functions by own time.

Run: scripts/bench profile_submit [--requests 2000] [--only postgresql|sqlite] [--top 25]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time

from common import BENCH_SECRET, ROOT, scratch_database
from submit import seed

sys.path.insert(0, str(ROOT))

# A function belongs to the first layer whose marker appears in its file path or name.
LAYERS = (
    ("rate limits (Flask-Limiter, limits, redis)", ("flask_limiter", "/limits/", "/redis/")),
    ("token check (itsdangerous, app.auth)", ("itsdangerous", "app/auth.py", "identity.py")),
    (
        "input schema (apiflask, webargs, marshmallow, pydantic)",
        ("apiflask", "webargs", "marshmallow", "pydantic"),
    ),
    ("database (SQLAlchemy, driver)", ("sqlalchemy", "psycopg", "sqlite3")),
    ("JSON", ("json",)),
    ("our code (evaluations, clues, stats)", ("evaluations/", "clues/", "stats/", "app/")),
    ("Flask, Werkzeug, test client", ("flask/", "werkzeug", "click")),
)


def _layer(filename: str) -> str:
    for name, markers in LAYERS:
        if any(marker in filename for marker in markers):
            return name
    return "other"


def run(kind: str, requests: int, top: int) -> None:
    os.environ.update(
        RATE_LIMIT_RESIDENT="1000000/hour",
        RATE_LIMIT_ADDRESS="100000000/hour",
    )
    from app import create_app
    from tests.conftest import base_config

    with scratch_database(kind) as url:
        pairs = seed(url, codes=200, residents=max(20, requests // 200 + 1))[:requests]
        redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
        app = create_app(
            {
                **base_config(url),
                "SECRET_KEY": BENCH_SECRET,
                "RATELIMIT_STORAGE_URI": redis_url,
                "RATELIMIT_KEY_PREFIX": f"profile-{os.getpid()}",
                "RATE_LIMIT_RESIDENT": "1000000/hour",
                "RATE_LIMIT_ADDRESS": "100000000/hour",
            }
        )
        client = app.test_client()
        for token, body in pairs[:20]:  # warm: connections, caches, compiled statements
            _post(client, token, body)
        half = (len(pairs) - 20) // 2 + 20
        statuses: dict[int, int] = {}
        # Unprofiled first: wall and CPU time per rating as it really runs.
        wall, cpu = time.perf_counter(), time.process_time()
        for token, body in pairs[20:half]:
            status = _post(client, token, body)
            statuses[status] = statuses.get(status, 0) + 1
        count = half - 20
        wall = (time.perf_counter() - wall) / count * 1000
        cpu = (time.process_time() - cpu) / count * 1000
        # Then CPU time by layer (waiting on the database or Redis is not this process's CPU).
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        for token, body in pairs[half:]:
            status = _post(client, token, body)
            statuses[status] = statuses.get(status, 0) + 1
        profile.disable()
        print(
            f"[{kind}] {count} ratings unprofiled: {wall:.2f} ms wall, {cpu:.2f} ms CPU each "
            f"(test client, one thread); statuses {statuses}"
        )
        _report(profile, top)


def _post(client, token: str, body: str) -> int:
    return client.post(
        "/api/v1/evaluations",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    ).status_code


def _report(profile: cProfile.Profile, top: int) -> None:
    stats = pstats.Stats(profile)
    own: dict[str, float] = {}
    total = 0.0
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        layer = _layer(f"{filename}:{name}")
        own[layer] = own.get(layer, 0.0) + tottime
        total += tottime
    print("  CPU time by layer, profiled half:")
    for layer, seconds in sorted(own.items(), key=lambda item: -item[1]):
        print(f"  {seconds / total:6.1%}  {layer}")
    print("  top functions by own time:")
    stats.sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--only", choices=["postgresql", "sqlite"])
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    for kind in [args.only] if args.only else ["postgresql", "sqlite"]:
        run(kind, args.requests, args.top)


if __name__ == "__main__":
    main()
