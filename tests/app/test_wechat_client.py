"""The WeChat client against the sandbox over real HTTP: tokens, retries, errors, each API."""

from __future__ import annotations

import io
import os
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor

import flask
import pytest
import zxingcpp
from PIL import Image

from app import wechat
from app.wechat import (
    MemoryTokenCache,
    RedisTokenCache,
    WeChatClient,
    WeChatError,
    WeChatNotConfigured,
)
from app.wechat.client import (
    CODE2SESSION_API,
    MSG_SEC_CHECK_API,
    STABLE_TOKEN_API,
    SUBSCRIBE_SEND_API,
    WXACODE_API,
)
from tests.fixtures.wechat import make_wechat_client

TEMPLATE = "tpl-clue-progress"
REQUIRE_SERVICES = os.environ.get("PINGYI_REQUIRE_SERVICES") == "1"


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def api_calls(sandbox, api):
    return [call for call in sandbox.calls() if call["api"] == api]


def resident(client, name="alice"):
    return client.code2session(f"{name}~{uuid.uuid4().hex[:8]}").openid


# --- access token ----------------------------------------------------------------------------


def test_one_stable_token_call_serves_many_api_calls(wechat_sandbox, wechat_client):
    openid = resident(wechat_client)
    for _ in range(5):
        assert wechat_client.msg_sec_check(openid=openid, content="窗口服务很好").is_pass
    wechat_client.get_unlimited_wxacode(scene="abc", page="pages/rate/index")
    tokens = api_calls(wechat_sandbox, STABLE_TOKEN_API)
    assert len(tokens) == 1 and tokens[0]["force_refresh"] is False
    assert len(api_calls(wechat_sandbox, MSG_SEC_CHECK_API)) == 5


def test_cached_token_expires_300_seconds_early(wechat_sandbox):
    clock = FakeClock()
    client = make_wechat_client(wechat_sandbox, clock=clock)
    first = client.access_token()
    token, expires_at = client.token_cache.get(wechat_sandbox.appid)
    assert token == first
    assert expires_at == pytest.approx(clock.now + 7200 - 300, abs=2)

    clock.now = expires_at - 1
    assert client.access_token() == first
    assert len(api_calls(wechat_sandbox, STABLE_TOKEN_API)) == 1

    clock.now = expires_at
    client.access_token()  # the sandbox's real clock says the token is young: same token back
    assert len(api_calls(wechat_sandbox, STABLE_TOKEN_API)) == 2


def test_short_lived_token_is_cached_for_half_its_life(wechat_sandbox):
    wechat_sandbox.configure(token_ttl=300)
    clock = FakeClock()
    client = make_wechat_client(wechat_sandbox, clock=clock)
    client.access_token()
    _, expires_at = client.token_cache.get(wechat_sandbox.appid)
    assert expires_at == pytest.approx(clock.now + 150, abs=1)


def test_force_refresh_gets_a_new_token(wechat_sandbox, wechat_client):
    old = wechat_client.access_token()
    new = wechat_client.access_token(force_refresh=True)
    assert new != old
    assert wechat_client.access_token() == new
    assert [c["force_refresh"] for c in api_calls(wechat_sandbox, STABLE_TOKEN_API)] == [
        False,
        True,
    ]


@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
def test_token_error_refreshes_and_retries_once(wechat_sandbox, wechat_client, errcode):
    openid = resident(wechat_client)
    old = wechat_client.access_token()
    wechat_sandbox.fail(errcode, api=MSG_SEC_CHECK_API)

    assert wechat_client.msg_sec_check(openid=openid, content="你好").suggest == "pass"

    checks = api_calls(wechat_sandbox, MSG_SEC_CHECK_API)
    assert [c["errcode"] for c in checks] == [errcode, 0]
    # The sandbox still hands out the refused token, so the client forces a refresh once.
    tokens = api_calls(wechat_sandbox, STABLE_TOKEN_API)
    assert [c["force_refresh"] for c in tokens] == [False, False, True]
    assert wechat_client.access_token() != old


