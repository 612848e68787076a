"""The scheduled sweeps: plain, idempotent functions over database state.

Running a sweep twice, or in two processes at once, sends nothing twice: every letter has a
unique cause, every inbox item a dedupe key, and each sweep first takes the letter counter
lock, so a concurrent sweep waits and then sees what the first one did. A sweep touches a
fixed number of statements however many clues are open.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.clock import local_date, local_day_end, utcnow
from app.extensions import db
from app.org.models import Role, StaffAccount, Unit, root_unit
from app.workdays import load_calendar
from clues.models import Clue, ClueStage, ClueWarning, ReratingInvitation, Stage
from clues.states import OPEN_STATUSES
from notifications.letters import (
    Issued,
    LetterSpec,
    _lock_counter,
    chinese_date,
    issue_letters,
    issuer_name,
)
from notifications.models import (
    Channel,
    InboxItem,
    Letter,
    LetterKind,
    OutboxMessage,
    OutboxStatus,
)
from notifications.outbox import enqueue
from notifications.triggers import resident_message
from stats.ranking import unit_ranking


def _sweep_mutex(now: datetime) -> None:
    """Serialize sweeps: whoever holds the reminder counter's row lock goes first."""
    _lock_counter(LetterKind.REMINDER, local_date(now).year)


def _fan_out(letters: Iterable[Issued], *, roles: tuple[Role, ...], kind: str, title: str) -> int:
    """Inbox items for the staff covering each letter's unit, in two statements."""
    letters = [letter for letter in letters if letter.unit_id is not None]
    if not letters:
        return 0
    units = {
        u.id: u
        for u in db.session.scalars(
            sa.select(Unit).where(Unit.id.in_({letter.unit_id for letter in letters}))
        )
    }
    ancestors = {uid: u.ancestor_ids() for uid, u in units.items()}
    staff_by_unit: dict[int, list[int]] = defaultdict(list)
    for staff_id, unit_id in db.session.execute(
        sa.select(StaffAccount.id, StaffAccount.unit_id).where(
            StaffAccount.role.in_(roles), StaffAccount.is_active
        )
    ):
        staff_by_unit[unit_id].append(staff_id)
    rows = []
    for letter in letters:
        for unit_id in ancestors[letter.unit_id]:
            for staff_id in staff_by_unit.get(unit_id, []):
                rows.append(
                    {
                        "staff_id": staff_id,
                        "kind": kind,
                        "title": title.format(serial=letter.serial)[:200],
                        "body": letter.body[:500],
                        "clue_id": letter.clue_id,
                        "letter_id": letter.id,
                        "dedupe_key": f"letter:{letter.id}",
                        "created_at": letter.issued_at,
                    }
                )
    if rows:
        db.session.execute(sa.insert(InboxItem), rows)
    return len(rows)


