"""Benchmark: POST /api/v1/evaluations under gunicorn, against a bare floor app.

For PostgreSQL and SQLite: a fresh migrated database with units, codes and residents; the
real app under gunicorn (gthread); wrk driving POST /evaluations from 32 connections, every
request a distinct (resident, code) pair; then the floor app (bare Flask, one INSERT per
request) under the same gunicorn settings and the same load. Prints requests/s, p50, p99,
errors, the ratio to the floor, and checks every 201 is a row afterwards.

Targets: ≥ 60 % of the floor's rate, p99 ≤ 100 ms on PostgreSQL, zero errors.
Rate limits are raised for the run (every request comes from 127.0.0.1).

Run: scripts/bench submit [--seconds 15] [--connections 32] [--workers 4] [--only postgresql]
Needs wrk (Debian package `wrk`; scripts/bench installs it when it can).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from common import BENCH_SECRET, ROOT, gunicorn, missing_rows, run_wrk, scratch_database

sys.path.insert(0, str(ROOT))


def seed(database_url: str, *, codes: int, residents: int) -> list[tuple[str, str]]:
    """Units, codes and residents; returns (resident token, body) pairs, each pair distinct."""
    from app import create_app
    from app.extensions import db
    from app.org.models import UnitKind
    from app.org.service import create_unit
    from evaluations.identity import Channel, Resident, ResidentIdentity, resident_token
    from qr.service import issue_code
    from tests.conftest import base_config

    app = create_app({**base_config(database_url), "SECRET_KEY": BENCH_SECRET})
    with app.app_context():
        root = create_unit(code="B", name="基准测试市", kind=UnitKind.COMMITTEE, parent=None)
        tokens = []
        for n in range(codes):
            unit = create_unit(
                code=f"B{n}", name=f"基准测试派出所{n}", kind=UnitKind.POLICE, parent=root
            )
            tokens.append(issue_code(unit=unit).token)
        db.session.bulk_save_objects(
            [Resident(identity_hash=f"{n:064d}", channel=Channel.H5) for n in range(residents)]
        )
        db.session.commit()
        resident_ids = [row.id for row in db.session.query(Resident.id).order_by(Resident.id)]
        auth = [resident_token(ResidentIdentity(rid, Channel.H5))["token"] for rid in resident_ids]
        db.engine.dispose()
    pairs = []
    for index in range(codes * residents):
        resident, code = divmod(index, codes)
        body = {
            "qr_token": tokens[code],
            "level": 5 - index % 5,
            "dimensions": {"attitude": 5, "efficiency": 4},
            "comment": "窗口服务很好",
        }
        pairs.append((auth[resident], json.dumps(body, ensure_ascii=False)))
    return pairs


def create_floor_table(database_url: str) -> None:
    import sqlalchemy as sa
    from floor_app import metadata

    engine = sa.create_engine(database_url)
    metadata.create_all(engine)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--only", choices=["postgresql", "sqlite"])
    parser.add_argument(
        "--limits",
        choices=["redis", "memory"],
        default="redis",
        help="where the rate-limit counters live (production: redis)",
    )
    args = parser.parse_args()
    # Several workers share rate limits through Redis in production; the bench does too.
    redis_url = (
        os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
        if args.limits == "redis"
        else ""
    )
    env = {
        "RATE_LIMIT_RESIDENT": "1000000/hour",
        "RATE_LIMIT_ADDRESS": "100000000/hour",
        "REDIS_URL": redis_url,
        "RATELIMIT_KEY_PREFIX": f"bench-{os.getpid()}",
        "PYTHONPATH": f"{ROOT}:{ROOT / 'bench'}",
    }
    kinds = [args.only] if args.only else ["postgresql", "sqlite"]
    print(
        f"POST /api/v1/evaluations — {args.connections} connections, {args.seconds} s, "
        f"gunicorn {args.workers}×{args.threads} gthread, {os.cpu_count()} cores, "
        f"rate limits in {redis_url or 'process memory'}\n"
    )
    for kind in kinds:
        with scratch_database(kind) as url:
            pairs = seed(url, codes=200, residents=max(100, 2000 * args.seconds // 200))
            with gunicorn(
                "run:app", url, port=5811, workers=args.workers, threads=args.threads, env=env
            ) as base:
                real = run_wrk(
                    base,
                    "/api/v1/evaluations",
                    pairs,
                    connections=args.connections,
                    seconds=args.seconds,
                )
            missing = missing_rows(url, "evaluations", real.created_ids)
            create_floor_table(url)
            with gunicorn(
                "floor_app:app", url, port=5812, workers=args.workers, threads=args.threads, env=env
            ) as base:
                floor = run_wrk(
                    base,
                    "/api/v1/evaluations",
                    pairs,
                    connections=args.connections,
                    seconds=args.seconds,
                )
            floor_missing = missing_rows(url, "bench_floor", floor.created_ids)
        created = real.statuses.get(201, 0)
        ratio = real.rate / floor.rate
        print(f"[{kind}]")
        print(
            f"  app    {real.rate:8.0f} req/s  p50 {real.p50_ms:6.1f} ms  "
            f"p99 {real.p99_ms:6.1f} ms  errors {real.errors}  statuses {real.statuses}"
        )
        print(
            f"  floor  {floor.rate:8.0f} req/s  p50 {floor.p50_ms:6.1f} ms  "
            f"p99 {floor.p99_ms:6.1f} ms  errors {floor.errors}"
        )
        print(
            f"  ratio app/floor {ratio:.2f} (target ≥ 0.60)"
            + ("" if kind != "postgresql" else f"; p99 {real.p99_ms:.1f} ms (target ≤ 100)")
        )
        verdict = (
            "every 201 is a row"
            if missing == 0 and len(real.created_ids) == created
            else f"{missing} acknowledged ids have NO row"
        )
        print(
            f"  201 answers {created} ({len(real.created_ids)} ids read): {verdict}; "
            f"floor: {floor_missing} missing\n"
        )


if __name__ == "__main__":
    main()
