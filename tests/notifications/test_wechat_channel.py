"""WeChat subscribe messages: the residents' subscription ledger, template fields cut to WeChat's
limits, and each WeChat answer handled as REFERENCE.md says — against the real sandbox."""

from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app import clock
from app.crypto import hash_identity
from app.extensions import db
from evaluations.identity import Resident
from notifications.channels.wechat import (
    DEFAULT_TEMPLATES,
    KINDS,
    fit,
    sandbox_templates,
    template_data,
    templates,
)
from notifications.dispatcher import dispatch_outbox
from notifications.models import Channel, OutboxMessage, SubscriptionQuota, WeChatContact
from notifications.outbox import enqueue
from sandboxes.wechat import FIELD_RULES
from tests.clues.factories import make_cast
from tests.evaluations.helpers import h5_resident, wechat_resident

SEND = "/cgi-bin/message/subscribe/send"
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing
_codes = itertools.count(1)


@dataclass(frozen=True)
class Subscriber:
    name: str
    headers: dict[str, str]
    openid: str
    resident_id: int


def template_id(app: Flask, kind: str) -> str:
    with app.app_context():
        return templates()[kind].template_id


def subscribe(client: FlaskClient, headers: dict[str, str], name: str, kinds: list[str]) -> Any:
    """What the mini-program does after wx.requestSubscribeMessage: a fresh code and the kinds."""
    return client.post(
        "/api/v1/me/subscriptions",
        headers=headers,
        json={"code": f"{name}~sub{next(_codes)}", "templates": kinds},
    )


def subscriber(
    app: Flask,
    client: FlaskClient,
    sandbox: Any,
    name: str,
    kinds: tuple[str, ...] = KINDS,
    granted: int = 1,
) -> Subscriber:
    """A WeChat resident who allowed `kinds` once: our ledger and WeChat's both say so."""
    headers = wechat_resident(client, name)
    if kinds:
        response = subscribe(client, headers, name, list(kinds))
        assert response.status_code == 200, response.json
    openid = sandbox.openid_for(name)
    for kind in kinds:
        if granted:
            sandbox.grant(openid, template_id(app, kind), granted)
    with app.app_context():
        resident_id = db.session.scalar(
            sa.select(Resident.id).where(Resident.identity_hash == hash_identity("wechat", openid))
        )
    return Subscriber(name, headers, openid, resident_id)


def queue(app: Flask, resident_id: int, kind: str = "clue_result", **payload: Any) -> int:
    """An outbox message to a resident, as the triggers write it; returns its id."""
    body = {
        "tracking_no": "XQ20261123-0001",
        "unit_name": "甲区派出所",
        "status_label": "已办结",
        "outcome_label": "查实",
        "message": "经核查属实，已对相关民警批评教育",
        "page": "pages/clue/detail?no=XQ",
        "expires_at": (T0 + timedelta(days=7)).isoformat(),
        **payload,
    }
    with app.app_context():
        message = enqueue(
            channel=Channel.WECHAT,
            kind=kind,
            payload=body,
            resident_id=resident_id,
            not_before=clock.utcnow(),
        )
        db.session.commit()
        return message.id


def row(app: Flask, message_id: int) -> OutboxMessage:
    with app.app_context():
        message = db.session.get(OutboxMessage, message_id)
        db.session.expunge(message)
        return message


def quota(app: Flask, resident_id: int, kind: str) -> int | None:
    with app.app_context():
        entry = db.session.get(SubscriptionQuota, (resident_id, kind))
        return None if entry is None else entry.remaining


def dispatch(app: Flask, **options: Any) -> dict[str, int]:
    with app.app_context():
        return dispatch_outbox(**options)


@pytest.fixture
def frozen():
    clock.set_now(T0)
    yield T0
    clock.set_now(None)


# ---------------------------------------------------------------- fitting values to the limits