def test_expired_token_is_replaced_without_forcing(wechat_sandbox, wechat_client):
    openid = resident(wechat_client)
    old = wechat_client.access_token()
    wechat_sandbox.expire_tokens()

    wechat_client.msg_sec_check(openid=openid, content="你好")

    assert [c["errcode"] for c in api_calls(wechat_sandbox, MSG_SEC_CHECK_API)] == [42001, 0]
    tokens = api_calls(wechat_sandbox, STABLE_TOKEN_API)
    assert [c["force_refresh"] for c in tokens] == [False, False]
    assert wechat_client.access_token() != old


def test_second_consecutive_token_error_is_raised_not_looped(wechat_sandbox, wechat_client):
    openid = resident(wechat_client)
    wechat_sandbox.fail(40001, count=5, api=MSG_SEC_CHECK_API)

    with pytest.raises(WeChatError) as caught:
        wechat_client.msg_sec_check(openid=openid, content="你好")

    assert caught.value.errcode == 40001 and caught.value.is_token_error
    assert caught.value.api == MSG_SEC_CHECK_API
    assert len(api_calls(wechat_sandbox, MSG_SEC_CHECK_API)) == 2
    assert len(api_calls(wechat_sandbox, STABLE_TOKEN_API)) == 3


def test_failed_refresh_during_retry_is_raised(wechat_sandbox, wechat_client):
    openid = resident(wechat_client)
    wechat_client.access_token()
    wechat_sandbox.fail(40001, api=MSG_SEC_CHECK_API)
    wechat_sandbox.fail(-1, api=STABLE_TOKEN_API)

    with pytest.raises(WeChatError) as caught:
        wechat_client.msg_sec_check(openid=openid, content="你好")

    assert caught.value.errcode == -1 and caught.value.api == STABLE_TOKEN_API
    assert len(api_calls(wechat_sandbox, MSG_SEC_CHECK_API)) == 1


def test_concurrent_first_calls_fetch_one_token(wechat_sandbox, wechat_client):
    openid = resident(wechat_client)
    with ThreadPoolExecutor(max_workers=8) as pool:
        verdicts = list(
            pool.map(
                lambda i: wechat_client.msg_sec_check(openid=openid, content=f"第{i}条"), range(16)
            )
        )
    assert all(v.is_pass for v in verdicts)
    assert len(api_calls(wechat_sandbox, STABLE_TOKEN_API)) == 1


def test_wrong_api_base_is_permanent(wechat_sandbox):
    client = WeChatClient(
        base_url=wechat_sandbox.base_url + "/nope",
        appid=wechat_sandbox.appid,
        secret=wechat_sandbox.secret,
    )
    with pytest.raises(WeChatError) as caught:
        client.code2session("alice")
    assert caught.value.errcode == 40066 and caught.value.is_permanent
    assert "WECHAT_API_BASE" in caught.value.message_zh


def test_bad_credentials_are_permanent(wechat_sandbox):
    client = WeChatClient(
        base_url=wechat_sandbox.base_url, appid=wechat_sandbox.appid, secret="wrong-secret"
    )
    with pytest.raises(WeChatError) as caught:
        client.access_token()
    assert caught.value.errcode == 40125 and caught.value.is_permanent
    assert "AppSecret" in caught.value.message_zh


# --- error classes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("errcode", "token", "permanent", "retryable"),
    [
        (40001, True, False, False),
        (40014, True, False, False),
        (42001, True, False, False),
        (43101, False, True, False),
        (47003, False, True, False),
        (40037, False, True, False),
        (40003, False, True, False),
        (40029, False, True, False),
        (40163, False, True, False),
        (41030, False, True, False),
        (40169, False, True, False),
        (40226, False, True, False),
        (-1, False, False, True),
        (45009, False, False, True),
        (45011, False, False, True),
        (None, False, False, True),
        (99999, False, False, False),
    ],
)
def test_error_classes(errcode, token, permanent, retryable):
    error = WeChatError(errcode, "x", "/api")
    assert (error.is_token_error, error.is_permanent, error.is_retryable) == (
        token,
        permanent,
        retryable,
    )
    assert error.message_zh


