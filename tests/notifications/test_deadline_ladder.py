"""Every deadline-bound stage, on a moving clock: reminded the working day before it is due,
told on its first overdue working day, then escalated one unit up the tree every
ESCALATION_INTERVAL_DAYS working days until the root, each step exactly once however many
sweeps run, and nothing after the root."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.clock import LOCAL_TZ, local_date
from app.deadlines import DeadlineKind, DeadlineNotice
from app.extensions import db
from app.org.models import Role
from app.workdays import load_calendar
from clues.models import ClueStage, Referral, Stage
from notifications.models import InboxItem, Letter, LetterKind
from notifications.sweeps import deadline_sweep
from tests.clues.factories import Cast, make_cast
from tests.conftest import TEST_SECRET
from tests.factories import make_staff

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MONDAY = datetime(2026, 11, 2, 10, 0, tzinfo=LOCAL_TZ)
INTERVAL = 3


@pytest.fixture
def world(app, client):
    """The cast on Monday 2 November 2026, with a second screener at district A (so the
    screening and 12345 stages sit below the root and have somewhere to climb)."""
    clock.set_now(MONDAY)
    app.config["ESCALATION_INTERVAL_DAYS"] = INTERVAL
    cast = make_cast(app, client)
    district_screener = make_staff(app, Role.SCREENER, cast.units["district_a"])
    yield cast, district_screener
    clock.set_now(None)


def sweep(app, when: datetime) -> dict:
    clock.set_now(when)
    with app.app_context():
        result = deadline_sweep(now=when.astimezone(UTC))
        db.session.commit()
        return result


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), LOCAL_TZ)


def notices(app, kind: DeadlineKind, item_id: int) -> list[tuple[int, int, date, int | None]]:
    """(level, unit told, local issue date, letter) of the item, in level order."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(
                DeadlineNotice.level,
                DeadlineNotice.unit_id,
                DeadlineNotice.issued_at,
                DeadlineNotice.letter_id,
            )
            .where(DeadlineNotice.kind == kind, DeadlineNotice.item_id == item_id)
            .order_by(DeadlineNotice.level)
        ).all()
    return [(level, unit, local_date(issued), letter) for level, unit, issued, letter in rows]


# ---------------------------------------------------------------- one item of each kind


@dataclass(frozen=True)
class Item:
    kind: DeadlineKind
    item_id: int
    due_at: datetime
    ladder: list[str]  # the units told at levels first_level, first_level + 1, … (to the root)
    first_level: int = 0


def _stage_item(app, clue_id: int, stage: Stage, kind: DeadlineKind, ladder: list[str]) -> Item:
    with app.app_context():
        row = db.session.scalars(
            sa.select(ClueStage).where(
                ClueStage.clue_id == clue_id,
                ClueStage.stage == stage,
                ClueStage.finished_at.is_(None),
            )
        ).one()
        return Item(kind, row.id, row.due_at, ladder)


def screening(app, cast: Cast, district: object) -> Item:
    clue = cast.file()
    return _stage_item(
        app, clue.id, Stage.SCREENING, DeadlineKind.SCREENING, ["district_a", "city"]
    )


def verification(app, cast: Cast, district: object) -> Item:
    clue = cast.drive("assigned")
    return _stage_item(
        app,
        clue.id,
        Stage.VERIFICATION,
        DeadlineKind.VERIFICATION,
        ["station_a", "district_a", "city"],
    )


def review(app, cast: Cast, district: object) -> Item:
    clue = cast.drive("reviewing")
    return _stage_item(app, clue.id, Stage.REVIEW, DeadlineKind.REVIEW, ["district_a", "city"])


def appeal(app, cast: Cast, district: object) -> Item:
    clue = cast.drive("appealed")
    return _stage_item(app, clue.id, Stage.APPEAL, DeadlineKind.APPEAL, ["district_a", "city"])


def forwarded(app, cast: Cast, district) -> Item:
    clue = cast.file(category="livelihood")
    cast.step(district, clue.id, "forward_12345", to="forwarded")
    return _stage_item(
        app, clue.id, Stage.FORWARDED, DeadlineKind.FORWARDED, ["district_a", "city"]
    )


