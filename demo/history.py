"""A year of activity for the demo city: ratings at every window, clues in every state,
letters and notices, so the console and dashboards have something to show on first run.

Ratings are bulk-inserted; clues live their lives through the real service functions with
the clock moved to each moment, so their events, deadlines, stages, letters and re-ratings
are exactly what the product would have produced. Generated once: a database that already
has ratings or clues is left alone.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app import clock
from app.auth import set_actor, staff_actor
from app.clock import LOCAL_TZ, local_date, utcnow
from app.crypto import hash_identity
from app.extensions import db
from app.org.models import Officer, Role, StaffAccount, Unit, UnitKind
from app.workdays import load_calendar
from clues import service
from clues.models import Clue, ClueReporter, ClueSource, Outcome, RejectReason, ReporterIdentity
from clues.referrals import conclude_referral, receive_referral, refer_clue
from clues.states import ClueStatus
from clues.tracking import ClueTracking
from demo.practices import generate_practices
from evaluations.identity import Channel, Resident
from evaluations.models import Evaluation
from evaluations.questionnaire import ClueCategory, current_questionnaire
from notifications.deadlines import deadline_figures
from notifications.letters import respond_to_letter
from notifications.models import Channel as MessageChannel
from notifications.models import Letter, LetterKind, OutboxMessage, SubscriptionQuota
from notifications.sweeps import deadline_sweep, rerating_sweep, warning_letter_sweep
from qr.models import QRCode, QRStatus
from stats.notices import monthly_notice, weekly_notice
from stats.rollups import rebuild_rollups

DAYS = 365
RESIDENTS = 4000
# Reporters who chose 实名保密 and left a phone, and of those who also ticked the SMS consent.
CONFIDENTIAL_SHARE = 0.4
SMS_CONSENT_SHARE = 0.75
STOPS = [
    ClueStatus.SUBMITTED,
    ClueStatus.ACCEPTED,
    ClueStatus.ASSIGNED,
    ClueStatus.VERIFYING,
    ClueStatus.REVIEWING,
    ClueStatus.APPEALED,
    ClueStatus.WITHDRAWN,
]
DESCRIPTIONS = {
    ClueCategory.CONDUCT: [
        "窗口工作人员态度生硬，问了两遍就不耐烦",
        "办事时民警一直在玩手机，让群众干等",
        "接待人员说话带刺，对老年人不够耐心",
    ],
    ClueCategory.INTEGRITY: [
        "办理证件时暗示要“意思意思”才能快点办",
        "有人说托关系就能插队，窗口默许",
    ],
    ClueCategory.UNFAIR_ENFORCEMENT: [
        "交通事故认定明显偏袒对方，证据没有采纳",
        "同样的情况，别人罚款我拘留，处理不公",
    ],
    ClueCategory.BUCK_PASSING: [
        "户口迁移来回跑了三趟，每次都说材料不全但不一次说清",
        "两个部门互相推，谁都说不归自己管",
    ],
    ClueCategory.LIVELIHOOD: [
        "小区门口夜间施工噪音扰民，希望有人管管",
        "楼下餐馆油烟扰民多次反映未解决",
    ],
    ClueCategory.OTHER: ["办事大厅排队叫号系统经常出错", "停车场收费标准不清楚"],
}
FINDINGS = {
    Outcome.UNFOUNDED: "经调取监控、询问当事民警和在场群众，反映的问题查无实据。",
    Outcome.SUBSTANTIATED: "经核查，反映的问题属实。",
    Outcome.PARTLY_SUBSTANTIATED: "经核查，反映的问题部分属实，部分情况与实际不符。",
}


def generate_history(units: dict[str, Unit]) -> list[str]:
    """A year of activity for the demo city (once); lines to print."""
    if db.session.scalar(sa.select(sa.func.count()).select_from(Evaluation)) or db.session.scalar(
        sa.select(sa.func.count()).select_from(Clue)
    ):
        return ["历史数据：数据库中已有评价或线索，跳过生成。"]
    now = utcnow()
    rng = random.Random(2026)
    try:
        residents = _residents(rng)
        ratings = _ratings(rng, now, residents)
        rebuild_rollups()  # the bulk insert bypassed the daily rollups
        clues = _clues(rng, now, residents, units) + _closed_this_week(now, residents, units)
        notices = _notices(now)
        practices = generate_practices(rng, now)
        _replay_deadlines(rng, now)
    finally:
        clock.set_now(None)
    paths = rerating_paths()
    figures = deadline_figures(now)
    return practices + [
        f"历史数据：过去一年评价 {ratings} 条、线索 {clues} 条、通报 {notices} 份，"
        "以及相应的提醒函、督办函和回评。",
        f"期限：在办线索 {figures.open_clues} 条，有责任单位和期限的 {figures.owned:.1%}；"
        f"逾期环节 {figures.overdue_stages} 个，逾期首个工作日当天即收到督办或提醒的 "
        f"{figures.told:.1%}。",
        f"已办结线索 {paths['closed']} 条，反映人有可用回评途径的 {paths['reachable']} 条"
        f"（{paths['share']:.0%}）：短信邀请 {paths['sms']} 条、微信订阅消息 {paths['wechat']} 条、"
        f"回执上的查询链接 {paths['link']} 条。",
    ]


def rerating_paths() -> dict[str, Any]:
    """How the reporters of closed clues can reach the re-rating form.

    A reporter has a working path when an SMS invitation was queued to their phone (they
    consented), WeChat could deliver the invitation (quota for it), or their receipt showed
    the tracking link, which still works for TRACKING_LINK_RETENTION_DAYS after closure —
    longer than the re-rating window — so that the form is there when they open it.
    """
    closed = list(db.session.scalars(sa.select(Clue.id).where(Clue.status == ClueStatus.CLOSED)))
    invited = set(
        db.session.scalars(
            sa.select(OutboxMessage.clue_id).where(
                OutboxMessage.channel == MessageChannel.SMS,
                OutboxMessage.kind == "rerating_invite",
            )
        )
    )
    wechat = set(
        db.session.scalars(
            sa.select(ClueReporter.clue_id)
            .join(SubscriptionQuota, SubscriptionQuota.resident_id == ClueReporter.resident_id)
            .join(Resident, Resident.id == ClueReporter.resident_id)
            .where(
                Resident.channel == Channel.WECHAT,
                SubscriptionQuota.template == "rerating_invite",
                SubscriptionQuota.remaining > 0,
            )
        )
    )
    config = current_app.config
    lasts = config["TRACKING_LINK_RETENTION_DAYS"] >= config["CLUE_RERATING_WINDOW_DAYS"]
    linked = set(db.session.scalars(sa.select(ClueTracking.clue_id))) if lasts else set()
    counts = {
        "sms": sum(1 for c in closed if c in invited),
        "wechat": sum(1 for c in closed if c in wechat and c not in invited),
        "link": sum(1 for c in closed if c in linked and c not in invited | wechat),
    }
    reachable = sum(counts.values())
    return {
        "closed": len(closed),
        "reachable": reachable,
        "share": reachable / len(closed) if closed else 1.0,
        **counts,
    }


def _residents(rng: random.Random) -> list[int]:
    rows = [
        {
            "identity_hash": hash_identity("demo", f"resident-{n}"),
            "channel": Channel.H5,
            "created_at": utcnow(),
            "last_seen_at": utcnow(),
        }
        for n in range(RESIDENTS)
    ]
    db.session.execute(sa.insert(Resident), rows)
    return list(db.session.scalars(sa.select(Resident.id).order_by(Resident.id)))


def _working_moment(rng: random.Random, day: datetime) -> datetime:
    local = datetime.combine(day.date(), time(8, 30), LOCAL_TZ)
    return (local + timedelta(minutes=rng.randint(0, 9 * 60))).astimezone(UTC)


def _ratings(rng: random.Random, now: datetime, residents: list[int]) -> int:
    """Ratings at every window code over the year; each unit has its own quality."""
    codes = db.session.execute(
        sa.select(QRCode.id, QRCode.unit_id, Unit.kind)
        .join(Unit, Unit.id == QRCode.unit_id)
        .where(
            QRCode.status == QRStatus.ACTIVE,
            QRCode.officer_id.is_(None),
            Unit.kind != UnitKind.COMMITTEE,
        )
    ).all()
    officers: dict[int, list[int]] = {}
    for officer_id, unit_id in db.session.execute(sa.select(Officer.id, Officer.unit_id)):
        officers.setdefault(unit_id, []).append(officer_id)
    quality = {unit_id: rng.uniform(0.72, 0.98) for _, unit_id, _ in codes}
    questionnaire = {kind: current_questionnaire(kind) for kind in UnitKind}
    calendar = load_calendar()
    rows: list[dict[str, Any]] = []
    used: set[tuple[int, int, Any]] = set()
    start = now - timedelta(days=DAYS)
    for offset in range(DAYS):
        day = start + timedelta(days=offset)
        if not calendar.is_working_day(local_date(day)):
            continue
        for code_id, unit_id, kind in codes:
            for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):
                resident = rng.choice(residents)
                local_day = local_date(day)
                if (resident, code_id, local_day) in used:
                    continue
                used.add((resident, code_id, local_day))
                satisfied = rng.random() < quality[unit_id]
                level = rng.choice((5, 5, 4)) if satisfied else rng.choice((3, 3, 2, 1))
                survey = questionnaire[kind]
                reasons = survey.reasons_for(level)
                rows.append(
                    {
                        "resident_id": resident,
                        "qr_code_id": code_id,
                        "unit_id": unit_id,
                        "officer_id": rng.choice(officers.get(unit_id, [None]))
                        if rng.random() < 0.3
                        else None,
                        "questionnaire_id": survey.id,
                        "level": level,
                        "dimensions": {
                            d["key"]: max(1, min(5, level + rng.choice((-1, 0, 0, 1))))
                            for d in survey.dimensions
                        }
                        if rng.random() < 0.5
                        else {},
                        "reasons": rng.sample(reasons, k=min(len(reasons), rng.choice((0, 1, 2)))),
                        "comment": "",
                        "channel": Channel.H5,
                        "entry_scene": None,
                        "scanned_at": None,
                        "created_at": _working_moment(rng, day),
                        "local_day": local_day,
                        "period_start": local_day,
                        "client_hash": "",
                        "flags": [],
                        "is_excluded": False,
                    }
                )
    for chunk in range(0, len(rows), 5000):
        db.session.execute(sa.insert(Evaluation.__table__), rows[chunk : chunk + 5000])
    return len(rows)


def _staff() -> dict[Role, StaffAccount]:
    accounts = db.session.scalars(
        sa.select(StaffAccount).where(
            StaffAccount.username.in_(["screener", "verifier", "superior", "liaison"])
        )
    ).all()
    return {account.role: account for account in accounts}


def _at(moment: datetime, staff: StaffAccount | None = None) -> None:
    clock.set_now(moment)
    if staff is not None:
        set_actor(staff_actor(staff))


def _clues(rng: random.Random, now: datetime, residents: list[int], units: dict[str, Unit]) -> int:
    """About 300 clues in every state, living their lives through the services."""
    staff = _staff()
    targets = [u for u in units.values() if u.kind is not UnitKind.COMMITTEE]
    weights = [3 if u.code.count("-") == 4 else 1 for u in targets]  # stations see more
    start = now - timedelta(days=DAYS)
    moments = sorted(start + timedelta(days=rng.uniform(0, DAYS - 1)) for _ in range(300))
    open_by_unit: dict[int, Clue] = {}
    # Its own generator, so the rest of the year stays what it was before reporters had phones.
    reporters = random.Random(15)
    for index, moment in enumerate(moments):
        moment = _working_moment(rng, moment)
        unit = rng.choices(targets, weights)[0]
        category = rng.choices(list(ClueCategory), (5, 2, 2, 4, 2, 1))[0]
        officer = (
            db.session.scalars(
                sa.select(Officer).where(Officer.unit_id == unit.id).order_by(Officer.id)
            ).first()
            if rng.random() < 0.4
            else None
        )
        _at(moment)
        clue = service.file_clue(
            source=ClueSource.DIRECT,
            category=category,
            unit=unit,
            officer=officer,
            description=rng.choice(DESCRIPTIONS[category]),
            reporter=_reporter(reporters, rng.choice(residents)),
        )
        # The last clues stop part way, so the queues have work in every state.
        stop = rng.choice(STOPS) if index >= len(moments) - 24 else None
        _live(rng, clue, moment, now, staff, open_by_unit, stop)
        db.session.flush()
    return len(moments)


def _reporter(rng: random.Random, resident_id: int) -> service.ReporterIn:
    """Anonymous, or 实名保密 with a (made-up) phone and, mostly, the SMS consent."""
    if rng.random() >= CONFIDENTIAL_SHARE:
        return service.ReporterIn(resident_id, ReporterIdentity.ANONYMOUS.value)
    return service.ReporterIn(
        resident_id,
        ReporterIdentity.CONFIDENTIAL.value,
        phone=f"139{resident_id:08d}",
        sms_consent=rng.random() < SMS_CONSENT_SHARE,
    )


def _closed_this_week(now: datetime, residents: list[int], units: dict[str, Unit]) -> int:
    """A few clues of consenting reporters closed in the last days: their re-rating windows
    are open, so their SMS invitations are still worth sending when `flask up` starts."""
    staff = _staff()
    screener, verifier, superior = (staff[r] for r in (Role.SCREENER, Role.VERIFIER, Role.SUPERIOR))
    stations = [u for u in units.values() if u.kind is UnitKind.POLICE]
    for days in (3, 2, 1):
        filed = _working_moment(random.Random(days), now - timedelta(days=days + 14))
        _at(filed)
        clue = service.file_clue(
            source=ClueSource.DIRECT,
            category=ClueCategory.BUCK_PASSING,
            unit=stations[days % len(stations)],
            officer=None,
            description=DESCRIPTIONS[ClueCategory.BUCK_PASSING][days % 2],
            reporter=service.ReporterIn(
                residents[-days],
                "confidential",
                phone=f"139{residents[-days]:08d}",
                sms_consent=True,
            ),
        )
        _at(filed + timedelta(hours=2), screener)
        service.accept_clue(clue, staff=screener)
        service.assign_clue(clue, staff=screener, unit=clue.unit)
        _at(filed + timedelta(days=1), verifier)
        service.start_verification(clue, staff=verifier)
        closing = _working_moment(random.Random(days), now - timedelta(days=days))
        _at(min(closing, now) - timedelta(hours=3), verifier)
        service.submit_report(
            clue,
            staff=verifier,
            outcome=Outcome.SUBSTANTIATED,
            findings=FINDINGS[Outcome.SUBSTANTIATED],
            measures="对相关人员进行批评教育，责令整改。",
            reply_to_reporter="感谢您的监督，我们已认真核查并处理。",
        )
        _at(min(closing, now) - timedelta(hours=1), superior)
        service.approve_report(clue, staff=superior)
        db.session.flush()
    return 3


def _live(
    rng: random.Random,
    clue: Clue,
    filed: datetime,
    now: datetime,
    staff: dict[Role, StaffAccount],
    open_by_unit: dict[int, Clue],
    stop: ClueStatus | None,
) -> None:
    """Take one clue through a realistic life, ending no later than now (or at `stop`)."""
    screener, verifier = staff[Role.SCREENER], staff[Role.VERIFIER]
    superior, liaison = staff[Role.SUPERIOR], staff[Role.LIAISON]
    step = filed + timedelta(hours=rng.randint(2, 30))
    if step > now or stop is ClueStatus.SUBMITTED:
        return  # still waiting for screening
    if stop is ClueStatus.WITHDRAWN:  # the reporter thought better of it before screening
        clock.set_now(filed + timedelta(hours=1))
        reporter = service.reporters_following(clue)[0]
        service.withdraw_clue(clue, resident_id=reporter, reason="问题已经自行解决")
        return
    _at(step, screener)
    roll = rng.random()
    if clue.category is ClueCategory.LIVELIHOOD:
        service.forward_clue(clue, staff=screener)
        if stop is None and step + timedelta(days=12) < now:
            _at(step + timedelta(days=rng.randint(2, 8)))
            service.close_forwarded(clue, result="已协调有关部门处理，问题已解决。")
            _appeal_after_12345(rng, clue, now, staff)
        return
    if roll < 0.12:
        service.reject_clue(
            clue,
            staff=screener,
            reason=rng.choice(list(RejectReason)),
            message="感谢您的反映。经审核，该问题不属于本平台受理范围，建议通过相应渠道反映。",
        )
        return
    master = open_by_unit.get(clue.unit_id)
    if roll < 0.25 and master is not None and master.submitted_at > filed - timedelta(days=20):
        service.merge_clue(clue, staff=screener, master=master)  # it was open at the time
        return
    service.accept_clue(clue, staff=screener)
    if stop is ClueStatus.ACCEPTED:
        return
    # The demo city's verifiers sit at the stations, so misconduct clues are self-verified
    # there with the reason on record (the ledger and the statistics count them).
    reason = "被反映单位先行自查，区委政法委督导" if service.is_misconduct(clue) else ""
    service.assign_clue(clue, staff=screener, unit=clue.unit, self_verification_reason=reason)
    open_by_unit[clue.unit_id] = clue
    if stop is ClueStatus.ASSIGNED:
        return
    due = clue.due_at
    assert due is not None
    _at(step + timedelta(hours=rng.randint(4, 48)), verifier)
    if clock.utcnow() > now:
        return
    service.start_verification(clue, staff=verifier)
    late = rng.random() < 0.15
    finish = (
        due + timedelta(days=rng.randint(1, 6))
        if late
        else due - timedelta(days=rng.randint(1, 14))
    )
    finish = max(finish, clock.utcnow() + timedelta(hours=2))
    if stop is ClueStatus.VERIFYING or finish > now:
        return  # still under verification
    outcome = rng.choices(list(Outcome), (12, 8, 80))[0]
    misconduct = outcome is not Outcome.UNFOUNDED and rng.random() < 0.6
    _at(finish, verifier)
    service.submit_report(
        clue,
        staff=verifier,
        outcome=outcome,
        findings=FINDINGS[outcome],
        measures="对相关人员进行批评教育，责令整改。" if outcome is not Outcome.UNFOUNDED else "",
        persons_handled=rng.choice((1, 1, 2)) if misconduct else 0,
        involves_misconduct=misconduct,
        reply_to_reporter="感谢您的监督，我们已认真核查并处理。",
    )
    _at(finish + timedelta(hours=rng.randint(3, 60)), superior)
    if clock.utcnow() > now or stop is ClueStatus.REVIEWING:
        return
    if rng.random() < 0.08:
        service.return_report(clue, staff=superior, reason="证据材料不完整，请补充核查。")
        _at(clock.utcnow() + timedelta(days=2), verifier)
        service.submit_report(
            clue,
            staff=verifier,
            outcome=outcome,
            findings=FINDINGS[outcome],
            involves_misconduct=misconduct,
            persons_handled=1 if misconduct else 0,
        )
        _at(clock.utcnow() + timedelta(days=1), superior)
    service.approve_report(clue, staff=superior)
    closed = clock.utcnow()
    reporter = service.reporters_following(clue)
    if stop is ClueStatus.APPEALED and reporter:
        clock.set_now(closed + timedelta(days=1))
        service.appeal_clue(clue, resident_id=reporter[0], reason="处理结果不能让我满意。")
        return
    if reporter and rng.random() < 0.7 and closed + timedelta(days=3) < now:
        clock.set_now(closed + timedelta(days=rng.randint(1, 5)))
        happy = rng.random() < 0.85
        service.rerate_clue(clue, resident_id=reporter[0], level=5 if happy else 2, resolved=happy)
        if not happy and rng.random() < 0.6:
            service.appeal_clue(clue, resident_id=reporter[0], reason="处理结果不能让我满意。")
            _at(clock.utcnow() + timedelta(days=2), superior)
            if rng.random() < 0.5:
                service.reopen_clue(clue, staff=superior, note="复核后决定重新核查")
            else:
                service.uphold_clue(clue, staff=superior, note="原核查结论事实清楚、证据充分。")
    if clue.status is ClueStatus.CLOSED and misconduct and clock.utcnow() + timedelta(days=3) < now:
        _at(clock.utcnow() + timedelta(days=1), screener)
        referral = refer_clue(clue, staff=screener, note="涉嫌违纪，移交纪检监察")
        _at(clock.utcnow() + timedelta(days=1), liaison)
        receive_referral(referral, staff=liaison)
        if rng.random() < 0.7:
            _at(clock.utcnow() + timedelta(days=rng.randint(5, 20)), liaison)
            if clock.utcnow() < now:
                conclude_referral(
                    referral, staff=liaison, persons_handled=1, measures="给予诫勉谈话处理。"
                )


def _appeal_after_12345(
    rng: random.Random, clue: Clue, now: datetime, staff: dict[Role, StaffAccount]
) -> None:
    """Some residents are not satisfied with what 12345 did: they appeal, and the superior
    reopens some of them, which go to the reported unit to verify (and usually finish)."""
    reporter = service.reporters_following(clue)
    if not reporter or rng.random() > 0.25 or clock.utcnow() + timedelta(days=4) > now:
        return
    clock.set_now(clock.utcnow() + timedelta(days=1))
    service.rerate_clue(clue, resident_id=reporter[0], level=2, resolved=False)
    service.appeal_clue(clue, resident_id=reporter[0], reason="问题并没有解决，要求重新处理。")
    superior, verifier = staff[Role.SUPERIOR], staff[Role.VERIFIER]
    _at(clock.utcnow() + timedelta(days=1), superior)
    if rng.random() < 0.5:
        service.uphold_clue(clue, staff=superior, note="12345 已依规办理完毕。")
        return
    service.reopen_clue(clue, staff=superior, note="复核后决定由辖区单位核查")
    _at(clock.utcnow() + timedelta(days=rng.randint(3, 12)), verifier)
    if clock.utcnow() > now:
        return
    service.submit_report(
        clue,
        staff=verifier,
        outcome=Outcome.PARTLY_SUBSTANTIATED,
        findings="经实地核查，反映的问题部分属实，已督促有关部门整改。",
        reply_to_reporter="已督促有关部门整改，感谢您的监督。",
    )
    _at(clock.utcnow() + timedelta(days=1), superior)
    if clock.utcnow() < now:
        service.approve_report(clue, staff=superior)


SUPERVISION_ANSWER = (
    "已收悉。因需调取监控、走访证人，核查时间较长，我单位将于三个工作日内办结并报送核查报告。"
)


def _replay_deadlines(rng: random.Random, now: datetime) -> None:
    """The deadline sweep as the scheduler runs it, replayed over the year: just after
    midnight of every working day, over the stages open at that moment. Seven in ten 督办函
    are answered the next morning."""
    calendar = load_calendar()
    verifier = _staff()[Role.VERIFIER]
    day = local_date(now - timedelta(days=DAYS))
    while day <= local_date(now):
        moment = datetime.combine(day, time(0, 5), LOCAL_TZ).astimezone(UTC)
        if calendar.is_working_day(day) and moment <= now:
            clock.set_now(moment)
            deadline_sweep()
            _answer_some_supervision(rng, moment, now, verifier)
        day += timedelta(days=1)


def _answer_some_supervision(
    rng: random.Random, issued: datetime, now: datetime, verifier: StaffAccount
) -> None:
    letters = db.session.scalars(
        sa.select(Letter).where(Letter.kind == LetterKind.SUPERVISION, Letter.issued_at == issued)
    ).all()
    answer_at = issued + timedelta(hours=34)  # 10:05 the next day
    for letter in letters:
        if rng.random() < 0.7 and answer_at < now:
            _at(answer_at, verifier)
            respond_to_letter(letter, staff=verifier, response=SUPERVISION_ANSWER)
    clock.set_now(issued)


def _notices(now: datetime) -> int:
    """Weekly notices for the last twelve weeks, monthly ones for the last six months."""
    issued = 0
    today = local_date(now)
    first = today.replace(day=1)
    for _ in range(5):
        first = (first - timedelta(days=1)).replace(day=1)
    monday = today - timedelta(days=today.weekday(), weeks=11)
    # Every morning, as the scheduler does: each job knows its first working day.
    day = min(first, monday)
    while day <= today:
        moment = datetime.combine(day, time(9), LOCAL_TZ).astimezone(UTC)
        if moment <= now:
            clock.set_now(moment)
            issued += weekly_notice()["issued"] if day >= monday else 0
            issued += monthly_notice()["issued"] if day >= first else 0
        day += timedelta(days=1)
    clock.set_now(now)
    warning_letter_sweep()
    rerating_sweep()
    return issued