def _accepted(key: str, value: str) -> bool:
    """The sandbox's own rule for the key's type (WeChat's documented limits)."""
    prefix = re.fullmatch(r"([a-z_]+?)\d*", key).group(1)
    return FIELD_RULES[prefix][0](value)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("thing1", "甲区派出所", "甲区派出所"),
        (
            "thing1",
            "经核查属实，已对相关民警批评教育并责令其书面检查，向您致歉",
            "经核查属实，已对相关民警批评教育并责令…",
        ),
        ("thing1", "第一行\n第二行", "第一行 第二行"),
        ("thing1", "", "无"),
        ("phrase2", "已办结", "已办结"),
        ("phrase2", "已转 12345", "已转"),
        ("phrase2", "部分属实的结论", "部分属实的"),
        ("phrase2", "", "有更新"),
        ("character_string3", "XQ20261121-0007", "XQ20261121-0007"),
        ("character_string3", "编号 XQ-1 很长" + "9" * 40, "XQ-1" + "9" * 28),
        ("time4", "2026-11-21T06:00:00+00:00", "2026年11月21日 14:00"),
        ("time4", "2026-11-21T14:00:00", "2026年11月21日 14:00"),
        ("time4", "2026年11月21日 14:00", "2026年11月21日 14:00"),
        ("time4", "不是时间", "2026年11月23日 10:00"),
        ("date5", "2026-11-28T06:00:00+00:00", "2026年11月28日"),
        ("name6", "欧阳娜娜娜娜娜娜娜娜娜", "欧阳娜娜娜娜娜娜娜娜"),
        ("name6", "John Smith", "John Smith"),
    ],
)
def test_values_are_cut_to_wechat_limits(key, value, expected):
    fitted = fit(key, value, fallback_time=T0)
    assert fitted == expected
    assert _accepted(key, fitted), (key, fitted)


def test_every_demo_template_renders_values_wechat_accepts(app):
    long_payload = {
        "tracking_no": "XQ20261123-0001",
        "unit_name": "临江市公安局江南分局城关派出所户籍窗口",
        "status_label": "已转 12345",
        "outcome_label": "",
        "message": "很" * 80,
        "expires_at": "2026-11-30T08:00:00+00:00",
    }
    with app.app_context():
        for template in templates().values():
            data = template_data(template, long_payload, T0)
            assert set(data) == set(template.fields)
            for key, value in data.items():
                assert _accepted(key, value), (template.kind, key, value)


# ---------------------------------------------------------------- the subscriptions endpoint


def test_subscribing_with_ones_own_code_adds_one_quota_per_template(wired_app, client, wechat):
    headers = wechat_resident(client, "alice")
    listed = client.get("/api/v1/me/subscriptions", headers=headers)
    assert listed.status_code == 200
    assert listed.json["wechat"] is True and listed.json["has_contact"] is False
    ids = {t["kind"]: t["template_id"] for t in listed.json["templates"]}
    assert set(ids) == set(KINDS)
    assert all(t["remaining"] == 0 for t in listed.json["templates"])

    first = subscribe(client, headers, "alice", ["clue_result", "rerating_invite"])
    assert first.status_code == 200, first.json
    # The mini-program may also send the template ids wx.requestSubscribeMessage answered with.
    second = subscribe(client, headers, "alice", [ids["clue_result"], "clue_result"])
    assert second.status_code == 200, second.json
    remaining = {t["kind"]: t["remaining"] for t in second.json["templates"]}
    assert remaining == {
        "clue_accepted": 0,
        "clue_result": 2,
        "appeal_decision": 0,
        "rerating_invite": 1,
    }
    assert second.json["has_contact"] is True

    openid = wechat.openid_for("alice")
    with wired_app.app_context():
        contact = db.session.scalars(sa.select(WeChatContact)).one()
        assert openid not in contact.openid_encrypted  # stored encrypted, never in clear


def test_someone_elses_code_is_refused(wired_app, client, wechat):
    headers = wechat_resident(client, "alice")
    response = subscribe(client, headers, "mallory", ["clue_result"])
    assert response.status_code == 403
    assert response.json["error"] == "identity_mismatch"
    with wired_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SubscriptionQuota)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WeChatContact)) == 0


def test_h5_residents_cannot_subscribe(wired_app, client, wechat):
    response = subscribe(client, h5_resident(client), "alice", ["clue_result"])
    assert response.status_code == 409
    assert response.json["error"] == "not_wechat"


def test_unknown_kinds_and_bad_codes_are_refused(wired_app, client, wechat):
    headers = wechat_resident(client, "alice")
    unknown = subscribe(client, headers, "alice", ["clue_result", "lottery_win"])
    assert unknown.status_code == 422
    assert "lottery_win" in str(unknown.json["details"])
    bad_code = client.post(
        "/api/v1/me/subscriptions",
        headers=headers,
        json={"code": "~", "templates": ["clue_result"]},
    )
    assert bad_code.status_code == 401
    assert (
        client.post(
            "/api/v1/me/subscriptions", json={"code": "alice~x", "templates": ["clue_result"]}
        ).status_code
        == 401
    )


