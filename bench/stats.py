"""Benchmark: statistics over a year of a 133-unit city.

Builds a scratch database with 1,000,000 ratings and 100,000 clues (with their screening,
verification and review stages, re-ratings, appeals and referrals) spread over the year before
Wed 2 Dec 2026, then times, warm (the best of five runs, after one cold run):
  1. overview() for November 2026 and the whole city (the dashboard's default);
  2. unit_ranking() for the week of 23–29 Nov (the weekly notice, GET /stats/ranking);
and, for information, the overview of one district for the month and of the city for the
whole year, and the monthly ranking. It measures without the statistics indexes (dropped before
loading), then with them, as migrated (ix_evaluations_stats, ix_clues_submitted_at,
ix_clue_rerating_invitations_rated_at).

Target (PostgreSQL): under 200 ms each for 1 and 2.

Run: scripts/bench stats [--evaluations 1000000] [--clues 100000] [--only postgresql|sqlite]
(the same as python bench/stats.py …)
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from common import BENCH_SECRET, ROOT, scratch_database

sys.path.insert(0, str(ROOT))

NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # Wed 2 Dec 2026, 10:00 Beijing time
YEAR = timedelta(days=365)
DISTRICTS, UNITS_PER_DISTRICT, OFFICERS_PER_UNIT = 12, 10, 8
LEVELS = (5, 4, 3, 2, 1)
LEVEL_WEIGHTS = (55, 25, 10, 6, 4)
BATCH = 20_000


def _app(database_url: str):
    from app import create_app
    from tests.conftest import base_config

    return create_app({**base_config(database_url), "SECRET_KEY": BENCH_SECRET})


def _registry(app) -> dict[str, Any]:
    """The city, its districts and units, officers, one code per unit and per officer, and a
    screener (who refers cases), through the real services."""
    from app.extensions import db
    from app.org.models import Role, UnitKind
    from app.org.service import create_officer, create_staff, create_unit
    from qr.service import issue_code

    kinds = (
        [UnitKind.POLICE] * 5 + [UnitKind.COURT, UnitKind.PROCURATORATE] + [UnitKind.JUSTICE] * 3
    )
    with app.app_context():
        city = create_unit(code="BC", name="基准市委政法委", kind=UnitKind.COMMITTEE, parent=None)
        screener = create_staff(
            username="bench-screener",
            password="Bench2026x",
            display_name="审核",
            role=Role.SCREENER,
            unit=city,
        )
        leaves, officers, codes = [], [], []
        for d in range(DISTRICTS):
            district = create_unit(
                code=f"BD{d}", name=f"基准{d}区委政法委", kind=UnitKind.COMMITTEE, parent=city
            )
            for u in range(UNITS_PER_DISTRICT):
                unit = create_unit(
                    code=f"BU{d}-{u}", name=f"基准{d}区单位{u}", kind=kinds[u], parent=district
                )
                leaves.append(unit)
                codes.append((issue_code(unit=unit).id, unit.id, None))
                for o in range(OFFICERS_PER_UNIT):
                    officer = create_officer(
                        unit=unit, name=f"民警{d}-{u}-{o}", staff_no=f"{d:02d}{u:02d}{o:02d}"
                    )
                    officers.append((officer.id, unit.id))
                    codes.append((issue_code(unit=unit, officer=officer).id, unit.id, officer.id))
        db.session.commit()
        return {
            "city_id": city.id,
            "screener_id": screener.id,
            "units": [u.id for u in leaves],
            "officers": officers,
            "codes": codes,
            "questionnaire_id": db.session.scalar(sa.text("SELECT min(id) FROM questionnaires")),
        }


def _beijing_day(moment: datetime) -> date:
    return (moment + timedelta(hours=8)).date()


def _evaluations(registry: dict, count: int, residents: int, rng: random.Random) -> Iterator[dict]:
    """Ratings in time order (as they arrive), units rated unevenly."""
    codes = registry["codes"]
    weights = [rng.paretovariate(1.5) for _ in codes]
    start = NOW - YEAR
    picks = rng.choices(range(len(codes)), weights=weights, k=count)
    offsets = sorted(rng.random() * YEAR.total_seconds() for _ in range(count))
    for n, (offset, pick) in enumerate(zip(offsets, picks, strict=True), start=1):
        created = start + timedelta(seconds=offset)
        code_id, unit_id, officer_id = codes[pick]
        excluded = rng.random() < 0.02
        yield {
            "id": n,
            "resident_id": rng.randint(1, residents),
            "qr_code_id": code_id,
            "unit_id": unit_id,
            "officer_id": officer_id,
            "questionnaire_id": registry["questionnaire_id"],
            "level": rng.choices(LEVELS, LEVEL_WEIGHTS)[0],
            "dimensions": {},
            "reasons": [],
            "comment": "",
            "channel": "wechat",
            "entry_scene": 1011,
            "scanned_at": None,
            "created_at": created,
            "local_day": _beijing_day(created),
            "period_start": None,
            "client_hash": "",
            "flags": ["burst_code"] if excluded else [],
            "is_excluded": excluded,
        }


def _clues(registry: dict, count: int, residents: int, rng: random.Random) -> dict[str, list[dict]]:
    """Clues over the year, each taken as far as its dates allow by NOW: screened (rejected,
    merged, forwarded or assigned), verified (on time or late), reviewed, closed, re-rated,
    appealed, referred."""
    units, officers = registry["units"], registry["officers"]
    by_unit: dict[int, list[int]] = {}
    for officer_id, unit_id in officers:
        by_unit.setdefault(unit_id, []).append(officer_id)
    rows: dict[str, list[dict]] = {
        "clues": [],
        "stages": [],
        "invitations": [],
        "appeals": [],
        "referrals": [],
    }
    start = NOW - YEAR
    offsets = sorted(rng.random() * YEAR.total_seconds() for _ in range(count))
    day = timedelta(days=1)

    def stage(
        clue_id: int,
        kind: str,
        unit_id: int | None,
        began: datetime,
        due: datetime,
        ended: datetime | None,
    ) -> None:
        rows["stages"].append(
            {
                "clue_id": clue_id,
                "stage": kind,
                "unit_id": unit_id,
                "started_at": began,
                "due_at": due,
                "finished_at": ended,
                "on_time": None if ended is None else ended <= due,
                "extended_days": 0,
            }
        )

    for n, offset in enumerate(offsets, start=1):
        submitted = start + timedelta(seconds=offset)
        unit_id = rng.choice(units)
        clue: dict[str, Any] = {
            "id": n,
            "tracking_no": f"XQ{_beijing_day(submitted):%Y%m%d}-{n:06d}",
            "source": rng.choice(["evaluation", "direct", "direct", "survey"]),
            "status": "submitted",
            "category": rng.choice(
                ["conduct", "integrity", "unfair_enforcement", "buck_passing", "other"]
            ),
            "unit_id": unit_id,
            "description": "基准测试线索",
            "officer_id": rng.choice(by_unit[unit_id]) if rng.random() < 0.6 else None,
            "reporter_message": "",
            "persons_handled": 0,
            "involves_misconduct": False,
            "submitted_at": submitted,
            "updated_at": submitted,
            "due_at": None,
        }
        rows["clues"].append(clue)
        screened = submitted + day * rng.uniform(0.1, 3.5)
        screen_due = submitted + day * 3
        if screened > NOW:
            stage(n, "screening", None, submitted, screen_due, None)
            clue["due_at"] = screen_due
            continue
        stage(n, "screening", None, submitted, screen_due, screened)
        fate = rng.random()
        if fate < 0.15:
            clue.update(status="rejected", rejected_at=screened, reject_reason="no_substance")
            continue
        if fate < 0.20 and n > 1:
            clue.update(
                status="merged", merged_at=screened, master_id=rng.randint(max(1, n - 50), n - 1)
            )
            continue
        if fate < 0.28:
            clue.update(
                status="closed",
                category="livelihood",
                forwarded_at=screened,
                closed_at=screened + day * 5,
            )
            continue
        clue.update(
            status="assigned", accepted_at=screened, assigned_at=screened, assigned_unit_id=unit_id
        )
        verify_due = screened + day * 21
        verified = screened + day * rng.uniform(2, 26)
        if verified > NOW:
            stage(n, "verification", unit_id, screened, verify_due, None)
            clue.update(status="verifying", verifying_at=screened, due_at=verify_due)
            continue
        stage(n, "verification", unit_id, screened, verify_due, verified)
        review_due = verified + day * 4
        reviewed = verified + day * rng.uniform(0.2, 5)
        clue.update(verifying_at=screened, reviewing_at=verified)
        if reviewed > NOW:
            stage(n, "review", None, verified, review_due, None)
            clue.update(status="reviewing", due_at=review_due)
            continue
        stage(n, "review", None, verified, review_due, reviewed)
        outcome = rng.choices(["unfounded", "substantiated", "partly_substantiated"], [80, 12, 8])[
            0
        ]
        misconduct = outcome != "unfounded" and rng.random() < 0.3
        clue.update(
            status="closed",
            closed_at=reviewed,
            outcome=outcome,
            involves_misconduct=misconduct,
            rerating_due_at=reviewed + day * 7,
            persons_handled=rng.choice([0, 1, 1, 2]) if outcome != "unfounded" else 0,
        )
        invitation = {
            "clue_id": n,
            "resident_id": rng.randint(1, residents),
            "round": 1,
            "invited_at": reviewed,
            "expires_at": reviewed + day * 7,
            "status": "pending",
            "comment": "",
        }
        rated = reviewed + day * rng.uniform(0, 7)
        if rng.random() < 0.6 and rated <= NOW:
            invitation.update(
                status="rated",
                rated_at=rated,
                level=rng.choices(LEVELS, (50, 25, 10, 8, 7))[0],
                resolved=rng.random() < 0.8,
            )
        elif invitation["expires_at"] <= NOW:
            invitation["status"] = "not_rated"
        rows["invitations"].append(invitation)
        appealed = reviewed + day * rng.uniform(0.5, 7)
        if rng.random() < 0.03 and appealed <= NOW:
            decided = appealed + day * 2
            rows["appeals"].append(
                {
                    "clue_id": n,
                    "resident_id": invitation["resident_id"],
                    "reason": "不满意",
                    "created_at": appealed,
                    "decision": "upheld" if decided <= NOW else None,
                    "decided_at": decided if decided <= NOW else None,
                    "decision_note": "",
                }
            )
            if decided > NOW:
                clue.update(status="appealed", appealed_at=appealed)
        if misconduct:
            rows["referrals"].append(
                {
                    "clue_id": n,
                    "status": "concluded",
                    "dossier": {},
                    "dossier_sha256": "0" * 64,
                    "note": "",
                    "referred_by": registry["screener_id"],
                    "referred_at": reviewed,
                    "concluded_at": reviewed + day * 10,
                    "persons_handled": rng.choice([1, 1, 2]),
                    "measures": "诫勉谈话",
                }
            )
    # Every row of a table carries the same keys (executemany and COPY need one shape).
    keys = sorted({key for clue in rows["clues"] for key in clue})
    rows["clues"] = [{key: clue.get(key) for key in keys} for clue in rows["clues"]]
    keys = sorted({key for inv in rows["invitations"] for key in inv})
    rows["invitations"] = [{key: inv.get(key) for key in keys} for inv in rows["invitations"]]
    return rows


def _load(engine: sa.Engine, table: sa.Table, rows: Iterable[dict]) -> int:
    """Bulk load: COPY on PostgreSQL, batched executemany on SQLite."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return 0
    count = 0
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            statement = f"COPY {table.name} ({', '.join(first)}) FROM STDIN"
            with raw.cursor() as cursor, cursor.copy(statement) as copy:
                for row in itertools.chain([first], rows):
                    copy.write_row(
                        [
                            json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
                            for v in row.values()
                        ]
                    )
                    count += 1
            raw.commit()
        finally:
            raw.close()
        return count
    rows = itertools.chain([first], rows)
    with engine.begin() as conn:
        while batch := list(itertools.islice(rows, BATCH)):
            conn.execute(table.insert(), batch)
            count += len(batch)
    return count


