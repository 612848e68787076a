"""SMS to consenting confidential reporters through the outbox: Tencent's TC3 signing against
its documented example, the sandbox refusing what Tencent refuses, who gets a message when,
and each per-number answer retried, put off or dead-lettered — against the real sandbox."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask

from app import clock, create_app
from app.extensions import db
from clues import service
from clues.models import ClueReporter
from clues.tracking import ClueTracking
from config import SANDBOX_SMS_SECRET_ID, InsecureConfiguration, production_problems
from notifications.channels import sms
from notifications.dispatcher import dispatch_outbox
from notifications.models import Channel, OutboxMessage, OutboxStatus
from notifications.tencent_sms import (
    CONTENT_TYPE,
    SmsGateway,
    SmsRequestError,
    authorization,
    canonical_request,
    sha256_hex,
    string_to_sign,
    tc3_signature,
)
from sandboxes.sms import DEFAULT_APP_ID, DEFAULT_SIGN
from tests.clues.factories import Cast, make_cast
from tests.evaluations.helpers import h5_resident
from tests.fixtures.sms import SmsSandbox, use_sms
from tests.hardening.test_security_config import PRODUCTION

PHONE = "13800138000"
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing
NEXT_MORNING = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # Tuesday 08:00 in Beijing


# ---------------------------------------------------------------- signing


def test_signature_matches_the_example_in_tencents_documentation():
    """签名方法 v3: CVM DescribeInstances, SecretKey Gu5t…EXAMPLE, timestamp 1551113065."""
    payload = (
        b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    )
    host = "cvm.tencentcloudapi.com"
    assert sha256_hex(payload) == "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    canonical = canonical_request(payload=payload, host=host, content_type=CONTENT_TYPE)
    to_sign = string_to_sign(timestamp=1551113065, service="cvm", canonical=canonical)
    assert to_sign == (
        "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
        "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
    )
    signature = "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    assert (
        tc3_signature(
            "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", date="2019-02-25", service="cvm", to_sign=to_sign
        )
        == signature
    )
    assert authorization(
        secret_id="AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
        secret_key="Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        timestamp=1551113065,
        payload=payload,
        host=host,
        service="cvm",
    ) == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/"
        f"tc3_request, SignedHeaders=content-type;host, Signature={signature}"
    )


def _gateway(sandbox: SmsSandbox, **overrides: Any) -> SmsGateway:
    values = {
        "endpoint": sandbox.base_url,
        "secret_id": SANDBOX_SMS_SECRET_ID,
        "secret_key": sandbox.secret_key,
        "region": "ap-guangzhou",
        "sdk_app_id": DEFAULT_APP_ID,
        "sign_name": DEFAULT_SIGN,
        **overrides,
    }
    return SmsGateway(**values)


def _send(gateway: SmsGateway, **overrides: Any) -> list[Any]:
    message = {"phone_numbers": [f"+86{PHONE}"], "template_id": "1", "params": ["A1"]}
    return gateway.send_sms(**{**message, **overrides})


def test_sandbox_checks_the_signature_and_the_message(sms_sandbox: SmsSandbox):
    sms_sandbox.register({"1": "您的编号是{1}"})
    (status,) = _send(_gateway(sms_sandbox))
    assert (status.code, status.phone_number) == ("Ok", f"+86{PHONE}")
    assert sms_sandbox.messages()[0]["content"] == f"【{DEFAULT_SIGN}】您的编号是A1"

    refusals = {
        "AuthFailure.SignatureFailure": (_gateway(sms_sandbox, secret_key="wrong-key"), {}),
        "AuthFailure.SecretIdNotFound": (_gateway(sms_sandbox, secret_id="AKIDother"), {}),
        "AuthFailure.SignatureExpire": (_gateway(sms_sandbox), {"timestamp": 1551113065}),
        "FailedOperation.TemplateIncorrectOrUnapproved": (
            _gateway(sms_sandbox),
            {"template_id": "404"},
        ),
        "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter": (
            _gateway(sms_sandbox),
            {"params": ["https://evil.example/x"]},
        ),
    }
    for code, (gateway, overrides) in refusals.items():
        with pytest.raises(SmsRequestError) as refused:
            _send(gateway, **overrides)
        assert refused.value.code == code

    # A body changed after signing (same headers) is refused: the body is signed too.
    body = json.dumps({"PhoneNumberSet": [f"+86{PHONE}"]}).encode()
    stamp = int(clock.utcnow().timestamp())
    host = sms_sandbox.base_url.removeprefix("http://")
    headers = {
        "Authorization": authorization(
            secret_id=SANDBOX_SMS_SECRET_ID,
            secret_key=sms_sandbox.secret_key,
            timestamp=stamp,
            payload=body,
            host=host,
        ),
        "Content-Type": CONTENT_TYPE,
        "X-TC-Action": "SendSms",
        "X-TC-Version": "2021-01-11",
        "X-TC-Timestamp": str(stamp),
    }
    tampered = requests.post(
        sms_sandbox.base_url + "/",
        data=body.replace(PHONE.encode(), b"13900000000"),
        headers=headers,
        timeout=5,
    )
    assert tampered.json()["Response"]["Error"]["Code"] == "AuthFailure.SignatureFailure"
    assert len(sms_sandbox.messages()) == 1


# ---------------------------------------------------------------- who gets one, when


def file(cast: Cast, identity: str = "confidential", consent: bool = True) -> Reported:
    """A clue reported directly by a fresh H5 resident, with or without the SMS consent."""
    body: dict[str, Any] = {
        "qr_token": cast.code.token,
        "category": "buck_passing",
        "description": "户籍窗口民警态度生硬，推诿让我来回跑了三趟",
        "identity": identity,
    }
    if identity == "confidential":
        body.update(phone=PHONE, sms_consent=consent)
    resident = h5_resident(cast.client)
    response = cast.client.post("/api/v1/me/clues", headers=resident, json=body)
    assert response.status_code == 201, response.json
    tracking_no = response.json["tracking_no"]
    return Reported(tracking_no, cast.clue_id(tracking_no), resident)


@dataclass(frozen=True)
class Reported:
    tracking_no: str
    id: int
    resident: dict[str, str]


def sms_rows(app: Flask, clue_id: int | None = None) -> list[OutboxMessage]:
    with app.app_context():
        stmt = sa.select(OutboxMessage).where(OutboxMessage.channel == Channel.SMS)
        if clue_id is not None:
            stmt = stmt.where(OutboxMessage.clue_id == clue_id)
        rows = list(db.session.scalars(stmt.order_by(OutboxMessage.id)))
        db.session.expunge_all()
        return rows


def test_consenting_reporters_get_the_link_at_acceptance_closure_and_appeal_decision(
    app: Flask, client, sms_sandbox: SmsSandbox
):
    use_sms(app, sms_sandbox)
    cast = make_cast(app, client)
    consenting, silent, anonymous = file(cast), file(cast, consent=False), file(cast, "anonymous")
    for clue in (consenting, silent, anonymous):
        for who, action, to, body in cast.path_to_closed():
            cast.step(who, clue.id, action, to=to, **body)
    appeal = cast.appeal(consenting.tracking_no, resident=consenting.resident)
    assert appeal.status_code == 200, appeal.json
    cast.step(cast.superior, consenting.id, "uphold", to="closed", note="原结论事实清楚")
    rejected = file(cast)
    cast.step(
        cast.screener,
        rejected.id,
        "reject",
        to="rejected",
        reason="no_substance",
        message="反映内容不具体",
    )

    assert [r.kind for r in sms_rows(app, consenting.id)] == [
        "clue_accepted",
        "rerating_invite",
        "appeal_decision",
    ]
    assert [r.kind for r in sms_rows(app, rejected.id)] == ["clue_result"]
    assert sms_rows(app, silent.id) == [] and sms_rows(app, anonymous.id) == []
    # Nothing secret in the outbox: the phone and the link are read when sending.
    assert all(PHONE not in json.dumps(r.payload) for r in sms_rows(app))

    with app.app_context():
        counts = dispatch_outbox()
        secret = db.session.get(ClueTracking, consenting.id).secret
    assert (counts["sent"], counts["dead"], counts["skipped"]) == (4, 0, 0)
    texts = [m["content"] for m in sms_sandbox.messages()]
    assert all(m["phone"] == f"+86{PHONE}" for m in sms_sandbox.messages())
    assert len(texts) == 4
    assert f"http://pingyi.test/t/{secret}" in texts[0] and "已受理" in texts[0]
    assert "已办结" in texts[1] and "评价" in texts[1] and secret in texts[1]
    assert "复核" in texts[2] and secret in texts[2]
    assert "未予受理" in texts[3]


def test_a_merged_follower_is_invited_and_answered_through_their_own_clue(
    app: Flask, client, sms_sandbox: SmsSandbox
):
    use_sms(app, sms_sandbox)
    cast = make_cast(app, client)
    master, follower = file(cast), file(cast)
    cast.step(cast.screener, follower.id, "merge", to="merged", master_id=master.id)
    for who, action, to, body in cast.path_to_closed():
        cast.step(who, master.id, action, to=to, **body)
    with app.app_context():
        appellant = db.session.get(ClueReporter, follower.id).resident_id
        service.appeal_clue(service.get_clue(master.id), resident_id=appellant, reason="不满意")
        db.session.commit()
    cast.step(cast.superior, master.id, "uphold", to="closed", note="原结论事实清楚")

    by_kind = {(r.kind, r.clue_id) for r in sms_rows(app)}
    assert by_kind == {
        ("clue_accepted", master.id),
        ("clue_accepted", follower.id),  # merged: taken up together with the master
        ("rerating_invite", master.id),
        ("rerating_invite", follower.id),
        ("appeal_decision", follower.id),  # only the appellant hears of the decision
    }
    with app.app_context():
        dispatch_outbox()
        own = db.session.get(ClueTracking, follower.id).secret
    to_follower = [m["content"] for m in sms_sandbox.messages() if own in m["content"]]
    assert len(to_follower) == 3
    assert all(follower.tracking_no in text for text in to_follower)


# ---------------------------------------------------------------- answers, retries, quotas


@pytest.fixture
def frozen():
    clock.set_now(T0)
    yield T0
    clock.set_now(None)


def queue(app: Flask, clue_id: int, kind: str = "clue_accepted") -> int:
    with app.app_context():
        message = sms.queue_sms(
            kind=kind,
            clue_id=clue_id,
            resident_id=db.session.get(ClueReporter, clue_id).resident_id,
            payload={
                "tracking_no": "XQ",
                "expires_at": (clock.utcnow() + timedelta(days=7)).isoformat(),
            },
            event_id=f"test:{clue_id}:{kind}:{clock.utcnow().timestamp()}",
        )
        db.session.commit()
        return message.id


def row(app: Flask, message_id: int) -> OutboxMessage:
    with app.app_context():
        message = db.session.get(OutboxMessage, message_id)
        db.session.expunge(message)
        return message


def dispatch(app: Flask) -> dict[str, int]:
    with app.app_context():
        return dispatch_outbox()


def test_per_number_answers_retry_wait_for_tomorrow_or_dead_letter(
    app: Flask, client, sms_sandbox: SmsSandbox, frozen
):
    use_sms(app, sms_sandbox, OUTBOX_MAX_ATTEMPTS=2)
    cast = make_cast(app, client)
    clue = file(cast)

    # The number's daily limit at Tencent: tried again tomorrow morning, then delivered.
    daily = queue(app, clue.id)
    sms_sandbox.fail("LimitExceeded.PhoneNumberDailyLimit")
    assert dispatch(app)["retry"] == 1
    waiting = row(app, daily)
    assert (waiting.status, waiting.attempts) == (OutboxStatus.PENDING, 1)
    assert waiting.next_attempt_at == NEXT_MORNING
    assert "今日接收短信已达上限" in waiting.last_error
    clock.set_now(NEXT_MORNING - timedelta(minutes=1))
    assert dispatch(app)["leased"] == 0
    clock.set_now(NEXT_MORNING)
    assert dispatch(app)["sent"] == 1
    assert row(app, daily).status is OutboxStatus.SENT

    # A wrong number cannot get better: dead at once.
    wrong = queue(app, clue.id, "appeal_decision")
    sms_sandbox.fail("InvalidParameterValue.IncorrectPhoneNumber")
    assert dispatch(app)["dead"] == 1
    assert "手机号格式错误" in row(app, wrong).last_error

    # Tencent's trouble is retried with a backoff, and dead-lettered after the last attempt.
    busy = queue(app, clue.id, "clue_result")
    sms_sandbox.fail("InternalError.Timeout", count=2, level="request")
    assert dispatch(app)["retry"] == 1
    clock.set_now(clock.utcnow() + timedelta(hours=2))
    assert dispatch(app)["dead"] == 1
    assert row(app, busy).attempts == 2 and "已尝试 2 次" in row(app, busy).last_error

    # The resident unsubscribed at the carrier: dead, and no more SMS to them.
    blocked = queue(app, clue.id, "rerating_invite")
    sms_sandbox.fail("FailedOperation.PhoneNumberInBlacklist")
    assert dispatch(app)["dead"] == 1
    assert "退订" in row(app, blocked).last_error
    later = queue(app, clue.id)
    assert dispatch(app)["skipped"] == 1
    assert row(app, later).status is OutboxStatus.SKIPPED
    assert len(sms_sandbox.messages()) == 1


def test_quiet_hours_and_the_daily_quota_put_messages_off_without_an_attempt(
    app: Flask, client, sms_sandbox: SmsSandbox, frozen
):
    use_sms(app, sms_sandbox, SMS_DAILY_LIMIT_PER_RESIDENT=1)
    cast = make_cast(app, client)
    clue = file(cast)
    first, second = queue(app, clue.id), queue(app, clue.id, "clue_result")
    assert dispatch(app) == {"leased": 2, "sent": 1, "retry": 1, "dead": 0, "skipped": 0, "lost": 0}
    held = row(app, second)
    assert (held.attempts, held.next_attempt_at) == (0, NEXT_MORNING)
    assert "今日已收到 1 条短信" in held.last_error
    assert row(app, first).status is OutboxStatus.SENT

    app.config["SMS_QUIET_HOURS"] = "22-8"
    clock.set_now(datetime(2026, 11, 23, 15, 30, tzinfo=UTC))  # 23:30 in Beijing
    night = queue(app, clue.id, "appeal_decision")
    assert dispatch(app)["retry"] == 1
    assert (row(app, night).attempts, row(app, night).next_attempt_at) == (0, NEXT_MORNING)
    assert len(sms_sandbox.calls()) == 1


# ---------------------------------------------------------------- production


SMS_PRODUCTION = {
    "SMS_ENDPOINT": "https://sms.tencentcloudapi.com",
    "SMS_SECRET_ID": "AKID" + "x" * 32,
    "SMS_SECRET_KEY": "k" * 32,
    "SMS_SDK_APP_ID": "1400123456",
    "SMS_SIGN_NAME": "临江政法",
    "SMS_TEMPLATES": {"clue_accepted": {"template_id": "2001", "params": ["{tracking_no}"]}},
}


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"SMS_ENDPOINT": "http://127.0.0.1:5003"}, "SMS_ENDPOINT"),
        ({"SMS_ENDPOINT": "https://localhost:5003"}, "SMS_ENDPOINT"),
        ({"SMS_SECRET_ID": SANDBOX_SMS_SECRET_ID}, "SMS_SECRET_ID"),
        ({"SMS_SECRET_KEY": "sandbox-sms-secret-key"}, "SMS_SECRET_KEY"),
        ({"SMS_TEMPLATES": None}, "SMS_TEMPLATES"),
    ],
)
def test_production_refuses_the_sms_sandbox(overrides, named):
    problems = production_problems({**PRODUCTION, **SMS_PRODUCTION, **overrides})
    assert any(named in problem for problem in problems), problems
    assert not [p for p in production_problems({**PRODUCTION, **SMS_PRODUCTION}) if "SMS" in p]
    with pytest.raises(InsecureConfiguration, match=named):
        create_app({**PRODUCTION, **SMS_PRODUCTION, **overrides})