# ---------------------------------------------------------------- sending


def test_a_rejected_clue_reaches_the_reporter_with_fields_within_limits(wired_app, client, wechat):
    alice = subscriber(wired_app, client, wechat, "alice", kinds=("clue_result",))
    cast = make_cast(wired_app, client)
    filed = cast.file(resident=alice.headers)
    long_reply = (
        "您反映的情况经核实属于法院执行程序中的问题，"
        "不属于本平台受理范围，请向执行法院或者检察院反映"
    )
    cast.step(
        cast.screener, filed.id, "reject", to="rejected", reason="out_of_scope", message=long_reply
    )

    assert dispatch(wired_app)["sent"] == 1
    [message] = wechat.messages()
    assert message["touser"] == alice.openid
    assert message["template_id"] == template_id(wired_app, "clue_result")
    data = {key: item["value"] for key, item in message["data"].items()}
    assert data["character_string1"] == filed.tracking_no
    assert data["thing2"] == "甲区派出所"
    assert data["phrase3"] == "不予受理"
    assert data["thing4"] == long_reply[:19] + "…"
    assert re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}", data["time5"])
    assert message["page"] == f"pages/clue/detail?no={filed.tracking_no}"
    assert quota(wired_app, alice.resident_id, "clue_result") == 0
    with wired_app.app_context():
        sent = db.session.scalars(sa.select(OutboxMessage)).one()
        assert (sent.status.value, sent.attempts, sent.last_error) == ("sent", 1, "")
        assert sent.sent_at is not None and sent.lease_until is None


def test_without_quota_nothing_is_sent_and_wechat_is_not_called(wired_app, client, wechat):
    alice = subscriber(wired_app, client, wechat, "alice", kinds=("clue_accepted",))
    bob = subscriber(wired_app, client, wechat, "bob", kinds=())  # never allowed anything
    no_quota = queue(wired_app, alice.resident_id, "clue_result")
    no_contact = queue(wired_app, bob.resident_id, "clue_result")

    assert dispatch(wired_app)["skipped"] == 2
    assert wechat.calls(SEND) == []
    for message_id, reason in ((no_quota, "订阅次数"), (no_contact, "openid")):
        message = row(wired_app, message_id)
        assert message.status.value == "skipped" and message.attempts == 0
        assert reason in message.last_error
    assert quota(wired_app, alice.resident_id, "clue_accepted") == 1


def test_43101_is_final_and_empties_the_ledger(wired_app, client, wechat):
    # Our ledger says one, WeChat has none (the resident's grant never reached it).
    alice = subscriber(wired_app, client, wechat, "alice", kinds=("clue_result",), granted=0)
    first = queue(wired_app, alice.resident_id)
    dispatch(wired_app)
    message = row(wired_app, first)
    assert message.status.value == "dead" and message.attempts == 1
    assert "43101" in message.last_error
    assert quota(wired_app, alice.resident_id, "clue_result") == 0
    # The next message of that kind is skipped without asking WeChat again.
    second = queue(wired_app, alice.resident_id)
    dispatch(wired_app)
    assert row(wired_app, second).status.value == "skipped"
    assert len(wechat.calls(SEND)) == 1


@pytest.mark.parametrize("errcode", [47003, 40037, 40003])
def test_permanent_errors_are_dead_at_once(wired_app, client, wechat, errcode):
    alice = subscriber(wired_app, client, wechat, "alice", kinds=("clue_result",))
    message_id = queue(wired_app, alice.resident_id)
    wechat.fail(errcode, api=SEND)
    assert dispatch(wired_app)["dead"] == 1
    message = row(wired_app, message_id)
    assert (message.status.value, message.attempts) == ("dead", 1)
    assert str(errcode) in message.last_error
    # Refused, so not spent: the quota is still there for the next message.
    assert quota(wired_app, alice.resident_id, "clue_result") == 1
    assert dispatch(wired_app)["leased"] == 0