def test_error_messages_are_chinese():
    assert WeChatError(40029, "invalid code").message_zh == "登录凭证无效或已过期，请重新进入小程序"
    assert "99999" in WeChatError(99999, "odd").message_zh
    field_error = WeChatError(47003, "argument invalid! data.thing1.value invalid rid: 1")
    assert field_error.field == "thing1" and "thing1" in field_error.message_zh
    assert "超时" in WeChatError(None, "read timeout", timed_out=True).message_zh
    not_configured = WeChatNotConfigured()
    assert not_configured.is_permanent and not not_configured.is_retryable
    assert "未配置" in not_configured.message_zh


@pytest.mark.parametrize(
    ("api", "errcode"),
    [
        (SUBSCRIBE_SEND_API, -1),
        (SUBSCRIBE_SEND_API, 45009),
        (WXACODE_API, 45009),
        (CODE2SESSION_API, 45011),
        (CODE2SESSION_API, -1),
    ],
)
def test_busy_and_rate_limits_raise_retryable_without_looping(
    wechat_sandbox, wechat_client, api, errcode
):
    openid = resident(wechat_client)
    wechat_sandbox.add_template(TEMPLATE)
    wechat_sandbox.grant(openid, TEMPLATE)
    wechat_sandbox.fail(errcode, api=api)
    call = {
        SUBSCRIBE_SEND_API: lambda: wechat_client.send_subscribe_message(
            touser=openid, template_id=TEMPLATE, data={"thing1": "您的线索已受理"}
        ),
        WXACODE_API: lambda: wechat_client.get_unlimited_wxacode(scene="a", page=""),
        CODE2SESSION_API: lambda: wechat_client.code2session("bob~1"),
    }[api]

    with pytest.raises(WeChatError) as caught:
        call()

    assert caught.value.errcode == errcode
    assert caught.value.is_retryable and not caught.value.is_permanent
    assert len(api_calls(wechat_sandbox, api)) == (2 if api == CODE2SESSION_API else 1)
    assert wechat_sandbox.messages() == []


def test_timeout_is_retryable_and_quick(wechat_sandbox):
    client = make_wechat_client(wechat_sandbox, read_timeout=0.3)
    openid = resident(client)
    client.access_token()
    wechat_sandbox.fail("timeout", delay=3, api=MSG_SEC_CHECK_API)

    started = time.monotonic()
    with pytest.raises(WeChatError) as caught:
        client.msg_sec_check(openid=openid, content="你好")

    assert time.monotonic() - started < 2
    error = caught.value
    assert error.errcode is None and error.is_retryable and error.timed_out
    assert error.api == MSG_SEC_CHECK_API and "超时" in error.message_zh


def test_unreachable_server_is_retryable_and_never_leaks_the_secret():
    client = WeChatClient(
        base_url="http://127.0.0.1:9",
        appid="wxsandbox",
        secret="top-secret-value",
        connect_timeout=0.5,
        read_timeout=0.5,
    )
    with pytest.raises(WeChatError) as caught:
        client.code2session("alice")

    error = caught.value
    assert error.errcode is None and error.is_retryable and not error.timed_out
    printed = "".join(traceback.format_exception(error)) + repr(error) + str(error)
    assert "top-secret-value" not in printed
    assert "top-secret-value" not in repr(client)


# --- jscode2session --------------------------------------------------------------------------


def test_code2session_gives_a_stable_openid_per_resident(wechat_sandbox, wechat_client):
    first = wechat_client.code2session("alice~1")
    again = wechat_client.code2session("alice~2")
    other = wechat_client.code2session("bob")

    assert first.openid == again.openid == wechat_sandbox.openid_for("alice")
    assert other.openid != first.openid
    assert first.session_key and first.session_key != again.session_key
    assert first.unionid is None
    assert first.session_key not in repr(first)


def test_code2session_returns_unionid_when_configured(wechat_sandbox, wechat_client):
    wechat_sandbox.configure(unionid=True)
    session = wechat_client.code2session("carol")
    assert session.unionid and session.unionid.startswith("o")
    assert session.unionid != session.openid


