"""The seed cities' practices in the demo year: the bad ratings without a clue go to their
units and are mostly rectified and called back in time, confidential reporters who did not
re-rate get their return visit, some bad ratings carry a comment (so 专题分析 has words to
count), and the units on a monthly 约谈 list are interviewed and followed up.

Rectifications are opened by the same function the job runs, with their real deadlines;
the late and the never-rectified ones are told and escalated by the history's replay of the
scheduler's deadline sweep over the whole year (demo/history.py), which runs after this.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

import sqlalchemy as sa

from app.clock import LOCAL_TZ, local_date
from app.extensions import db
from app.org.models import Role, StaffAccount
from app.workdays import load_calendar
from clues.models import Clue
from clues.practice_models import (
    BadRatingRectification,
    CallbackResult,
    ClueCallback,
    Interview,
    RectificationStatus,
)
from clues.practices import callback_due, has_callback, open_rectifications
from evaluations.models import Evaluation
from evaluations.questionnaire import BAD_LEVELS
from notifications.models import Letter, LetterKind

COMMENTS = [
    "排队时间太长，窗口只开了一个",
    "工作人员态度生硬，问两句就不耐烦",
    "材料一次说不清，来回跑了三趟",
    "推诿扯皮，说不归他们管",
    "办事效率太低，等了一上午",
    "叫号系统出错，插队现象没人管",
    "电话一直打不通，咨询无人接听",
    "门难进脸难看，服务意识差",
]
MEASURES = [
    "已核实，对窗口人员批评教育，增开高峰时段窗口",
    "已核实，制作一次性告知清单，张贴在窗口",
    "经核实系叫号系统故障，已维修并安排专人引导",
    "已约谈当班人员，纳入月度作风考核",
]
# How a call back goes (好差评回访): most residents are reached.
CALLBACK_RESULTS = (
    (CallbackResult.SATISFIED, 45),
    (CallbackResult.BASICALLY_SATISFIED, 25),
    (CallbackResult.UNSATISFIED, 10),
    (CallbackResult.UNREACHABLE, 20),
)


def _result(rng: random.Random) -> CallbackResult:
    results, weights = zip(*CALLBACK_RESULTS, strict=True)
    return rng.choices(results, weights)[0]


def _comments(rng: random.Random, now: datetime) -> int:
    """A comment on about half of the year's bad ratings."""
    ids = db.session.scalars(
        sa.select(Evaluation.id).where(
            Evaluation.level.in_(BAD_LEVELS), Evaluation.created_at <= now
        )
    ).all()
    chosen = [{"id": i, "comment": rng.choice(COMMENTS)} for i in ids if rng.random() < 0.5]
    if chosen:
        table = Evaluation.__table__
        db.session.execute(
            sa.update(table).where(table.c.id == sa.bindparam("b_id")),
            [{"b_id": row["id"], "comment": row["comment"]} for row in chosen],
        )
    return len(chosen)


def _rectify(rng: random.Random, now: datetime, verifier_id: int) -> int:
    """Rectify most bad ratings: in time, some late, a few never."""
    rows = db.session.scalars(sa.select(BadRatingRectification)).all()
    for row in rows:
        draw = rng.random()
        if draw < 0.82:
            done = row.opened_at + (row.due_at - row.opened_at) * rng.uniform(0.1, 0.9)
        elif draw < 0.94:
            done = row.due_at + timedelta(days=rng.randint(1, 6))
        else:
            done = None
        if done is None or done > now:
            continue
        row.status = RectificationStatus.RECTIFIED
        row.measures = rng.choice(MEASURES)
        row.callback_result = _result(rng)
        row.rectified_by = verifier_id
        row.rectified_at = done
        row.on_time = done <= row.due_at
    return len(rows)


def _callbacks(rng: random.Random, now: datetime, staff_id: int) -> int:
    """A return visit to most confidential reporters who did not re-rate."""
    clues = db.session.execute(
        sa.select(Clue.id, Clue.closed_at, Clue.rerating_due_at).where(
            callback_due(), ~has_callback()
        )
    ).all()
    made = 0
    for clue_id, closed_at, window_end in clues:
        if rng.random() >= 0.85:
            continue
        called = (window_end or closed_at) + timedelta(days=rng.randint(1, 3), hours=2)
        db.session.add(
            ClueCallback(
                clue_id=clue_id,
                staff_id=staff_id,
                result=_result(rng),
                note="电话回访",
                called_at=min(called, now),
            )
        )
        made += 1
    return made


def _interviews(rng: random.Random, now: datetime, staff_id: int) -> int:
    """A 约谈 of each unit on a monthly notice's list, followed up when due."""
    calendar = load_calendar()
    notices = db.session.scalars(
        sa.select(Letter).where(
            Letter.kind == LetterKind.NOTICE, Letter.dedupe_key.like("notice:monthly:%")
        )
    ).all()
    count = 0
    for notice in notices:
        held = calendar.add_working_days(local_date(notice.issued_at), 3)
        if held > local_date(now):
            continue
        for row in notice.content.get("interview_list") or []:
            due = datetime.combine(
                calendar.add_working_days(held, 20), time(23, 59, 59), LOCAL_TZ
            ).astimezone(UTC)
            followed = due - timedelta(days=rng.randint(1, 10)) if due < now else None
            db.session.add(
                Interview(
                    unit_id=row["unit_id"],
                    held_on=held,
                    interviewer="市委政法委副书记 何建国",
                    interviewee=f"{row['unit']}主要负责人",
                    reason="；".join(row.get("reasons") or []),
                    commitments="一个月内清理逾期线索，建立每周调度制度，窗口高峰期增派人手",
                    follow_up_due_at=due,
                    followed_up_at=followed,
                    follow_up_note="逾期线索已清理，调度制度已建立" if followed else "",
                    followed_up_by=staff_id if followed else None,
                    recorded_by=staff_id,
                    created_at=datetime.combine(held, time(16), LOCAL_TZ).astimezone(UTC),
                )
            )
            count += 1
    return count


def generate_practices(rng: random.Random, now: datetime) -> list[str]:
    """The practices of the demo year (after its ratings, clues and notices); lines to print."""
    staff = {
        account.role: account
        for account in db.session.scalars(
            sa.select(StaffAccount).where(
                StaffAccount.username.in_(["screener", "verifier", "superior"])
            )
        )
    }
    comments = _comments(rng, now)
    opened = open_rectifications(now)
    _rectify(rng, now, staff[Role.VERIFIER].id)
    db.session.flush()
    callbacks = _callbacks(rng, now, staff[Role.SCREENER].id)
    interviews = _interviews(rng, now, staff[Role.SUPERIOR].id)
    db.session.flush()
    return [
        f"差评整改：不带线索的差评 {opened} 条交单位整改（其中 {comments} 条差评附评语）；"
        f"回访 {callbacks} 次；约谈 {interviews} 次。"
    ]
