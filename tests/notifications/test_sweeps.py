"""The deadline sweep and friends: each letter exactly once, whoever runs them how often."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.clock import LOCAL_TZ
from app.extensions import db
from app.workdays import load_calendar
from clues.models import Clue, ClueStage, ReratingInvitation, Stage
from notifications.models import InboxItem, Letter, LetterKind, OutboxMessage
from notifications.sweeps import deadline_sweep, rerating_sweep, warning_letter_sweep
from stats.notices import weekly_notice
from tests.clues.factories import make_cast
from tests.conftest import TEST_SECRET
from tests.evaluations.helpers import h5_resident

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def frozen():
    """Start on Monday 2026-11-02 10:00 Beijing time."""
    clock.set_now(datetime(2026, 11, 2, 10, 0, tzinfo=LOCAL_TZ))
    yield clock
    clock.set_now(None)


def assigned_clue(cast) -> tuple[int, datetime]:
    """A clue assigned to station A; returns its id and its verification due time."""
    tracking_no = cast.report()["tracking_no"]
    clue_id = cast.clue_id(tracking_no)
    cast.act(cast.screener, clue_id, "accept")
    response = cast.act(cast.screener, clue_id, "assign", unit_id=cast.units["station_a"].id)
    return clue_id, datetime.fromisoformat(response.json["due_at"])


def sweep(app, when: datetime, job=deadline_sweep) -> dict:
    with app.app_context():
        result = job(now=when.astimezone(UTC))
        db.session.commit()
        return result


def letters(app, kind: LetterKind | None = None) -> list[Letter]:
    with app.app_context():
        stmt = sa.select(Letter).order_by(Letter.id)
        if kind is not None:
            stmt = stmt.where(Letter.kind == kind)
        rows = db.session.scalars(stmt).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def test_reminder_the_working_day_before_then_supervision_once_overdue(app, client, frozen):
    cast = make_cast(app, client)
    clue_id, due = assigned_clue(cast)
    with app.app_context():
        calendar = load_calendar()
        previous = due.astimezone(LOCAL_TZ).date() - timedelta(days=1)
        while not calendar.is_working_day(previous):
            previous -= timedelta(days=1)
    two_days_before = datetime.combine(
        previous - timedelta(days=3), datetime.min.time(), LOCAL_TZ
    ).replace(hour=9)
    assert sweep(app, two_days_before)["reminders"] == 0
    the_day_before = datetime.combine(previous, datetime.min.time(), LOCAL_TZ).replace(hour=9)
    assert sweep(app, the_day_before)["reminders"] == 1
    assert sweep(app, the_day_before + timedelta(hours=3))["reminders"] == 0
    reminder = letters(app, LetterKind.REMINDER)
    assert len(reminder) == 1
    assert reminder[0].serial == "评提〔2026〕1号" and reminder[0].clue_id == clue_id
    assert "甲区派出所" in reminder[0].body
    with app.app_context():
        inbox = db.session.scalars(
            sa.select(InboxItem).where(
                InboxItem.staff_id == cast.verifier.id, InboxItem.letter_id.is_not(None)
            )
        ).all()
        assert [item.kind for item in inbox] == ["letter_reminder"]
    # Overdue: one supervision letter, however often the sweep runs.
    after_due = due + timedelta(minutes=1)
    first = sweep(app, after_due)
    again = sweep(app, after_due + timedelta(hours=6))
    assert (first["supervisions"], again["supervisions"]) == (1, 0)
    supervision = letters(app, LetterKind.SUPERVISION)
    assert len(supervision) == 1 and supervision[0].response_due_at > after_due
    assert len(letters(app, LetterKind.REMINDER)) == 1


def test_unanswered_supervision_escalates_to_the_supervising_organ_once(app, client, frozen):
    cast = make_cast(app, client)
    clue_id, due = assigned_clue(cast)
    sweep(app, due + timedelta(hours=1))
    supervision = letters(app, LetterKind.SUPERVISION)[0]
    # Answered letters do not escalate; unanswered ones do, once, to the parent unit.
    assert sweep(app, supervision.response_due_at - timedelta(minutes=1))["escalations"] == 0
    # Due at the end of Friday 27 Nov: escalated on the first working day after, Monday.
    assert sweep(app, supervision.response_due_at + timedelta(minutes=1))["escalations"] == 0
    late = supervision.response_due_at + timedelta(days=2, hours=10)
    assert sweep(app, late)["escalations"] == 1
    assert sweep(app, late + timedelta(days=1))["escalations"] == 0
    escalation = letters(app, LetterKind.ESCALATION)
    assert len(escalation) == 1
    assert escalation[0].unit_id == cast.units["district_a"].id
    assert supervision.serial in escalation[0].body
    with app.app_context():
        superior_items = db.session.scalars(
            sa.select(InboxItem.kind).where(
                InboxItem.staff_id == cast.superior.id, InboxItem.letter_id.is_not(None)
            )
        ).all()
        assert "letter_escalation" in superior_items


def test_answered_supervision_does_not_escalate(app, client, frozen):
    cast = make_cast(app, client)
    _, due = assigned_clue(cast)
    sweep(app, due + timedelta(hours=1))
    supervision = letters(app, LetterKind.SUPERVISION)[0]
    with app.app_context():
        db.session.execute(
            sa.update(Letter)
            .where(Letter.id == supervision.id)
            .values(response="已于当日补充调查", responded_at=supervision.response_due_at)
        )
        db.session.commit()
    assert sweep(app, supervision.response_due_at + timedelta(days=2))["escalations"] == 0


def test_finished_stages_get_no_letters(app, client, frozen):
    cast = make_cast(app, client)
    clue_id, due = assigned_clue(cast)
    cast.act(cast.verifier, clue_id, "start")
    cast.act(cast.verifier, clue_id, "submit_report", outcome="unfounded", findings="查无实据")
    result = sweep(app, due + timedelta(days=1))
    assert (result["reminders"], result["supervisions"]) == (0, 0)


def test_two_processes_sweeping_at_once_send_each_letter_once(app, client, frozen, database_url):
    cast = make_cast(app, client)
    first, due = assigned_clue(cast)
    second, _ = assigned_clue(cast)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "PINGYI_FAKE_NOW": (due + timedelta(hours=2)).isoformat(),
        "WECHAT_APPID": "",
    }
    # A test app: only that honours PINGYI_FAKE_NOW.
    app_factory = "app:create_app({'TESTING': True})"
    command = [sys.executable, "-m", "flask", "--app", app_factory, "jobs", "run", "deadline_sweep"]
    processes = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(3)
    ]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    supervision = letters(app, LetterKind.SUPERVISION)
    assert sorted(letter.clue_id for letter in supervision) == sorted([first, second])
    assert sorted(letter.number for letter in supervision) == [1, 2]
    with app.app_context():
        per_letter = db.session.execute(
            sa.select(InboxItem.letter_id, sa.func.count())
            .where(InboxItem.staff_id == cast.verifier.id, InboxItem.letter_id.is_not(None))
            .group_by(InboxItem.letter_id)
        ).all()
    assert sorted(count for _, count in per_letter) == [1, 1]


def test_extension_moves_the_letters_with_the_due_date(app, client, frozen):
    cast = make_cast(app, client)
    clue_id, due = assigned_clue(cast)
    cast.act(cast.verifier, clue_id, "start")
    cast.act(cast.verifier, clue_id, "request_extension", days=5, reason="需调取监控录像")
    cast.act(cast.superior, clue_id, "approve_extension")
    assert sweep(app, due + timedelta(hours=1))["supervisions"] == 0
    with app.app_context():
        stage = db.session.scalars(
            sa.select(ClueStage).where(
                ClueStage.clue_id == clue_id, ClueStage.stage == Stage.VERIFICATION
            )
        ).one()
        new_due = stage.due_at
    assert sweep(app, new_due + timedelta(minutes=5))["supervisions"] == 1


def test_rerating_reminder_once_then_not_rated(app, client, frozen):
    cast = make_cast(app, client)
    clue_id, _ = assigned_clue(cast)
    cast.act(cast.verifier, clue_id, "start")
    cast.act(cast.verifier, clue_id, "submit_report", outcome="unfounded", findings="查无实据")
    cast.act(cast.superior, clue_id, "approve")
    now = clock.utcnow()
    assert sweep(app, now + timedelta(days=1), rerating_sweep) == {"not_rated": 0, "reminded": 0}
    assert sweep(app, now + timedelta(days=4), rerating_sweep)["reminded"] == 1
    assert sweep(app, now + timedelta(days=5), rerating_sweep)["reminded"] == 0
    assert sweep(app, now + timedelta(days=8), rerating_sweep)["not_rated"] == 1
    with app.app_context():
        assert db.session.scalars(sa.select(ReratingInvitation.status)).one() == "not_rated"


def test_high_frequency_warning_gets_one_reminder_letter(app, client, frozen):
    cast = make_cast(app, client)
    for _ in range(3):
        cast.report(resident=h5_resident(client))
    assert sweep(app, clock.utcnow(), warning_letter_sweep)["warning_letters"] >= 1
    assert sweep(app, clock.utcnow(), warning_letter_sweep)["warning_letters"] == 0
    letter = letters(app, LetterKind.REMINDER)[0]
    assert letter.title == "关于高频问题线索的提醒函" and "3 名群众" in letter.body


def test_a_warning_letter_points_back_at_no_clue_date_or_reporter(app, client, frozen):
    cast = make_cast(app, client)
    repeater = h5_resident(client)
    filed = [cast.report(resident=repeater) for _ in range(3)]  # one resident, three times
    filed += [cast.report(resident=h5_resident(client)) for _ in range(2)]
    assert sweep(app, clock.utcnow(), warning_letter_sweep)["warning_letters"] == 1
    # More warnings the same week are covered by that letter, not told again.
    cast.report(resident=h5_resident(client))
    assert sweep(app, clock.utcnow(), warning_letter_sweep)["warning_letters"] == 0
    (letter,) = letters(app, LetterKind.REMINDER)
    assert letter.clue_id is None and "3 名群众" in letter.body
    assert "同一群众" not in letter.body and " 次" not in letter.body
    for summary in filed:
        assert summary["tracking_no"] not in letter.body
    with app.app_context():
        inbox = db.session.scalars(sa.select(InboxItem)).all()
    texts = " ".join(f"{i.title} {i.body}" for i in inbox if i.kind == "letter_reminder")
    assert texts and not any(s["tracking_no"] in texts for s in filed)


def test_weekly_notice_ranks_and_lists_units_to_interview(app, client, frozen):
    from tests.evaluations.helpers import rate
    from tests.factories import make_unit
    from tests.qr.factories import make_code

    cast = make_cast(app, client)
    app.config.update(RANKING_MIN_EVALUATIONS=2, RANKING_MIN_STAGES=1)
    good = make_code(app, make_unit(app, parent=cast.units["district_b"], name="乙区法庭"))
    clue_id, due = assigned_clue(cast)  # assigned Mon 2 Nov, due Mon 23 Nov
    # Tue 24 Nov: the verification finishes a day late, and both units are rated.
    clock.set_now(datetime(2026, 11, 24, 10, 0, tzinfo=LOCAL_TZ))
    cast.act(cast.verifier, clue_id, "start")
    cast.act(cast.verifier, clue_id, "submit_report", outcome="unfounded", findings="查无实据")
    for level in (5, 5, 4):
        rate(client, h5_resident(client), good.token, level=level)
    for level in (2, 1, 4):
        rate(client, h5_resident(client), cast.code.token, level=level)
    # Mon 30 Nov 09:00: the notice for 23–29 Nov.
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=LOCAL_TZ)
    assert sweep(app, monday, weekly_notice)["issued"] == 1
    assert sweep(app, monday + timedelta(hours=1), weekly_notice)["issued"] == 0
    notice = letters(app, LetterKind.NOTICE)[0]
    assert notice.serial == "评通〔2026〕1号"
    assert (notice.period_start.isoformat(), notice.period_end.isoformat()) == (
        "2026-11-23",
        "2026-11-29",
    )
    interview = {row["unit"]: row["reasons"] for row in notice.content["interview_list"]}
    assert set(interview) == {"甲区派出所"}
    assert any("按期办结率 0%" in reason for reason in interview["甲区派出所"])
    assert any("末位" in reason for reason in interview["甲区派出所"])
    assert [row["unit"] for row in notice.content["red_list"]] == ["乙区法庭"]
    assert "约谈" in notice.body and "红榜" in notice.body


def test_clue_events_reach_the_right_inboxes_and_wechat_residents(
    app, client, frozen, wechat_sandbox
):
    from tests.evaluations.helpers import use_sandbox, wechat_resident

    use_sandbox(app, wechat_sandbox)
    cast = make_cast(app, client)
    resident = wechat_resident(client)
    tracking_no = cast.report(resident=resident)["tracking_no"]
    clue_id = cast.clue_id(tracking_no)
    cast.act(cast.screener, clue_id, "accept")
    cast.act(cast.screener, clue_id, "assign", unit_id=cast.units["station_a"].id)
    with app.app_context():
        kinds = dict(
            db.session.execute(
                sa.select(InboxItem.staff_id, InboxItem.kind).where(InboxItem.clue_id == clue_id)
            ).all()
        )
        assert kinds[cast.screener.id] == "clue_filed"
        assert kinds[cast.verifier.id] == "clue_assign"
        outbox = db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.clue_id == clue_id)
        ).all()
        assert [(m.channel, m.kind) for m in outbox] == [("wechat", "clue_accepted")]
        assert outbox[0].payload["tracking_no"] == tracking_no
        assert db.session.get(Clue, clue_id).status == "assigned"