def _referral(app, cast: Cast, *, received: bool) -> Item:
    clue = cast.file()
    cast.close_and_refer(clue.id)
    with app.app_context():
        referral = db.session.scalars(sa.select(Referral).where(Referral.clue_id == clue.id)).one()
        referral_id = referral.id
    if received:
        response = cast.client.post(
            f"/api/v1/referrals/{referral_id}/receive", headers=cast.as_(cast.liaison)
        )
        assert response.status_code == 200, response.json
    with app.app_context():
        referral = db.session.get(Referral, referral_id)
        due = referral.conclude_due_at if received else referral.receive_due_at
    kind = DeadlineKind.REFERRAL_CONCLUSION if received else DeadlineKind.REFERRAL_RECEIPT
    return Item(kind, referral_id, due, ["station_a", "district_a", "city"])


def referral_receipt(app, cast: Cast, district: object) -> Item:
    return _referral(app, cast, received=False)


def referral_conclusion(app, cast: Cast, district: object) -> Item:
    return _referral(app, cast, received=True)


def letter_reply(app, cast: Cast, district: object) -> Item:
    """The 督办函 a late verification receives on its first overdue working day."""
    stage = verification(app, cast, district)
    sweep(app, at(_first_overdue_day(app, stage.due_at), 0, 30))
    with app.app_context():
        letter = db.session.scalars(
            sa.select(Letter).where(Letter.kind == LetterKind.SUPERVISION)
        ).one()
        return Item(DeadlineKind.LETTER_REPLY, letter.id, letter.response_due_at, ["district_a"], 1)


KINDS: dict[str, Callable[..., Item]] = {
    "screening": screening,
    "verification": verification,
    "review": review,
    "appeal": appeal,
    "forwarded": forwarded,
    "referral_receipt": referral_receipt,
    "referral_conclusion": referral_conclusion,
    "letter_reply": letter_reply,
}


def _first_overdue_day(app, due_at: datetime) -> date:
    with app.app_context():
        calendar = load_calendar()
        return calendar.add_working_days(local_date(due_at), 1)


def _working_day_before(app, day: date) -> date:
    with app.app_context():
        calendar = load_calendar()
    day -= timedelta(days=1)
    while not calendar.is_working_day(day):
        day -= timedelta(days=1)
    return day


@pytest.mark.parametrize("name", list(KINDS))
def test_every_stage_is_reminded_then_escalated_to_the_root_once(app, world, name):
    cast, district = world
    item = KINDS[name](app, cast, district)
    units = {key: unit.id for key, unit in cast.units.items()}

    # The working day before it is due: one reminder, however often the sweep runs.
    eve = _working_day_before(app, local_date(item.due_at))
    sweep(app, at(eve, 8))
    sweep(app, at(eve, 15))
    reminded = notices(app, item.kind, item.item_id)
    assert [(level, day) for level, _, day, _ in reminded] == [(-1, eve)]

    # Its last day is not late yet; the first overdue working day is.
    sweep(app, at(local_date(item.due_at), 20))
    assert len(notices(app, item.kind, item.item_id)) == 1
    first = _first_overdue_day(app, item.due_at)
    with app.app_context():
        calendar = load_calendar()
    for level, unit in enumerate(item.ladder, start=item.first_level):
        day = calendar.add_working_days(first, (level - item.first_level) * INTERVAL)
        if level > item.first_level:
            sweep(app, at(_working_day_before(app, day), 16))  # one day short: nothing
            assert notices(app, item.kind, item.item_id)[-1][0] == level - 1
        sweep(app, at(day, 0, 30))
        sweep(app, at(day, 11))
        told = notices(app, item.kind, item.item_id)
        assert [(lv, u, d) for lv, u, d, _ in told[-1:]] == [(level, units[unit], day)], name
        assert [lv for lv, *_ in told] == [-1, *range(item.first_level, level + 1)]

    # Past the root nothing more is sent, weeks later.
    sweep(app, at(calendar.add_working_days(first, 10 * INTERVAL), 10))
    assert len(notices(app, item.kind, item.item_id)) == 1 + len(item.ladder)


def test_letters_and_inbox_messages_reach_the_unit_told(app, world):
    """Unit-facing stages go by letter (with inbox copies); internal ones by inbox only."""
    cast, district = world
    stage = verification(app, cast, district)
    screened = screening(app, cast, district)
    first = _first_overdue_day(app, stage.due_at)
    with app.app_context():
        calendar = load_calendar()
    for step in range(3):
        sweep(app, at(calendar.add_working_days(first, step * INTERVAL), 10))
    letters = {
        level: letter
        for level, _, _, letter in notices(app, DeadlineKind.VERIFICATION, stage.item_id)
    }
    with app.app_context():
        kinds = [db.session.get(Letter, letters[level]).kind for level in (0, 1, 2)]
        assert kinds == [LetterKind.SUPERVISION, LetterKind.ESCALATION, LetterKind.ESCALATION]
        to_root = db.session.get(Letter, letters[2])
        assert to_root.unit_id == cast.units["city"].id
        assert "逾期" in to_root.title and "甲区派出所" in to_root.body
        assert "工作日" in to_root.body
        # The screening stage climbed by inbox: district A's screener first, then the root's.
        items = db.session.execute(
            sa.select(InboxItem.staff_id, InboxItem.kind).where(
                InboxItem.dedupe_key.like(f"deadline:screening:{screened.item_id}:%")
            )
        ).all()
    assert (district.id, "deadline_overdue") in items
    assert (cast.screener.id, "deadline_escalation") in items
    assert not any(letter for *_, letter in notices(app, DeadlineKind.SCREENING, screened.item_id))