def test_code2session_invalid_code(wechat_sandbox, wechat_client):
    wechat_sandbox.fail(40029, api=CODE2SESSION_API)
    with pytest.raises(WeChatError) as caught:
        wechat_client.code2session("alice~9")
    assert caught.value.errcode == 40029 and caught.value.is_permanent
    assert caught.value.message_zh == "登录凭证无效或已过期，请重新进入小程序"


def test_code2session_reused_code(wechat_client):
    wechat_client.code2session("dave~1")
    with pytest.raises(WeChatError) as caught:
        wechat_client.code2session("dave~1")
    assert caught.value.errcode == 40163 and caught.value.is_permanent


# --- getwxacodeunlimit -----------------------------------------------------------------------


def test_wxacode_is_a_png_holding_the_scene(wechat_client):
    scene = "Qk3x-9_ZpLm2~rT8vW0yA1bC4dE6fG7h"  # 32 characters, like a QR token
    png = wechat_client.get_unlimited_wxacode(scene=scene, page="pages/rate/index", width=280)

    assert png.startswith(b"\x89PNG")
    image = Image.open(io.BytesIO(png))
    assert image.size == (280, 280)
    assert [result.text for result in zxingcpp.read_barcodes(image)] == [scene]


@pytest.mark.parametrize(
    ("options", "errcode"),
    [
        ({"scene": "abc", "page": "pages/nope/index"}, 41030),
        ({"scene": "abc", "page": "/pages/rate/index"}, 41030),
        ({"scene": "x" * 33, "page": "pages/rate/index"}, 40169),
        ({"scene": "不行", "page": "pages/rate/index"}, 40097),
        ({"scene": "abc", "page": "pages/rate/index", "width": 1281}, 40097),
    ],
)
def test_wxacode_errors_are_permanent(wechat_client, options, errcode):
    with pytest.raises(WeChatError) as caught:
        wechat_client.get_unlimited_wxacode(**options)
    assert caught.value.errcode == errcode and caught.value.is_permanent


def test_wxacode_unpublished_page_without_check_path(wechat_client):
    png = wechat_client.get_unlimited_wxacode(
        scene="abc", page="pages/new/index", check_path=False, env_version="develop"
    )
    assert png.startswith(b"\x89PNG")


# --- subscribe messages ----------------------------------------------------------------------


def test_subscribe_message_spends_one_quota(wechat_sandbox, wechat_client):
    openid = resident(wechat_client)
    wechat_sandbox.add_template(TEMPLATE)

    with pytest.raises(WeChatError) as refused:
        wechat_client.send_subscribe_message(
            touser=openid, template_id=TEMPLATE, data={"thing1": "线索已受理"}
        )
    assert refused.value.errcode == 43101 and refused.value.is_permanent

    wechat_sandbox.grant(openid, TEMPLATE)
    wechat_client.send_subscribe_message(
        touser=openid,
        template_id=TEMPLATE,
        page="pages/clue/detail?id=7",
        data={
            "thing1": "线索已受理",
            "character_string2": "XQ20261121-0007",
            "time3": "2026年11月21日 15:01",
            "phrase4": "已办结",
        },
    )

    with pytest.raises(WeChatError) as spent:
        wechat_client.send_subscribe_message(
            touser=openid, template_id=TEMPLATE, data={"thing1": "线索已受理"}
        )
    assert spent.value.errcode == 43101

    [message] = wechat_sandbox.messages()
    assert message["touser"] == openid and message["template_id"] == TEMPLATE
    assert message["page"] == "pages/clue/detail?id=7"
    assert message["data"]["character_string2"] == {"value": "XQ20261121-0007"}
    assert message["miniprogram_state"] == "formal" and message["lang"] == "zh_CN"


def test_subscribe_unknown_template(wechat_sandbox, wechat_client):
    openid = resident(wechat_client)
    wechat_sandbox.grant(openid, "nope")
    with pytest.raises(WeChatError) as caught:
        wechat_client.send_subscribe_message(
            touser=openid, template_id="nope", data={"thing1": "你好"}
        )
    assert caught.value.errcode == 40037 and caught.value.is_permanent


