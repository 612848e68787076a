"""`seed-demo --with-history`: a year of activity in every state, generated once."""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.extensions import db
from clues.models import Clue, ClueReporter, Referral, ReporterIdentity
from clues.states import ClueStatus
from evaluations.models import Evaluation
from notifications.models import Channel, Letter, LetterKind, OutboxMessage


def test_history_fills_every_state_once(app, runner, client):
    result = runner.invoke(args=["seed-demo", "--with-history"])
    assert result.exit_code == 0, result.output
    assert "历史数据：过去一年评价" in result.output
    # Every closed clue's reporter can re-rate: SMS for those who consented, else the link.
    assert re.search(r"已办结线索 (\d+) 条，反映人有可用回评途径的 \1 条（100%）", result.output)
    # Every open clue has a unit that must act and a due date; every overdue stage was told
    # on its first overdue working day.
    assert "有责任单位和期限的 100.0%" in result.output
    assert "逾期首个工作日当天即收到督办或提醒的 100.0%" in result.output
    with app.app_context():
        evaluations = db.session.scalar(sa.select(sa.func.count()).select_from(Evaluation))
        statuses = set(db.session.scalars(sa.select(Clue.status).distinct()))
        kinds = set(db.session.scalars(sa.select(Letter.kind).distinct()))
        referrals = db.session.scalar(sa.select(sa.func.count()).select_from(Referral))
        oldest = db.session.scalar(sa.select(sa.func.min(Evaluation.created_at)))
        newest = db.session.scalar(sa.select(sa.func.max(Evaluation.created_at)))
    assert evaluations > 10_000
    assert statuses == set(ClueStatus)
    assert kinds == set(LetterKind)
    assert referrals > 0
    with app.app_context():
        texted = db.session.execute(
            sa.select(ClueReporter.identity, ClueReporter.sms_consent)
            .join(OutboxMessage, OutboxMessage.clue_id == ClueReporter.clue_id)
            .where(OutboxMessage.channel == Channel.SMS)
        ).all()
    assert texted and set(texted) == {(ReporterIdentity.CONFIDENTIAL, True)}
    assert (newest - oldest).days > 330
    again = runner.invoke(args=["seed-demo", "--with-history"])
    assert "跳过生成" in again.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Evaluation)) == evaluations
    # The demo accounts see work waiting for them.
    login = client.post(
        "/api/v1/staff/session", json={"username": "screener", "password": "Pingyi2026"}
    ).json
    queue = client.get(
        "/api/v1/clues?status=submitted", headers={"Authorization": f"Bearer {login['token']}"}
    ).json
    assert queue["total"] > 0