def build(database_url: str, evaluations: int, clues: int) -> dict:
    from app.extensions import db
    from clues.models import Appeal, Clue, ClueStage, Referral, ReratingInvitation
    from evaluations.identity import Resident
    from evaluations.models import Evaluation

    app = _app(database_url)
    registry = _registry(app)
    rng = random.Random(7)
    residents = max(1000, evaluations // 10)
    with app.app_context():
        engine = db.engine
        started = time.perf_counter()
        _load(
            engine,
            Resident.__table__,
            (
                {
                    "id": n,
                    "identity_hash": f"{n:064x}",
                    "channel": "wechat",
                    "created_at": NOW - YEAR,
                    "last_seen_at": NOW - YEAR,
                }
                for n in range(1, residents + 1)
            ),
        )
        _load(engine, Evaluation.__table__, _evaluations(registry, evaluations, residents, rng))
        made = _clues(registry, clues, residents, rng)
        _load(engine, Clue.__table__, made["clues"])
        _load(engine, ClueStage.__table__, made["stages"])
        _load(engine, ReratingInvitation.__table__, made["invitations"])
        _load(engine, Appeal.__table__, made["appeals"])
        _load(engine, Referral.__table__, made["referrals"])
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                for table in (
                    "residents",
                    "evaluations",
                    "clues",
                    "clue_stages",
                    "clue_rerating_invitations",
                ):
                    conn.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{table}', "
                        f"'id'), (SELECT max(id) FROM {table}))"
                    )
                conn.commit()
        _analyze(engine)
        registry["load_seconds"] = time.perf_counter() - started
        registry["stages"] = len(made["stages"])
        registry["invitations"] = len(made["invitations"])
        engine.dispose()
    return registry