def test_subscribe_unknown_openid(wechat_sandbox, wechat_client):
    wechat_sandbox.add_template(TEMPLATE)
    stranger = wechat_sandbox.openid_for("never-logged-in")
    wechat_sandbox.grant(stranger, TEMPLATE)
    with pytest.raises(WeChatError) as caught:
        wechat_client.send_subscribe_message(
            touser=stranger, template_id=TEMPLATE, data={"thing1": "你好"}
        )
    assert caught.value.errcode == 40003 and caught.value.is_permanent
    assert len(api_calls(wechat_sandbox, SUBSCRIBE_SEND_API)) == 1


@pytest.mark.parametrize(
    ("key", "good", "bad"),
    [
        ("thing1", "一" * 20, "一" * 21),
        ("phrase2", "已办结", "已经办理完结"),
        ("phrase2", "五个汉字啊", "ok"),
        ("name3", "欧阳某某", "张" * 11),
        ("name3", "Zhang San", "张San"),
        ("character_string4", "A" * 32, "A" * 33),
        ("character_string4", "XQ20261121-0007", "线索XQ1"),
        ("time5", "2026年11月21日 15:01", "明天下午"),
        ("time5", "15:01~16:30", "25:00"),
        ("number6", "12345678901234567890123456789012", "1" * 33),
        ("number6", "3.5", "三"),
        ("date7", "2026-11-21", "11/21"),
    ],
)
def test_subscribe_field_limits(wechat_sandbox, wechat_client, key, good, bad):
    openid = resident(wechat_client)
    wechat_sandbox.add_template(TEMPLATE)
    wechat_sandbox.grant(openid, TEMPLATE, count=2)

    wechat_client.send_subscribe_message(touser=openid, template_id=TEMPLATE, data={key: good})
    with pytest.raises(WeChatError) as caught:
        wechat_client.send_subscribe_message(touser=openid, template_id=TEMPLATE, data={key: bad})

    error = caught.value
    assert error.errcode == 47003 and error.is_permanent
    assert error.field == key and key in error.errmsg
    assert len(wechat_sandbox.messages()) == 1
    # A refused message does not spend the quota.
    wechat_client.send_subscribe_message(touser=openid, template_id=TEMPLATE, data={key: good})


# --- msg_sec_check ---------------------------------------------------------------------------


def test_msg_sec_check_risky_content(wechat_client):
    openid = resident(wechat_client)
    risky = wechat_client.msg_sec_check(openid=openid, content="举报民警参与赌博并收受好处")
    assert (risky.suggest, risky.label) == ("risky", 20006) and not risky.is_pass
    assert risky.trace_id
    clean = wechat_client.msg_sec_check(openid=openid, content="窗口办事效率很高", scene=1)
    assert (clean.suggest, clean.label) == ("pass", 100)


def test_msg_sec_check_bad_params(wechat_sandbox, wechat_client):
    with pytest.raises(WeChatError) as unknown:
        wechat_client.msg_sec_check(openid=wechat_sandbox.openid_for("ghost"), content="你好")
    assert unknown.value.errcode == 40003
    openid = resident(wechat_client)
    with pytest.raises(WeChatError) as too_long:
        wechat_client.msg_sec_check(openid=openid, content="长" * 2501)
    assert too_long.value.errcode == 47001 and too_long.value.is_permanent


# --- shared token cache ----------------------------------------------------------------------


@pytest.fixture
def redis_url():
    import redis

    url = (
        os.environ.get("TEST_REDIS_URL")
        or os.environ.get("REDIS_URL")
        or "redis://127.0.0.1:6379/0"
    )
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except (redis.RedisError, OSError) as error:
        reason = f"Redis 不可用（{url}：{type(error).__name__}）"
        if REQUIRE_SERVICES:
            pytest.fail(f"{reason}（CI 要求所有服务可用）", pytrace=False)
        pytest.skip(reason)
    return url