def _not_issued(prefix: str, ident: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    """No letter yet for this cause (the unique dedupe key's index answers it)."""
    return ~sa.exists().where(Letter.dedupe_key == sa.literal(prefix) + sa.cast(ident, sa.String))


def _stage_rows(condition: sa.ColumnElement[bool], prefix: str) -> list[Any]:
    return db.session.execute(
        sa.select(
            ClueStage.id,
            ClueStage.clue_id,
            ClueStage.unit_id,
            ClueStage.due_at,
            Clue.tracking_no,
            Clue.category,
            Unit.name.label("unit_name"),
        )
        .join(Clue, Clue.id == ClueStage.clue_id)
        .join(Unit, Unit.id == ClueStage.unit_id)
        .where(
            ClueStage.stage == Stage.VERIFICATION,
            ClueStage.finished_at.is_(None),
            Clue.status.in_(OPEN_STATUSES),
            condition,
            _not_issued(prefix, ClueStage.id),
        )
        .order_by(ClueStage.due_at, ClueStage.id)
    ).all()


def deadline_sweep(now: datetime | None = None) -> dict[str, int]:
    """提醒函 one working day before a verification is due, 督办函 once it is overdue, and
    提级督办 to the supervising organ when a 督办函 is unanswered past its response date."""
    now = now or utcnow()
    _sweep_mutex(now)
    calendar = load_calendar()
    today = local_date(now)
    issuer = issuer_name()
    signed = f"\n\n{issuer}\n{chinese_date(today)}"

    # Due by the end of the next working day, not yet overdue: remind.
    horizon = local_day_end(calendar.add_working_days(today, 1))
    due_soon = _stage_rows(
        sa.and_(ClueStage.due_at > now, ClueStage.due_at <= horizon), "reminder:stage:"
    )
    reminders = issue_letters(
        LetterKind.REMINDER,
        [
            LetterSpec(
                dedupe_key=f"reminder:stage:{row.id}",
                unit_id=row.unit_id,
                clue_id=row.clue_id,
                title="关于按期办理问题线索的提醒函",
                body=(
                    f"{row.unit_name}：\n　　你单位承办的问题线索（编号 {row.tracking_no}）"
                    f"核查期限为"
                    f"{chinese_date(local_date(row.due_at))}，距期限仅剩一个工作日。请抓紧核查，"
                    f"按期提交核查报告。" + signed
                ),
            )
            for row in due_soon
        ],
        now=now,
    )

    # Past due: supervise, with a deadline to answer.
    overdue = _stage_rows(ClueStage.due_at <= now, "supervision:stage:")
    response_due = calendar.deadline(now, current_app.config["SUPERVISION_RESPONSE_DAYS"])
    supervisions = issue_letters(
        LetterKind.SUPERVISION,
        [
            LetterSpec(
                dedupe_key=f"supervision:stage:{row.id}",
                unit_id=row.unit_id,
                clue_id=row.clue_id,
                response_due_at=response_due,
                title="关于逾期问题线索的督办函",
                body=(
                    f"{row.unit_name}：\n　　你单位承办的问题线索（编号 {row.tracking_no}）"
                    f"核查期限已于"
                    f"{chinese_date(local_date(row.due_at))}届满，至今未办结。请于"
                    f"{chinese_date(local_date(response_due))}前书面说明逾期原因和办理计划，"
                    f"并尽快办结。逾期未回复的，将提请上级机关督办。" + signed
                ),
            )
            for row in overdue
        ],
        now=now,
    )

    # Unanswered supervision letters go up to the supervising organ.
    parent = sa.orm.aliased(Unit)
    ignored = db.session.execute(
        sa.select(
            Letter.id,
            Letter.serial,
            Letter.clue_id,
            Letter.issued_at,
            Letter.response_due_at,
            Unit.name.label("unit_name"),
            Unit.parent_id,
            parent.name.label("parent_name"),
        )
        .join(Unit, Unit.id == Letter.unit_id)
        .join(parent, parent.id == Unit.parent_id, isouter=True)
        .where(
            Letter.kind == LetterKind.SUPERVISION,
            Letter.responded_at.is_(None),
            Letter.escalated_at.is_(None),
            Letter.response_due_at <= now,
        )
    ).all()
    escalated = issue_letters(
        LetterKind.ESCALATION,
        [
            LetterSpec(
                dedupe_key=f"escalation:letter:{row.id}",
                unit_id=row.parent_id,
                clue_id=row.clue_id,
                title="关于督办函逾期未回复的提级督办函",
                body=(
                    f"{row.parent_name}：\n　　本机关于{chinese_date(local_date(row.issued_at))}"
                    f"向{row.unit_name}发出督办函（{row.serial}），要求于"
                    f"{chinese_date(local_date(row.response_due_at))}前回复，至今未回复。"
                    f"请督促其立即办理并回复。" + signed
                ),
            )
            for row in ignored
            if row.parent_id is not None
        ],
        now=now,
    )
    if ignored:
        db.session.execute(
            sa.update(Letter).where(Letter.id.in_([r.id for r in ignored])).values(escalated_at=now)
        )

    inbox = (
        _fan_out(
            reminders,
            roles=(Role.VERIFIER,),
            kind="letter_reminder",
            title="提醒函 {serial}：线索核查期限将至",
        )
        + _fan_out(
            supervisions,
            roles=(Role.VERIFIER, Role.SUPERIOR),
            kind="letter_supervision",
            title="督办函 {serial}：线索已逾期",
        )
        + _fan_out(
            escalated,
            roles=(Role.SUPERIOR,),
            kind="letter_escalation",
            title="提级督办函 {serial}：下级单位逾期未回复督办函",
        )
    )
    return {
        "reminders": len(reminders),
        "supervisions": len(supervisions),
        "escalations": len(escalated),
        "inbox_items": inbox,
    }


def warning_letter_sweep(now: datetime | None = None) -> dict[str, int]:
    """A 提醒函 to the unit for every high-frequency warning that has none yet."""
    now = now or utcnow()
    _sweep_mutex(now)
    rows = db.session.execute(
        sa.select(
            ClueWarning.id,
            ClueWarning.kind,
            ClueWarning.count,
            ClueWarning.window_days,
            ClueWarning.unit_id,
            ClueWarning.clue_id,
            Unit.name.label("unit_name"),
        )
        .join(Unit, Unit.id == ClueWarning.unit_id)
        .where(ClueWarning.letter_id.is_(None))
    ).all()
    what = {
        "officer_reported": "你单位有工作人员被 {n} 名群众反映问题",
        "unit_reported": "你单位被 {n} 名群众反映问题",
        "repeat": "同一群众已就你单位反映问题 {n} 次",
    }
    signed = f"\n\n{issuer_name()}\n{chinese_date(local_date(now))}"
    letters = issue_letters(
        LetterKind.REMINDER,
        [
            LetterSpec(
                dedupe_key=f"warning:{row.id}",
                unit_id=row.unit_id,
                clue_id=row.clue_id,
                title="关于高频问题线索的提醒函",
                body=(
                    f"{row.unit_name}：\n　　近 {row.window_days} 日内，"
                    + what.get(row.kind, "你单位被多次反映问题").format(n=row.count)
                    + "（高频线索预警）。请高度重视，认真自查，举一反三。"
                    + signed
                ),
            )
            for row in rows
        ],
        now=now,
    )
    for letter in letters:
        warning_id = int(letter.dedupe_key.split(":", 1)[1])
        db.session.execute(
            sa.update(ClueWarning).where(ClueWarning.id == warning_id).values(letter_id=letter.id)
        )
    _fan_out(
        letters,
        roles=(Role.VERIFIER, Role.SUPERIOR),
        kind="letter_reminder",
        title="提醒函 {serial}：高频线索预警",
    )
    return {"warning_letters": len(letters)}


def rerating_sweep(now: datetime | None = None) -> dict[str, int]:
    """Remind reporters once, midway, to re-rate; after the window record "not rated"."""
    now = now or utcnow()
    expired = db.session.execute(
        sa.update(ReratingInvitation)
        .where(ReratingInvitation.status == "pending", ReratingInvitation.expires_at <= now)
        .values(status="not_rated")
    ).rowcount
    remind_after = timedelta(days=current_app.config["RERATING_REMINDER_AFTER_DAYS"])
    due = db.session.scalars(
        sa.select(ReratingInvitation).where(
            ReratingInvitation.status == "pending",
            ReratingInvitation.reminded_at.is_(None),
            ReratingInvitation.invited_at <= now - remind_after,
            ReratingInvitation.expires_at > now,
        )
    ).all()
    clues = {
        c.id: c
        for c in db.session.scalars(sa.select(Clue).where(Clue.id.in_({i.clue_id for i in due})))
    }
    from notifications.triggers import _wechat_reporters

    reachable = set(_wechat_reporters([i.resident_id for i in due]))
    for invitation in due:
        invitation.reminded_at = now
        if invitation.resident_id in reachable:
            clue = clues[invitation.clue_id]
            enqueue(
                channel=Channel.WECHAT,
                kind="rerating_invite",
                clue_id=clue.id,
                resident_id=invitation.resident_id,
                event_id=f"rerating-reminder:{invitation.id}",
                payload={
                    **resident_message("rerating_invite", clue),
                    "expires_at": invitation.expires_at.isoformat(),
                },
            )
    return {"not_rated": expired, "reminded": len(due)}


def _issue_notice(
    *, period: str, key: str, start: date, end: date, now: datetime
) -> dict[str, Any]:
    ranking = unit_ranking(start=start, end=end)

    def row(unit: Any) -> dict[str, Any]:
        return {
            "unit_id": unit.unit_id,
            "unit": unit.unit_name,
            "evaluations": unit.evaluations,
            "satisfaction_rate": unit.satisfaction_rate,
            "stages": unit.stages,
            "on_time_rate": unit.on_time_rate,
            "satisfaction_rank": unit.satisfaction_rank,
            "on_time_rank": unit.on_time_rank,
            "reasons": unit.interview_reasons,
        }

    content = {
        "period": period,
        "min_evaluations": ranking.min_evaluations,
        "units": [row(u) for u in ranking.units],
        "min_stages": ranking.min_stages,
        "by_satisfaction": [row(u) for u in ranking.by_satisfaction],
        "by_on_time": [row(u) for u in ranking.by_on_time],
        "red_list": [row(u) for u in ranking.red_list],
        "interview_list": [row(u) for u in ranking.interview_list],
    }
    span = f"{chinese_date(start)}至{chinese_date(end)}"
    lines = [f"各单位：\n　　现将{span}群众评议情况通报如下。"]
    if ranking.red_list:
        lines.append("　　红榜：" + "、".join(u.unit_name for u in ranking.red_list) + "。")
    if ranking.interview_list:
        lines.append(
            "　　约谈："
            + "；".join(
                f"{u.unit_name}（{'，'.join(u.interview_reasons)}）" for u in ranking.interview_list
            )
            + "。"
        )
    lines.append(
        f"　　样本不足的单位（评价少于 {ranking.min_evaluations} 条或办结线索少于 "
        f"{ranking.min_stages} 件）不参与排名。"
    )
    body = "\n".join(lines) + f"\n\n{issuer_name()}\n{chinese_date(local_date(now))}"
    title = f"{'每周' if period == 'weekly' else '每月'}群众评议情况通报（{span}）"
    letters = issue_letters(
        LetterKind.NOTICE,
        [
            LetterSpec(
                dedupe_key=key,
                unit_id=None,
                title=title,
                body=body,
                content=content,
                period_start=start,
                period_end=end,
            )
        ],
        now=now,
    )
    root = root_unit()
    if letters and root is not None:
        from notifications.inbox import notify_staff

        notify_staff(
            roles=(Role.SCREENER, Role.SUPERIOR, Role.ANALYST, Role.ADMIN),
            unit=root,
            kind="letter_notice",
            title=f"通报 {letters[0].serial}：{title}",
            letter_id=letters[0].id,
            dedupe_key=f"letter:{letters[0].id}",
        )
    return {"issued": len(letters), "interview": len(ranking.interview_list)}


def weekly_notice(now: datetime | None = None) -> dict[str, Any]:
    """The notice for the last complete Monday–Sunday week (Beijing time)."""
    now = now or utcnow()
    today = local_date(now)
    end = today - timedelta(days=today.weekday() + 1)
    start = end - timedelta(days=6)
    year, week, _ = start.isocalendar()
    return _issue_notice(
        period="weekly", key=f"notice:weekly:{year}-W{week:02d}", start=start, end=end, now=now
    )


def monthly_notice(now: datetime | None = None) -> dict[str, Any]:
    """The notice for the last complete calendar month."""
    now = now or utcnow()
    first_of_this = local_date(now).replace(day=1)
    end = first_of_this - timedelta(days=1)
    start = end.replace(day=1)
    return _issue_notice(
        period="monthly", key=f"notice:monthly:{start:%Y-%m}", start=start, end=end, now=now
    )


def dead_letter_digest(now: datetime | None = None) -> dict[str, int]:
    """Once a day, tell the administrators what could not be delivered."""
    now = now or utcnow()
    since = now - timedelta(days=1)
    dead = db.session.execute(
        sa.select(OutboxMessage.channel, sa.func.count())
        .where(OutboxMessage.status == OutboxStatus.DEAD, OutboxMessage.created_at >= since)
        .group_by(OutboxMessage.channel)
    ).all()
    total = sum(count for _, count in dead)
    root = root_unit()
    if total and root is not None:
        from notifications.inbox import notify_staff

        detail = "；".join(f"{channel.value}：{count} 条" for channel, count in dead)
        notify_staff(
            roles=(Role.ADMIN,),
            unit=root,
            kind="dead_letters",
            title=f"过去 24 小时有 {total} 条通知发送失败",
            body=detail,
            dedupe_key=f"dead-letters:{local_date(now).isoformat()}",
        )
    return {"dead": total}
