"""Benchmark: POST /api/v1/evaluations under gunicorn, against a bare floor app.

For PostgreSQL and SQLite: a fresh migrated database with units, codes and residents; the
real app under gunicorn (gthread); wrk driving POST /evaluations from 32 connections, every
request a distinct (resident, code) pair; then the floor app (bare Flask, one INSERT per
request) under the same gunicorn settings and the same load. Prints requests/s, p50, p99,
errors, the ratio to the floor, and checks every 201 is a row afterwards. With limits in Redis
it also serves "the rules alone" (bench/floor_app.py: bare Flask doing only what every rating
must: the token, both limits, the code and burst read, the rating and its rollups), which
splits the gap into what the rules cost and what the framework costs.

Targets: ≥ 60 % of the floor's rate, p99 ≤ 100 ms on PostgreSQL, zero errors.
Rate limits are raised for the run (every request comes from 127.0.0.1).

Run: scripts/bench submit [--rounds 3] [--seconds 15] [--connections 32] [--workers 4]
     [--only postgresql]
Needs wrk (Debian package `wrk`; scripts/bench installs it when it can).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

from common import (
    BENCH_SECRET,
    ROOT,
    LoadResult,
    gunicorn,
    missing_rows,
    run_wrk,
    scratch_database,
)

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


def serve(
    target: str,
    port: int,
    url: str,
    pairs: list[tuple[str, str]],
    args: argparse.Namespace,
    env: dict[str, str],
) -> LoadResult:
    """Serve `target` with gunicorn and drive it with wrk for the run's seconds."""
    with gunicorn(
        target, url, port=port, workers=args.workers, threads=args.threads, env=env
    ) as base:
        return run_wrk(
            base,
            "/api/v1/evaluations",
            pairs,
            connections=args.connections,
            seconds=args.seconds,
        )


def clear_ratings(database_url: str) -> None:
    """Remove the ratings a run wrote (and their rollups), so the next run's pairs are new."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        for table in ("officer_rating_days", "unit_rating_days", "evaluations"):
            conn.execute(sa.text(f"DELETE FROM {table}"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--only", choices=["postgresql", "sqlite"])
    parser.add_argument(
        "--rounds", type=int, default=3, help="app, rules alone and floor, in turn, this often"
    )
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
        print(f"[{kind}]")
        ratios, rule_ratios, p99s, checks = [], [], [], []
        app_errors = 0
        with scratch_database(kind) as url:
            pairs = seed(url, codes=200, residents=max(100, 2000 * args.seconds // 200))
            create_floor_table(url)

            # Rounds alternate the servers, so a slower minute of a shared machine falls on
            # all of them; the ratios' median is the figure.
            for number in range(1, args.rounds + 1):
                clear_ratings(url)  # each run's (resident, code) pairs rate for the first time
                real = serve("run:app", 5811, url, pairs, args, env)
                missing = missing_rows(url, "evaluations", real.created_ids)
                rules = None
                if redis_url:  # the rules alone count their limits in Redis, as the app does
                    clear_ratings(url)
                    rules = serve("floor_app:rules", 5813, url, pairs, args, env)
                    missing += missing_rows(url, "evaluations", rules.created_ids)
                floor = serve("floor_app:app", 5812, url, pairs, args, env)
                missing += missing_rows(url, "bench_floor", floor.created_ids)
                print(f"  round {number}")
                for name, run in (("app", real), ("rules", rules), ("floor", floor)):
                    if run is not None:
                        print(
                            f"    {name:6} {run.rate:6.0f} req/s  p50 {run.p50_ms:6.1f} ms  "
                            f"p99 {run.p99_ms:6.1f} ms  errors {run.errors}  "
                            f"statuses {run.statuses}"
                        )
                ratios.append(real.rate / floor.rate)
                app_errors += real.errors
                p99s.append(real.p99_ms)
                if rules is not None:
                    rule_ratios.append((rules.rate / floor.rate, real.rate / rules.rate))
                acknowledged = sum(
                    run.statuses.get(201, 0) for run in (real, rules, floor) if run is not None
                )
                read = sum(len(run.created_ids) for run in (real, rules, floor) if run is not None)
                checks.append(missing == 0 and read == acknowledged)
                print(
                    f"    app/floor {ratios[-1]:.2f}"
                    + (
                        f"; rules alone/floor {rule_ratios[-1][0]:.2f}, "
                        f"app/rules alone {rule_ratios[-1][1]:.2f}"
                        if rules is not None
                        else ""
                    )
                    + f"; {acknowledged} answers 201, "
                    + ("every one a row" if checks[-1] else f"{missing} with NO row")
                )
        print(
            f"  median of {args.rounds}: ratio app/floor {statistics.median(ratios):.2f} "
            f"(target ≥ 0.60)"
            + (
                ""
                if kind != "postgresql"
                else f"; p99 {statistics.median(p99s):.1f} ms (target ≤ 100)"
            )
        )
        if rule_ratios:
            print(
                "  median: the rules alone (bare Flask) "
                f"{statistics.median(r for r, _ in rule_ratios):.2f} of the floor; the app "
                f"{statistics.median(a for _, a in rule_ratios):.2f} of the rules alone"
            )
        print(
            f"  errors of the app in all rounds: {app_errors} (target 0); "
            f"every 201 a row in every run: {'yes' if all(checks) else 'NO'}\n"
        )


if __name__ == "__main__":
    main()