def _analyze(engine: sa.Engine) -> None:
    """Fresh planner statistics (and, on PostgreSQL, the visibility map autovacuum keeps)."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()


STATS_INDEXES = (
    "ix_evaluations_stats",
    "ix_clues_submitted_at",
    "ix_clue_rerating_invitations_rated_at",
)


def _stats_indexes() -> list[sa.Index]:
    from app.extensions import db

    return [
        index
        for table in db.metadata.tables.values()
        for index in table.indexes
        if index.name in STATS_INDEXES
    ]


def drop_indexes(database_url: str) -> None:
    """Take the statistics indexes away (faster loading, and the 'before' figures)."""
    from app.extensions import db

    app = _app(database_url)
    with app.app_context():
        for index in _stats_indexes():
            index.drop(db.engine, checkfirst=True)
        db.engine.dispose()


def add_indexes(database_url: str) -> list[str]:
    """Put the statistics indexes back, as the migrations create them."""
    from app.extensions import db

    app = _app(database_url)
    with app.app_context():
        for index in _stats_indexes():
            index.create(db.engine, checkfirst=True)
        _analyze(db.engine)
        db.engine.dispose()
    return list(STATS_INDEXES)


def _timed(call: Callable[[], Any], runs: int = 5) -> tuple[float, float, Any]:
    """(cold ms, best warm ms, result)."""
    from app.extensions import db

    started = time.perf_counter()
    result = call()
    cold = (time.perf_counter() - started) * 1000
    db.session.rollback()
    warm = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        warm.append((time.perf_counter() - started) * 1000)
        db.session.rollback()
    return cold, min(warm), result


def measure(database_url: str, registry: dict) -> list[tuple[str, float, float, Any]]:
    from app import clock
    from app.extensions import db
    from app.org.models import Unit
    from stats.overview import overview
    from stats.ranking import unit_ranking

    app = _app(database_url)
    clock.set_now(NOW)
    try:
        with app.app_context():
            db.session.execute(sa.text("SELECT 1"))  # connect outside the measurement
            city = db.session.get(Unit, registry["city_id"])
            district = db.session.scalars(
                sa.select(Unit).where(Unit.parent_id == city.id).order_by(Unit.id)
            ).first()
            db.session.expunge_all()
            city, district = db.session.merge(city), db.session.merge(district)
            november = (date(2026, 11, 1), date(2026, 11, 30))
            week = (date(2026, 11, 23), date(2026, 11, 29))
            cases: list[tuple[str, Callable[[], Any]]] = [
                (
                    "overview, city, November",
                    lambda: overview(start=november[0], end=november[1], root=city),
                ),
                ("weekly ranking, 23–29 Nov", lambda: unit_ranking(start=week[0], end=week[1])),
                (
                    "(info) overview, one district, November",
                    lambda: overview(start=november[0], end=november[1], root=district),
                ),
                (
                    "(info) monthly ranking, November",
                    lambda: unit_ranking(start=november[0], end=november[1]),
                ),
                (
                    "(info) overview, city, the whole year",
                    lambda: overview(start=date(2025, 12, 2), end=date(2026, 12, 1), root=city),
                ),
            ]
            results = [(name, *_timed(call)) for name, call in cases]
            db.engine.dispose()
            return results
    finally:
        clock.set_now(None)


def _report(kind: str, label: str, results: list) -> None:
    print(f"  {label}")
    for name, cold, warm, _ in results:
        print(f"    {name:<42} cold {cold:8.1f} ms   warm {warm:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=1_000_000)
    parser.add_argument("--clues", type=int, default=100_000)
    parser.add_argument("--only", choices=["postgresql", "sqlite"])
    args = parser.parse_args()
    print(
        f"statistics over {args.evaluations:,} ratings and {args.clues:,} clues, "
        f"now = {NOW.isoformat()} (Wed 2 Dec 2026, 10:00 Beijing)\n"
    )
    for kind in [args.only] if args.only else ["postgresql", "sqlite"]:
        with scratch_database(kind) as url:
            drop_indexes(url)
            registry = build(url, args.evaluations, args.clues)
            print(
                f"[{kind}] loaded in {registry['load_seconds']:.0f} s: "
                f"{len(registry['units'])} rated units, {len(registry['officers'])} officers, "
                f"{registry['stages']:,} stages, {registry['invitations']:,} re-rating "
                "invitations"
            )
            before = measure(url, registry)
            _report(kind, "without the statistics indexes", before)
            names = add_indexes(url)
            after = measure(url, registry)
            _report(kind, f"as migrated, with {', '.join(names)}", after)
            figures = {
                k: (round(v, 4) if isinstance(v, float) else v)
                for k, v in after[0][3].items()
                if k not in ("start", "end", "unit")
            }
            print(f"  overview, city, November: {figures}")
            ranking = after[1][3]
            print(
                f"  weekly ranking: {len(ranking.units)} units, "
                f"{len(ranking.by_satisfaction)} ranked on satisfaction, "
                f"{len(ranking.by_on_time)} on time, red list "
                f"{[u.unit_name for u in ranking.red_list]}, 约谈 {len(ranking.interview_list)}"
            )
        print()
    print(
        "target (PostgreSQL): overview for a month of the whole city and the weekly ranking "
        "under 200 ms each"
    )


if __name__ == "__main__":
    main()