def test_an_unanswered_letter_and_its_stage_escalate_once_together(app, world):
    """The 督办函's reply deadline brings the stage's first escalation forward: one 提级督办函,
    counted for both, and the stage keeps climbing from there."""
    cast, district = world
    reply = letter_reply(app, cast, district)
    escalated_on = _first_overdue_day(app, reply.due_at)
    sweep(app, at(escalated_on, 10))
    (letter_level,) = [row for row in notices(app, reply.kind, reply.item_id) if row[0] == 1]
    with app.app_context():
        stage_id = db.session.scalar(
            sa.select(DeadlineNotice.item_id).where(
                DeadlineNotice.kind == DeadlineKind.VERIFICATION, DeadlineNotice.level == 0
            )
        )
        escalations = db.session.scalars(
            sa.select(Letter).where(Letter.kind == LetterKind.ESCALATION)
        ).all()
        assert len(escalations) == 1 and escalations[0].id == letter_level[3]
        assert db.session.get(Letter, reply.item_id).escalated_at is not None
    stage_levels = notices(app, DeadlineKind.VERIFICATION, stage_id)
    assert [(lv, letter) for lv, _, _, letter in stage_levels if lv == 1] == [(1, letter_level[3])]


def test_a_weekend_sweep_sends_nothing_and_monday_catches_up(app, world):
    cast, district = world
    stage = verification(app, cast, district)  # due Monday 23 November
    assert local_date(stage.due_at) == date(2026, 11, 23)
    saturday = date(2026, 11, 28)
    # Friday 27 is the third overdue working day: 督办函 went out Tuesday; level 1 is owed on
    # Friday (1 + 3), which is swept only on Saturday here: nothing; Monday sends it.
    sweep(app, at(date(2026, 11, 24), 10))
    assert sweep(app, at(saturday, 10)) == {
        "reminders": 0,
        "overdue": 0,
        "escalations": 0,
        "supervisions": 0,
        "inbox_items": 0,
    }
    # Monday: the stage's first escalation, and the 督办函 left unanswered since Friday
    # escalates with it (two steps on record, one 提级督办函).
    assert sweep(app, at(date(2026, 11, 30), 9))["escalations"] == 2
    with app.app_context():
        kinds = db.session.scalars(sa.select(Letter.kind).order_by(Letter.id)).all()
    assert kinds == [LetterKind.SUPERVISION, LetterKind.ESCALATION]
    dates = {lv: d for lv, _, d, _ in notices(app, DeadlineKind.VERIFICATION, stage.item_id)}
    assert dates[1] == date(2026, 11, 30)


def test_two_schedulers_at_once_send_each_step_once(app, world, database_url):
    cast, district = world
    items = [KINDS[name](app, cast, district) for name in ("screening", "verification", "review")]
    first = max(_first_overdue_day(app, item.due_at) for item in items)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "PINGYI_FAKE_NOW": at(first, 10).isoformat(),
        "WECHAT_APPID": "",
    }
    command = [
        sys.executable,
        "-m",
        "flask",
        "--app",
        "app:create_app({'TESTING': True})",
        "jobs",
        "run",
        "deadline_sweep",
    ]
    processes = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    for item in items:
        assert [lv for lv, *_ in notices(app, item.kind, item.item_id)] == [0], item.kind
    with app.app_context():
        supervision = db.session.scalars(
            sa.select(Letter.clue_id).where(Letter.kind == LetterKind.SUPERVISION)
        ).all()
        per_staff = db.session.execute(
            sa.select(InboxItem.staff_id, InboxItem.dedupe_key, sa.func.count())
            .group_by(InboxItem.staff_id, InboxItem.dedupe_key)
            .having(sa.func.count() > 1)
        ).all()
    assert len(supervision) == 1 and per_staff == []
