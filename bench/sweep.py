"""Benchmark: the deadline sweep over 100,000 open clues.

Builds a scratch database with 100,000 clues in verification across 40 units, their due
dates spread over the next 20 working days with a share already overdue, then times the
deadline sweep and counts its SQL statements:
  1. the first run, which issues every reminder and supervision letter due today;
  2. the next run (the scheduler sweeps every 30 minutes), which finds nothing new.
Targets (PostgreSQL): under 1 s and a number of statements that does not grow with the
number of clues (a second, 4× smaller run shows the counts are the same).

Run: scripts/bench sweep [--clues 100000] [--only postgresql|sqlite]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from common import BENCH_SECRET, ROOT, scratch_database

sys.path.insert(0, str(ROOT))


def build(database_url: str, clues: int, now: datetime) -> None:
    """Units, staff, and `clues` clues with an open verification stage each."""
    from app import create_app
    from app.clock import local_day_end
    from app.extensions import db
    from app.org.models import Role, UnitKind
    from app.org.service import create_staff, create_unit
    from app.workdays import load_calendar
    from clues.models import Clue, ClueStage
    from tests.conftest import base_config

    app = create_app({**base_config(database_url), "SECRET_KEY": BENCH_SECRET})
    rng = random.Random(7)
    with app.app_context():
        root = create_unit(
            code="B", name="基准测试市委政法委", kind=UnitKind.COMMITTEE, parent=None
        )
        units = [
            create_unit(code=f"B{n}", name=f"基准测试派出所{n}", kind=UnitKind.POLICE, parent=root)
            for n in range(40)
        ]
        for n, unit in enumerate(units):
            create_staff(
                username=f"verifier{n}",
                password="Bench2026x",
                display_name="核查",
                role=Role.VERIFIER,
                unit=unit,
            )
        db.session.commit()
        calendar = load_calendar()
        today = now.date()
        due_days = [calendar.add_working_days(today, n) for n in range(0, 21)]
        clue_rows, stage_rows = [], []
        for n in range(1, clues + 1):
            unit = units[n % len(units)]
            # ~8 % overdue by up to a week, the rest due over the next 20 working days
            if rng.random() < 0.08:
                due = local_day_end(today - timedelta(days=rng.randint(1, 7)))
            else:
                due = local_day_end(rng.choice(due_days))
            assigned = due - timedelta(days=21)
            clue_rows.append(
                {
                    "id": n,
                    "tracking_no": f"XQ{n:014d}",
                    "source": "direct",
                    "status": "verifying",
                    "category": "conduct",
                    "unit_id": unit.id,
                    "description": "基准测试线索",
                    "assigned_unit_id": unit.id,
                    "due_at": due,
                    "persons_handled": 0,
                    "involves_misconduct": False,
                    "reporter_message": "",
                    "submitted_at": assigned,
                    "assigned_at": assigned,
                    "verifying_at": assigned,
                    "updated_at": assigned,
                }
            )
            stage_rows.append(
                {
                    "clue_id": n,
                    "stage": "verification",
                    "unit_id": unit.id,
                    "started_at": assigned,
                    "due_at": due,
                    "extended_days": 0,
                }
            )
        for start in range(0, clues, 10000):
            db.session.execute(sa.insert(Clue), clue_rows[start : start + 10000])
            db.session.execute(sa.insert(ClueStage), stage_rows[start : start + 10000])
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
        db.engine.dispose()


def timed_sweep(database_url: str, now: datetime) -> tuple[float, int, dict]:
    from app import create_app
    from app.extensions import db
    from notifications.sweeps import deadline_sweep
    from tests.conftest import base_config

    app = create_app({**base_config(database_url), "SECRET_KEY": BENCH_SECRET})
    statements = 0

    def count(*_: object) -> None:
        nonlocal statements
        statements += 1

    with app.app_context():
        db.session.execute(sa.text("SELECT 1"))  # connect outside the measurement
        db.session.rollback()
        sa.event.listen(db.engine, "before_cursor_execute", count)
        started = time.perf_counter()
        result = deadline_sweep(now=now)
        db.session.commit()
        elapsed = time.perf_counter() - started
        sa.event.remove(db.engine, "before_cursor_execute", count)
        db.engine.dispose()
    return elapsed, statements, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clues", type=int, default=100_000)
    parser.add_argument("--only", choices=["postgresql", "sqlite"])
    args = parser.parse_args()
    now = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # Wednesday 10:00 Beijing time
    print(f"deadline sweep over open clues, now = {now.isoformat()}\n")
    for kind in [args.only] if args.only else ["postgresql", "sqlite"]:
        for clues in (args.clues // 4, args.clues):
            with scratch_database(kind) as url:
                build(url, clues, now)
                first = timed_sweep(url, now)
                again = timed_sweep(url, now + timedelta(minutes=30))
            print(f"[{kind}] {clues:>7,} open clues")
            print(f"  first run  {first[0] * 1000:8.0f} ms  {first[1]:3d} statements  {first[2]}")
            print(f"  next run   {again[0] * 1000:8.0f} ms  {again[1]:3d} statements  {again[2]}")
        print()
    print("targets (PostgreSQL, 100,000 clues): under 1 s; statement counts equal for both sizes")


if __name__ == "__main__":
    main()