def test_redis_cache_shares_one_token_between_clients(wechat_sandbox, redis_url):
    prefix = f"pingyi-test:{uuid.uuid4().hex}:"
    first = make_wechat_client(
        wechat_sandbox, token_cache=RedisTokenCache(redis_url, prefix=prefix)
    )
    second = make_wechat_client(
        wechat_sandbox, token_cache=RedisTokenCache(redis_url, prefix=prefix)
    )
    try:
        assert first.access_token() == second.access_token()
        assert len(api_calls(wechat_sandbox, STABLE_TOKEN_API)) == 1

        # One process learns the token is stale; the other picks up the replacement.
        wechat_sandbox.expire_tokens()
        openid = resident(first)
        first.msg_sec_check(openid=openid, content="你好")
        assert second.access_token() == first.access_token()
        assert len(api_calls(wechat_sandbox, STABLE_TOKEN_API)) == 2
    finally:
        first.token_cache.delete(wechat_sandbox.appid)


def test_redis_outage_degrades_to_no_cache(wechat_sandbox):
    cache = RedisTokenCache("redis://127.0.0.1:9/0")
    client = make_wechat_client(wechat_sandbox, token_cache=cache)
    assert client.access_token() == client.access_token()
    assert len(api_calls(wechat_sandbox, STABLE_TOKEN_API)) == 2


def test_memory_cache_round_trip():
    cache = MemoryTokenCache()
    assert cache.get("wx1") is None
    cache.set("wx1", "t", 10.0)
    assert cache.get("wx1") == ("t", 10.0)
    cache.delete("wx1")
    assert cache.get("wx1") is None


# --- app integration -------------------------------------------------------------------------


def bare_app(sandbox=None, **config) -> flask.Flask:
    app = flask.Flask(__name__)
    app.config.update(
        WECHAT_API_BASE=sandbox.base_url if sandbox else "https://api.weixin.qq.com",
        WECHAT_APPID=sandbox.appid if sandbox else "",
        WECHAT_SECRET=sandbox.secret if sandbox else "",
        WECHAT_CONNECT_TIMEOUT=2.0,
        WECHAT_READ_TIMEOUT=4.0,
        REDIS_URL=None,
    )
    app.config.update(config)
    return app


def test_wechat_client_from_app_config(wechat_sandbox):
    app = bare_app(wechat_sandbox)
    with app.app_context():
        client = wechat.wechat_client()
        assert client is wechat.wechat_client()
        assert app.extensions["wechat_client"] is client
        assert client.timeout == (2.0, 4.0)
        assert client.code2session("erin").openid == wechat_sandbox.openid_for("erin")
    assert wechat.is_configured(app)


def test_clients_of_one_process_share_the_memory_cache(wechat_sandbox):
    with bare_app(wechat_sandbox).app_context():
        first = wechat.wechat_client().access_token()
    with bare_app(wechat_sandbox).app_context():
        assert wechat.wechat_client().access_token() == first
    assert len(api_calls(wechat_sandbox, STABLE_TOKEN_API)) == 1


def test_wechat_client_uses_redis_when_configured(wechat_sandbox, redis_url):
    with bare_app(wechat_sandbox, REDIS_URL=redis_url).app_context():
        client = wechat.wechat_client()
        assert isinstance(client.token_cache, RedisTokenCache)


def test_wechat_client_not_configured():
    app = bare_app()
    assert not wechat.is_configured(app)
    with app.app_context(), pytest.raises(WeChatNotConfigured) as caught:
        wechat.wechat_client()
    assert caught.value.errcode is None and "未配置" in caught.value.errmsg


def test_refresh_job_skips_without_credentials():
    with bare_app().app_context():
        assert wechat.refresh_wechat_token() is False


def test_refresh_job_fetches_only_when_due(wechat_sandbox):
    with bare_app(wechat_sandbox).app_context():
        assert wechat.refresh_wechat_token() is True
        assert wechat.refresh_wechat_token() is False
        client = wechat.wechat_client()
        token, expires_at = client.token_cache.get(wechat_sandbox.appid)
        # Pretend the cached token is within 300 s of its (early) expiry.
        client.token_cache.set(wechat_sandbox.appid, token, time.time() + 200)
        assert wechat.refresh_wechat_token() is True
    tokens = api_calls(wechat_sandbox, STABLE_TOKEN_API)
    assert [c["force_refresh"] for c in tokens] == [False, False]