def test_real_47003_and_40037_from_the_sandbox_are_dead(wired_app, client, wechat):
    alice = subscriber(wired_app, client, wechat, "alice", kinds=("clue_result", "appeal_decision"))
    # WeChat's console has a field our configuration does not fill…
    result_id = template_id(wired_app, "clue_result")
    with wired_app.app_context():
        keys = sandbox_templates()[result_id]
    wechat.add_template(result_id, [*keys, "thing9"])
    # …and does not know the template id configured for appeal decisions.
    configured = copy.deepcopy(DEFAULT_TEMPLATES)
    configured["appeal_decision"]["template_id"] = "NOT_IN_THE_CONSOLE"
    wired_app.config["WECHAT_TEMPLATES"] = configured
    bad_field = queue(wired_app, alice.resident_id, "clue_result")
    bad_template = queue(wired_app, alice.resident_id, "appeal_decision")
    dispatch(wired_app)
    assert row(wired_app, bad_field).status.value == "dead"
    assert "47003" in row(wired_app, bad_field).last_error
    assert row(wired_app, bad_template).status.value == "dead"
    assert "40037" in row(wired_app, bad_template).last_error
    assert [c["errcode"] for c in wechat.calls(SEND)] == [47003, 40037]


@pytest.mark.parametrize("errcode", [-1, 45009])
def test_busy_and_rate_limited_are_retried_with_backoff_then_sent(
    wired_app, client, wechat, frozen, errcode
):
    alice = subscriber(wired_app, client, wechat, "alice", kinds=("clue_result",))
    message_id = queue(wired_app, alice.resident_id)
    wechat.fail(errcode, count=2, api=SEND)

    assert dispatch(wired_app)["retry"] == 1
    first = row(wired_app, message_id)
    assert (first.status.value, first.attempts) == ("pending", 1)
    assert T0 < first.next_attempt_at <= T0 + timedelta(seconds=30)
    assert str(errcode) in first.last_error
    assert dispatch(wired_app)["leased"] == 0  # not due yet

    clock.set_now(first.next_attempt_at)
    assert dispatch(wired_app)["retry"] == 1
    second = row(wired_app, message_id)
    assert second.attempts == 2
    assert (
        first.next_attempt_at
        < second.next_attempt_at
        <= first.next_attempt_at + timedelta(seconds=60)
    )

    clock.set_now(second.next_attempt_at)
    assert dispatch(wired_app)["sent"] == 1
    done = row(wired_app, message_id)
    assert (done.status.value, done.attempts, done.sent_at) == ("sent", 3, second.next_attempt_at)
    assert len(wechat.messages()) == 1
    assert quota(wired_app, alice.resident_id, "clue_result") == 0


def test_dead_after_the_configured_number_of_attempts(wired_app, client, wechat, frozen):
    wired_app.config["OUTBOX_MAX_ATTEMPTS"] = 3
    alice = subscriber(wired_app, client, wechat, "alice", kinds=("clue_result",))
    message_id = queue(wired_app, alice.resident_id)
    wechat.fail(-1, count=10, api=SEND)
    for attempt in (1, 2, 3):
        dispatch(wired_app)
        message = row(wired_app, message_id)
        assert message.attempts == attempt
        clock.set_now(message.next_attempt_at)
    assert message.status.value == "dead"
    assert "已尝试 3 次" in message.last_error
    assert dispatch(wired_app, now=T0 + timedelta(days=1))["leased"] == 0
    assert len(wechat.calls(SEND)) == 3


def test_a_timeout_is_retried(wired_app, client, wechat, frozen):
    wired_app.config["WECHAT_READ_TIMEOUT"] = 0.5
    alice = subscriber(wired_app, client, wechat, "alice", kinds=("clue_result",))
    message_id = queue(wired_app, alice.resident_id)
    wechat.fail("timeout", api=SEND, delay=1.5)
    assert dispatch(wired_app)["retry"] == 1
    message = row(wired_app, message_id)
    assert (message.status.value, message.attempts) == ("pending", 1)
    assert "超时" in message.last_error
    assert message.next_attempt_at > T0


def test_a_token_still_refused_after_the_clients_refresh_is_retried(
    wired_app, client, wechat, frozen
):
    alice = subscriber(wired_app, client, wechat, "alice", kinds=("clue_result",))
    message_id = queue(wired_app, alice.resident_id)
    wechat.fail(40001, count=2, api=SEND)  # the first try and the client's one retry
    assert dispatch(wired_app)["retry"] == 1
    assert "40001" in row(wired_app, message_id).last_error
    clock.set_now(row(wired_app, message_id).next_attempt_at)
    assert dispatch(wired_app)["sent"] == 1
