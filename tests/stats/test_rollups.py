"""The daily rollups answer exactly what counting the raw ratings and clues answers: random
histories of ratings (through the ORM and through the hot path's Core insert), clues moved
through their states, recategorised, moved between units and reassigned, referrals,
verification stages started and finished, re-ratings and appeals, deletions; after each,
the stored rollups equal the raw GROUP BY, and the overview, the ranking and the officer
summaries of a random period and subtree equal a count made here by hand from the rows."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.clock import local_date
from app.extensions import db
from app.org.models import Officer, Unit, subtree_filter
from clues.models import (
    Appeal,
    AppealDecision,
    Clue,
    ClueSource,
    ClueStage,
    Outcome,
    Referral,
    ReratingInvitation,
    ReratingStatus,
    Stage,
)
from clues.states import ClueStatus
from evaluations.identity import Channel, Resident
from evaluations.models import Evaluation
from evaluations.questionnaire import ClueCategory
from evaluations.rollups import insert_rating
from stats.officers import officer_summaries
from stats.overview import overview
from stats.ranking import unit_ranking
from stats.rollups import rebuild_rollups, verify_rollups
from tests.factories import make_city, make_officer, make_staff
from tests.qr.factories import make_code

# The days a history happens on and a period starts or ends on: around month ends, so a
# period holds whole months (read from the clue rollup's monthly layer), odd days before and
# after them (read from the daily rows), or neither.
DAYS = [
    date(2026, 9, 30),
    date(2026, 10, 1),
    date(2026, 10, 16),
    date(2026, 10, 31),
    date(2026, 11, 1),
    date(2026, 11, 2),
    date(2026, 11, 30),
]
S, OUT = ClueStatus, Outcome
# Clue states as the workflow leaves them (fields not named are empty).
STATES = [
    {"status": S.SUBMITTED},
    {"status": S.ACCEPTED},
    {"status": S.REJECTED, "rejected_at": True},
    {"status": S.MERGED, "merged_at": True},
    {"status": S.CLOSED, "forwarded_at": True},
    {"status": S.VERIFYING, "assigned_at": True},
    {"status": S.VERIFYING, "assigned_at": True, "self_verification_reason": "本单位核查"},
    {"status": S.CLOSED, "assigned_at": True, "outcome": OUT.UNFOUNDED},
    {"status": S.CLOSED, "assigned_at": True, "outcome": OUT.SUBSTANTIATED, "persons_handled": 2},
    {"status": S.CLOSED, "assigned_at": True, "outcome": OUT.PARTLY_SUBSTANTIATED},
    {"status": S.APPEALED, "assigned_at": True, "outcome": OUT.UNFOUNDED},
]
STATE_FIELDS = ("rejected_at", "merged_at", "forwarded_at", "assigned_at", "outcome")
_numbers = itertools.count(1)

moment = st.builds(
    lambda day, minute: datetime.combine(day, datetime.min.time(), UTC) + timedelta(minutes=minute),
    st.sampled_from(DAYS),
    st.sampled_from([0, 15 * 60 + 59, 16 * 60, 23 * 60]),  # around Beijing midnight (16:00 UTC)
)
pick = st.integers(0, 1000)
operations = st.one_of(
    st.tuples(
        st.sampled_from(["rate_orm", "rate_core"]),
        pick,
        st.booleans(),
        st.integers(1, 5),
        st.booleans(),
        moment,
    ),
    st.tuples(
        st.just("clue"), pick, st.booleans(), st.sampled_from(list(ClueCategory)), moment, pick
    ),
    st.tuples(st.just("move"), pick, pick),
    st.tuples(st.just("recategorise"), pick, st.sampled_from(list(ClueCategory))),
    st.tuples(st.just("refer"), pick, st.integers(0, 3)),
    st.tuples(st.just("unrefer"), pick),
    st.tuples(st.just("delete_rating"), pick),
    st.tuples(st.just("reassign"), pick, st.one_of(st.none(), pick)),
    st.tuples(
        st.just("rerate"),
        pick,
        st.sampled_from(list(ReratingStatus)),
        st.integers(1, 5),
        st.one_of(st.none(), st.booleans()),
        moment,
    ),
    st.tuples(
        st.just("appeal"), pick, st.one_of(st.none(), st.sampled_from(list(AppealDecision))), moment
    ),
    st.tuples(st.just("stage"), pick, pick, moment, st.integers(-2, 2), st.booleans()),
    st.tuples(st.just("finish_stage"), pick, st.one_of(st.none(), moment)),
    st.tuples(st.just("delete_clue"), pick),
)


@pytest.fixture
def world(app):
    city = make_city(app)
    stations = [city["station_a"], city["court_a"], city["station_b"]]
    officers = {u.id: [make_officer(app, u), make_officer(app, u)] for u in stations}
    codes = {u.id: make_code(app, u) for u in stations}
    screener = make_staff(app, _role("screener"), city["city"])
    with app.app_context():
        resident = Resident(identity_hash="f" * 64, channel=Channel.H5)
        db.session.add(resident)
        db.session.commit()
        resident_id = resident.id
        questionnaire_id = db.session.scalar(sa.text("SELECT min(id) FROM questionnaires"))
    return {
        "city": city,
        "stations": stations,
        "officers": officers,
        "codes": codes,
        "screener_id": screener.id,
        "resident_id": resident_id,
        "questionnaire_id": questionnaire_id,
    }


def _role(name: str):
    from app.org.models import Role

    return Role(name)


def _rating_values(world: dict, unit: Unit, officer: bool, level: int, excluded: bool, at):
    officer_id = world["officers"][unit.id][0].id if officer else None
    return {
        "resident_id": world["resident_id"],
        "qr_code_id": world["codes"][unit.id].id,
        "unit_id": unit.id,
        "officer_id": officer_id,
        "questionnaire_id": world["questionnaire_id"],
        "level": level,
        "dimensions": {},
        "reasons": [],
        "comment": "",
        "channel": Channel.H5,
        "created_at": at,
        "local_day": local_date(at),
        "period_start": None,
        "client_hash": "",
        "flags": [],
        "is_excluded": excluded,
    }


def _set_state(clue: Clue, state: dict, at: datetime) -> None:
    for name in STATE_FIELDS:
        setattr(clue, name, None)
    clue.self_verification_reason = ""
    clue.persons_handled = 0
    for name, value in state.items():
        setattr(clue, name, at if value is True else value)


def _apply(world: dict, operation: tuple) -> None:
    kind, *args = operation
    stations = world["stations"]
    clues = db.session.scalars(sa.select(Clue).order_by(Clue.id)).all()
    if kind in ("rate_orm", "rate_core"):
        index, officer, level, excluded, at = args
        values = _rating_values(world, stations[index % 3], officer, level, excluded, at)
        if kind == "rate_orm":
            db.session.add(Evaluation(**values))
        else:  # the hot path: a Core insert with its counts (one statement on PostgreSQL)
            insert_rating(db.session.connection(), values)
    elif kind == "clue":
        index, officer, category, at, state = args
        unit = stations[index % 3]
        clue = Clue(
            tracking_no=f"RT{next(_numbers):08d}",
            source=ClueSource.DIRECT,
            category=category,
            unit_id=unit.id,
            officer_id=world["officers"][unit.id][1].id if officer else None,
            description="测试",
            submitted_at=at,
        )
        _set_state(clue, STATES[state % len(STATES)], at)
        db.session.add(clue)
    elif kind == "finish_stage":
        stages = db.session.scalars(sa.select(ClueStage).order_by(ClueStage.id)).all()
        if stages:
            stage = stages[args[0] % len(stages)]
            stage.finished_at = args[1]
            stage.on_time = None if args[1] is None else args[1] <= stage.due_at
    elif kind == "delete_rating":
        ratings = db.session.scalars(sa.select(Evaluation).order_by(Evaluation.id)).all()
        if ratings:
            db.session.delete(ratings[args[0] % len(ratings)])
    elif clues:
        clue = clues[args[0] % len(clues)]
        referral = db.session.scalar(sa.select(Referral).where(Referral.clue_id == clue.id))
        if kind == "move":
            unit = stations[args[1] % 3]
            clue.unit_id, clue.officer_id = unit.id, None
            _set_state(clue, STATES[args[1] % len(STATES)], clue.submitted_at)
        elif kind == "recategorise":
            clue.category = args[1]
        elif kind == "refer" and referral is None:
            db.session.add(_referral(world, clue, args[1]))
        elif kind == "refer":
            referral.persons_handled = args[1] or None
        elif kind == "unrefer" and referral is not None:
            db.session.delete(referral)
        elif kind == "reassign":
            clue.assigned_unit_id = None if args[1] is None else stations[args[1] % 3].id
        elif kind == "rerate":  # the pending invitation answered, else a new round
            status, level, resolved, at = args[1:]
            rated = status == ReratingStatus.RATED
            invitation = db.session.scalar(
                sa.select(ReratingInvitation).where(
                    ReratingInvitation.clue_id == clue.id,
                    ReratingInvitation.status == ReratingStatus.PENDING,
                )
            )
            if invitation is None:
                invitation = ReratingInvitation(
                    clue_id=clue.id,
                    resident_id=world["resident_id"],
                    round=next(_numbers),
                    invited_at=at - timedelta(days=1),
                    expires_at=at + timedelta(days=10),
                )
                db.session.add(invitation)
            invitation.status = status
            invitation.level = level if rated else None
            invitation.resolved = resolved if rated else None
            invitation.rated_at = at if rated else None
        elif kind == "appeal":
            decision, at = args[1:]
            db.session.add(
                Appeal(
                    clue_id=clue.id,
                    resident_id=world["resident_id"],
                    reason="不满意",
                    created_at=at,
                    decision=decision,
                )
            )
        elif kind == "stage":
            unit_pick, at, due_in, finished = args[1:]
            due = at + timedelta(days=due_in)
            db.session.add(
                ClueStage(
                    clue_id=clue.id,
                    stage=Stage.VERIFICATION if unit_pick % 4 else Stage.SCREENING,
                    unit_id=stations[unit_pick % 3].id,
                    started_at=at - timedelta(days=3),
                    due_at=due,
                    finished_at=at if finished else None,
                    on_time=(at <= due) if finished else None,
                )
            )
        elif kind == "delete_clue" and referral is None:
            for model in (ReratingInvitation, Appeal, ClueStage):
                for child in db.session.scalars(sa.select(model).where(model.clue_id == clue.id)):
                    db.session.delete(child)
            db.session.flush()  # children first: not every child table is a mapped relationship
            db.session.delete(clue)
    db.session.flush()


def _referral(world: dict, clue: Clue, persons: int) -> Referral:
    return Referral(
        clue=clue,
        dossier={},
        dossier_sha256="0" * 64,
        referred_by=world["screener_id"],
        persons_handled=persons or None,
    )


def _in(moment: datetime, start: date, end: date) -> bool:
    return start <= local_date(moment) <= end


def _expected(units: set[int], start: date, end: date) -> dict[str, int]:
    """The overview's rating and clue figures, counted one row at a time."""
    ratings = [
        e
        for e in db.session.scalars(sa.select(Evaluation))
        if e.unit_id in units and _in(e.created_at, start, end)
    ]
    counted = [e for e in ratings if not e.is_excluded]
    clues = [
        c
        for c in db.session.scalars(sa.select(Clue))
        if c.unit_id in units and _in(c.submitted_at, start, end)
    ]
    referrals = {r.clue_id: r for r in db.session.scalars(sa.select(Referral))}
    handler = {c.id: c.assigned_unit_id or c.unit_id for c in db.session.scalars(sa.select(Clue))}
    reratings = [
        r
        for r in db.session.scalars(sa.select(ReratingInvitation))
        if r.status == ReratingStatus.RATED
        and handler[r.clue_id] in units
        and _in(r.rated_at, start, end)
    ]
    appeals = [
        a
        for a in db.session.scalars(sa.select(Appeal))
        if handler[a.clue_id] in units and _in(a.created_at, start, end)
    ]
    until = datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC) - timedelta(
        hours=8, microseconds=1
    )  # the last instant of `end` in Beijing (the period ended before now)
    finished = [
        g
        for g in db.session.scalars(sa.select(ClueStage))
        if g.stage == Stage.VERIFICATION
        and g.unit_id in units
        and g.finished_at is not None
        and _in(g.finished_at, start, end)
    ]
    late = [
        g
        for g in db.session.scalars(sa.select(ClueStage))
        if g.stage == Stage.VERIFICATION
        and g.unit_id in units
        and (g.finished_at is None or g.finished_at > until)
        and g.due_at <= until
    ]
    closed = [c for c in clues if c.status == S.CLOSED]
    assigned = [c for c in clues if c.assigned_at is not None]
    return {
        "evaluations": len(counted),
        "satisfied": sum(e.level >= 4 for e in counted),
        "bad_ratings": sum(e.level <= 2 for e in counted),
        "excluded_ratings": len(ratings) - len(counted),
        "clues_received": len(clues),
        "rejected": sum(c.rejected_at is not None for c in clues),
        "merged": sum(c.merged_at is not None for c in clues),
        "forwarded": sum(c.forwarded_at is not None for c in clues),
        "pending_screening": sum(c.status in (S.SUBMITTED, S.ACCEPTED) for c in clues),
        "clues_assigned": len(assigned),
        "unfounded": sum(c.outcome == OUT.UNFOUNDED for c in closed),
        "substantiated": sum(
            c.outcome in (OUT.SUBSTANTIATED, OUT.PARTLY_SUBSTANTIATED) for c in closed
        ),
        "partly_substantiated": sum(c.outcome == OUT.PARTLY_SUBSTANTIATED for c in closed),
        "under_verification": sum(
            c.status in (S.ASSIGNED, S.VERIFYING, S.REVIEWING, S.APPEALED) for c in assigned
        ),
        "self_verified": sum(c.self_verification_reason != "" for c in clues),
        "persons_handled": sum(c.persons_handled for c in closed),
        "referred": sum(c.id in referrals for c in clues),
        "referral_persons_handled": sum(
            referrals[c.id].persons_handled or 0 for c in clues if c.id in referrals
        ),
        "stages": len(finished) + len(late),
        "stages_on_time": sum(g.on_time is True for g in finished),
        "reratings": len(reratings),
        "rerating_satisfied": sum(r.level >= 4 and r.resolved is True for r in reratings),
        "resolved": sum(r.resolved is True for r in reratings),
        "appeals": len(appeals),
        "appeals_reopened": sum(a.decision == AppealDecision.REOPENED for a in appeals),
        "appeals_upheld": sum(a.decision == AppealDecision.UPHELD for a in appeals),
    }


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    history=st.lists(operations, min_size=1, max_size=12),
    root=st.sampled_from(["city", "district_a", "district_b", "station_a"]),
    first=st.sampled_from(DAYS),
    last=st.sampled_from(DAYS),
)
@example(  # a re-rated clue reassigned afterwards: its re-rating moves to the new unit
    history=[
        ("clue", 0, False, ClueCategory.CONDUCT, datetime(2026, 10, 30, 2, 0, tzinfo=UTC), 8),
        ("rerate", 0, ReratingStatus.RATED, 5, True, datetime(2026, 10, 30, 2, 0, tzinfo=UTC)),
        ("appeal", 0, AppealDecision.UPHELD, datetime(2026, 10, 30, 2, 0, tzinfo=UTC)),
        ("reassign", 0, 1),
    ],
    root="city",
    first=DAYS[0],
    last=DAYS[-1],
)
@example(  # a clue filed at Beijing midnight of 1 November counts in November's month row
    history=[
        ("clue", 0, False, ClueCategory.CONDUCT, datetime(2026, 10, 31, 16, 0, tzinfo=UTC), 8),
        ("clue", 1, True, ClueCategory.CONDUCT, datetime(2026, 10, 31, 15, 59, tzinfo=UTC), 9),
    ],
    root="city",
    first=date(2026, 11, 1),
    last=date(2026, 11, 30),
)
def test_rollups_equal_the_raw_count(app, world, history, root, first, last):
    start, end = min(first, last), max(first, last)
    with app.app_context():
        for operation in history:
            _apply(world, operation)
        db.session.commit()

        assert verify_rollups() == {
            "unit_rating_days": [],
            "officer_rating_days": [],
            "unit_clue_days": [],
            "unit_clue_months": [],
            "officer_clue_days": [],
            "unit_handling_days": [],
        }
        unit = db.session.get(Unit, world["city"][root].id)
        units = set(db.session.scalars(sa.select(Unit.id).where(subtree_filter(unit.path))))
        expected = _expected(units, start, end)
        figures = overview(start=start, end=end, root=unit)
        assert {key: figures[key] for key in expected} == expected

        ranking = {u.unit_id: u for u in unit_ranking(start=start, end=end, root=unit).units}
        for station in units & {s.id for s in world["stations"]}:
            alone = _expected({station}, start, end)
            found = ranking.get(station)
            assert (found.evaluations if found else 0) == alone["evaluations"]
            assert (found.clues_received if found else 0) == alone["clues_received"]
            assert (found.stages if found else 0) == alone["stages"]
            assert (found.on_time if found else 0) == alone["stages_on_time"]
            if found is not None:  # a unit without ratings, stages or clues is not ranked
                assert found.reratings == alone["reratings"]
                assert found.rerating_satisfied == alone["rerating_satisfied"]

        by_officer = {
            r["officer_id"]: r for r in officer_summaries(start=start, end=end, root=unit)
        }
        officers = db.session.scalars(sa.select(Officer).where(Officer.unit_id.in_(units)))
        for officer in officers:
            ratings = [
                e
                for e in db.session.scalars(sa.select(Evaluation))
                if e.officer_id == officer.id
                and not e.is_excluded
                and _in(e.created_at, start, end)
            ]
            received = [
                c
                for c in db.session.scalars(sa.select(Clue))
                if c.officer_id == officer.id and _in(c.submitted_at, start, end)
            ]
            assert by_officer[officer.id]["evaluations"] == len(ratings)
            assert by_officer[officer.id]["clues_received"] == len(received)


def test_rebuild_is_idempotent_and_restores_lost_rows(app, world):
    """A bulk load that bypassed the upkeep (here: rows written with plain SQL) is put right by
    the rebuild, and running it again changes nothing."""
    station = world["stations"][0]
    at = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    with app.app_context():
        db.session.connection().execute(
            sa.insert(Evaluation.__table__), _rating_values(world, station, True, 5, False, at)
        )
        db.session.commit()
        assert verify_rollups()["unit_rating_days"] == [
            ((date(2026, 11, 2), station.id), None, (1, 1, 0, 0))
        ]
        first = rebuild_rollups()
        db.session.commit()
        assert all(rows == [] for rows in verify_rollups().values())
        assert rebuild_rollups() == first
        db.session.commit()
        city = db.session.get(Unit, world["city"]["city"].id)
        figures = overview(start=date(2026, 11, 2), end=date(2026, 11, 2), root=city)
        assert (figures["evaluations"], figures["satisfied"]) == (1, 1)


def test_a_clue_filed_and_assigned_in_one_transaction_counts_as_assigned(app, world):
    """Attributes left unset at the insert and set before the commit (filing, then screening in
    the same transaction) move the clue's counts, not add to them."""
    at = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    with app.app_context():
        unit = world["stations"][0]
        clue = Clue(
            tracking_no="RT-ASSIGNED",
            source=ClueSource.DIRECT,
            category=ClueCategory.CONDUCT,
            unit_id=unit.id,
            description="测试",
            submitted_at=at,
        )
        db.session.add(clue)
        db.session.flush()
        clue.status, clue.assigned_at = S.ASSIGNED, at
        db.session.commit()
        assert all(rows == [] for rows in verify_rollups().values())
        city = db.session.get(Unit, world["city"]["city"].id)
        figures = overview(start=date(2026, 11, 2), end=date(2026, 11, 2), root=city)
        assert (figures["clues_assigned"], figures["pending_screening"]) == (1, 0)
