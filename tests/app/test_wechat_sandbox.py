"""The WeChat sandbox speaks WeChat's wire format: paths, fields, HTTP 200 + errcode, limits."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import zxingcpp
from PIL import Image

from sandboxes.wechat import sandbox_openid

PROJECT_DIR = Path(__file__).resolve().parents[2]
TEMPLATE = "tpl-sandbox"


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def login(sandbox, code: str) -> dict:
    return requests.get(
        f"{sandbox.base_url}/sns/jscode2session",
        params={
            "appid": sandbox.appid,
            "secret": sandbox.secret,
            "js_code": code,
            "grant_type": "authorization_code",
        },
        timeout=5,
    ).json()


def stable_token(sandbox, force_refresh: bool = False, **overrides) -> dict:
    body = {
        "grant_type": "client_credential",
        "appid": sandbox.appid,
        "secret": sandbox.secret,
        "force_refresh": force_refresh,
        **overrides,
    }
    response = requests.post(f"{sandbox.base_url}/cgi-bin/stable_token", json=body, timeout=5)
    assert response.status_code == 200
    return response.json()


def call(sandbox, path: str, token: str | None, body: dict) -> requests.Response:
    params = {"access_token": token} if token is not None else {}
    return requests.post(f"{sandbox.base_url}{path}", params=params, json=body, timeout=5)


def errcode_of(response: requests.Response) -> int:
    assert response.status_code == 200, response.text
    return response.json()["errcode"]


# --- jscode2session --------------------------------------------------------------------------


def test_login_answers_like_wechat(wechat_sandbox):
    body = login(wechat_sandbox, "alice~1")
    assert set(body) == {"openid", "session_key"}
    assert re.fullmatch(r"o[A-Za-z0-9_-]{27}", body["openid"])
    assert body["openid"] == sandbox_openid(wechat_sandbox.appid, "alice")
    assert login(wechat_sandbox, "alice~2")["openid"] == body["openid"]
    assert login(wechat_sandbox, "bob")["openid"] != body["openid"]


@pytest.mark.parametrize(
    ("params", "errcode"),
    [
        ({"appid": "wxother"}, 40013),
        ({"secret": "wrong"}, 40125),
        ({"grant_type": "client_credential"}, 40002),
        ({"js_code": ""}, 41008),
        ({"js_code": "~1"}, 40029),
    ],
)
def test_login_errors(wechat_sandbox, params, errcode):
    query = {
        "appid": wechat_sandbox.appid,
        "secret": wechat_sandbox.secret,
        "js_code": "zoe",
        "grant_type": "authorization_code",
        **params,
    }
    response = requests.get(
        f"{wechat_sandbox.base_url}/sns/jscode2session", params=query, timeout=5
    )
    assert errcode_of(response) == errcode
    assert "rid:" in response.json()["errmsg"]


def test_login_code_is_single_use(wechat_sandbox_factory):
    clock = FakeClock()
    sandbox = wechat_sandbox_factory(clock=clock)
    assert "openid" in login(sandbox, "frank~1")
    assert login(sandbox, "frank~1")["errcode"] == 40163
    clock.now += 301
    assert login(sandbox, "frank~1")["errcode"] == 40029  # expired by now
    assert "openid" in login(sandbox, "frank~2")


def test_unionid_only_when_configured(wechat_sandbox_factory):
    sandbox = wechat_sandbox_factory(unionid=True, appid="wxunion")
    body = login(sandbox, "gina")
    assert re.fullmatch(r"o[A-Za-z0-9_-]{27}", body["unionid"])
    assert body["openid"] == sandbox.openid_for("gina") != sandbox_openid("wxsandbox", "gina")


# --- stable_token ----------------------------------------------------------------------------


def test_same_token_until_its_last_five_minutes(wechat_sandbox_factory):
    clock = FakeClock()
    sandbox = wechat_sandbox_factory(clock=clock)
    first = stable_token(sandbox)
    assert first["expires_in"] == 7200
    clock.now += 6000
    again = stable_token(sandbox)
    assert again == {"access_token": first["access_token"], "expires_in": 1200}

    clock.now += 1000  # 200 s left: WeChat renews and both tokens work meanwhile
    renewed = stable_token(sandbox)
    assert renewed["access_token"] != first["access_token"] and renewed["expires_in"] == 7200
    check = {"version": 2, "openid": login(sandbox, "hal")["openid"], "scene": 2, "content": "你好"}
    assert errcode_of(call(sandbox, "/wxa/msg_sec_check", first["access_token"], check)) == 0
    clock.now += 200
    assert errcode_of(call(sandbox, "/wxa/msg_sec_check", first["access_token"], check)) == 42001
    assert errcode_of(call(sandbox, "/wxa/msg_sec_check", renewed["access_token"], check)) == 0


def test_force_refresh_keeps_the_old_token_for_five_minutes(wechat_sandbox_factory):
    clock = FakeClock()
    sandbox = wechat_sandbox_factory(clock=clock)
    check = {"version": 2, "openid": login(sandbox, "ivy")["openid"], "scene": 2, "content": "你好"}
    old = stable_token(sandbox)["access_token"]
    new = stable_token(sandbox, force_refresh=True)["access_token"]
    assert new != old
    assert stable_token(sandbox)["access_token"] == new
    clock.now += 299
    assert errcode_of(call(sandbox, "/wxa/msg_sec_check", old, check)) == 0
    clock.now += 1
    assert errcode_of(call(sandbox, "/wxa/msg_sec_check", old, check)) == 42001
    assert errcode_of(call(sandbox, "/wxa/msg_sec_check", new, check)) == 0


def test_force_refresh_limits(wechat_sandbox_factory):
    clock = FakeClock(1_800_000_000.0 - 1_800_000_000.0 % 86_400)  # midnight UTC
    sandbox = wechat_sandbox_factory(clock=clock)
    assert "access_token" in stable_token(sandbox, force_refresh=True)
    clock.now += 29
    assert stable_token(sandbox, force_refresh=True)["errcode"] == 45009
    for _ in range(19):
        clock.now += 31
        assert "access_token" in stable_token(sandbox, force_refresh=True)
    clock.now += 31
    assert stable_token(sandbox, force_refresh=True)["errcode"] == 45009  # 20 a day
    assert "access_token" in stable_token(sandbox)  # normal mode is unaffected


@pytest.mark.parametrize(
    ("overrides", "errcode"),
    [
        ({"appid": "wxother"}, 40013),
        ({"secret": "wrong"}, 40125),
        ({"grant_type": "authorization_code"}, 40002),
        ({"force_refresh": "yes"}, 47001),
    ],
)
def test_stable_token_errors(wechat_sandbox, overrides, errcode):
    assert stable_token(wechat_sandbox, **overrides)["errcode"] == errcode


def test_stable_token_needs_a_json_body(wechat_sandbox):
    url = f"{wechat_sandbox.base_url}/cgi-bin/stable_token"
    assert requests.post(url, timeout=5).json()["errcode"] == 44002
    assert requests.post(url, data="{nope", timeout=5).json()["errcode"] == 47001


def test_access_token_checks(wechat_sandbox):
    body = {"scene": "abc", "page": "pages/rate/index"}
    assert errcode_of(call(wechat_sandbox, "/wxa/getwxacodeunlimit", None, body)) == 41001
    assert errcode_of(call(wechat_sandbox, "/wxa/getwxacodeunlimit", "forged", body)) == 40001
    token = stable_token(wechat_sandbox)["access_token"]
    wechat_sandbox.expire_tokens()
    assert errcode_of(call(wechat_sandbox, "/wxa/getwxacodeunlimit", token, body)) == 42001
    fresh = stable_token(wechat_sandbox)["access_token"]
    assert fresh != token
    assert call(wechat_sandbox, "/wxa/getwxacodeunlimit", fresh, body).status_code == 200


def test_token_ttl_is_configurable(wechat_sandbox_factory):
    clock = FakeClock()
    sandbox = wechat_sandbox_factory(clock=clock)
    token = stable_token(sandbox)["access_token"]
    sandbox.configure(token_ttl=60)
    clock.now += 60
    body = {"scene": "abc", "page": "pages/rate/index"}
    assert errcode_of(call(sandbox, "/wxa/getwxacodeunlimit", token, body)) == 42001
    assert stable_token(sandbox)["expires_in"] == 60


# --- getwxacodeunlimit -----------------------------------------------------------------------


@pytest.mark.parametrize("width", [280, 430, 1280])
def test_wxacode_png_decodes_to_the_scene(wechat_sandbox, width):
    token = stable_token(wechat_sandbox)["access_token"]
    scene = "a!#$&'()*+,/:;=?@-._~Z9"
    response = call(
        wechat_sandbox,
        "/wxa/getwxacodeunlimit",
        token,
        {
            "scene": scene,
            "page": "pages/index/index",
            "check_path": True,
            "env_version": "release",
            "width": width,
        },
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG" and image.size == (width, width)
    assert [r.text for r in zxingcpp.read_barcodes(image)] == [scene]


@pytest.mark.parametrize(
    ("body", "errcode"),
    [
        ({"scene": "x" * 33}, 40169),
        ({"scene": ""}, 40169),
        ({"scene": "a b"}, 40097),
        ({"scene": "令牌"}, 40097),
        ({"scene": "abc", "page": "pages/missing/index"}, 41030),
        ({"scene": "abc", "page": "/pages/rate/index"}, 41030),
        ({"scene": "abc", "width": 279}, 40097),
        ({"scene": "abc", "width": 1281}, 40097),
        ({"scene": "abc", "env_version": "beta"}, 40097),
    ],
)
def test_wxacode_validation(wechat_sandbox, body, errcode):
    token = stable_token(wechat_sandbox)["access_token"]
    response = call(
        wechat_sandbox, "/wxa/getwxacodeunlimit", token, {"page": "pages/rate/index", **body}
    )
    assert response.headers["Content-Type"].startswith("application/json")
    assert errcode_of(response) == errcode


def test_wxacode_accepts_32_characters_and_unchecked_pages(wechat_sandbox):
    token = stable_token(wechat_sandbox)["access_token"]
    response = call(
        wechat_sandbox,
        "/wxa/getwxacodeunlimit",
        token,
        {"scene": "x" * 32, "page": "pages/draft/index", "check_path": False},
    )
    assert response.headers["Content-Type"] == "image/png"


# --- subscribe messages ----------------------------------------------------------------------


@pytest.fixture
def subscriber(wechat_sandbox):
    """(token, openid) of a logged-in resident who granted one TEMPLATE message."""
    wechat_sandbox.add_template(TEMPLATE)
    openid = login(wechat_sandbox, "judy")["openid"]
    wechat_sandbox.grant(openid, TEMPLATE)
    return stable_token(wechat_sandbox)["access_token"], openid


def send(sandbox, token, openid, data, **extra):
    return call(
        sandbox,
        "/cgi-bin/message/subscribe/send",
        token,
        {"touser": openid, "template_id": TEMPLATE, "data": data, **extra},
    )


@pytest.mark.parametrize(
    ("key", "value", "accepted"),
    [
        ("thing1", "一" * 20, True),
        ("thing1", "一" * 21, False),
        ("thing1", "", False),
        ("phrase2", "已受理", True),
        ("phrase2", "处理中已受理", False),
        ("phrase2", "done", False),
        ("name3", "张三", True),
        ("name3", "欧阳一二三四五六七八", True),
        ("name3", "欧阳一二三四五六七八九", False),
        ("name3", "Li Lei", True),
        ("character_string4", "XQ20261121-0007", True),
        ("character_string4", "x" * 33, False),
        ("character_string4", "编号1", False),
        ("time5", "15:01", True),
        ("time5", "2026年11月21日 15:01", True),
        ("time5", "2026-11-21 15:01~2026-11-21 16:00", True),
        ("time5", "下午三点", False),
        ("date6", "2026年11月21日", True),
        ("date6", "2026-11-21", True),
        ("date6", "昨天", False),
        ("number7", "42", True),
        ("number7", "1" * 33, False),
        ("number7", "4二", False),
        ("letter8", "abc", True),
        ("letter8", "ab1", False),
        ("amount9", "¥100.50", True),
        ("amount9", "一百元", False),
        ("unknown10", "x", False),
    ],
)
def test_subscribe_field_rules(wechat_sandbox, subscriber, key, value, accepted):
    token, openid = subscriber
    body = send(wechat_sandbox, token, openid, {key: {"value": value}}).json()
    if accepted:
        assert body["errcode"] == 0 and isinstance(body["msgid"], int)
    else:
        assert body["errcode"] == 47003
        assert f"data.{key}" in body["errmsg"]
        assert wechat_sandbox.messages() == []


def test_subscribe_declared_keys(wechat_sandbox, subscriber):
    token, openid = subscriber
    wechat_sandbox.add_template(TEMPLATE, keys=["thing1", "time2"])
    missing = send(wechat_sandbox, token, openid, {"thing1": {"value": "受理"}}).json()
    assert missing["errcode"] == 47003 and "data.time2" in missing["errmsg"]
    extra = send(
        wechat_sandbox,
        token,
        openid,
        {"thing1": {"value": "受理"}, "time2": {"value": "15:00"}, "thing3": {"value": "多余"}},
    ).json()
    assert extra["errcode"] == 47003 and "data.thing3" in extra["errmsg"]


def test_subscribe_quota_and_record(wechat_sandbox, subscriber):
    token, openid = subscriber
    data = {"thing1": {"value": "您的线索已办结"}}
    first = send(
        wechat_sandbox, token, openid, data, page="pages/clue/index?id=1", miniprogram_state="trial"
    )
    assert first.json()["errcode"] == 0
    assert send(wechat_sandbox, token, openid, data).json()["errcode"] == 43101
    [message] = wechat_sandbox.messages()
    assert message["touser"] == openid and message["template_id"] == TEMPLATE
    assert message["page"] == "pages/clue/index?id=1" and message["data"] == data
    assert message["miniprogram_state"] == "trial" and isinstance(message["at"], float)

    assert wechat_sandbox.grant(openid, TEMPLATE, count=2) == 2
    quotas = requests.get(f"{wechat_sandbox.base_url}/__sandbox__/subscriptions", timeout=5).json()
    assert quotas == [{"openid": openid, "template_id": TEMPLATE, "remaining": 2}]


@pytest.mark.parametrize(
    ("change", "errcode"),
    [
        ({"touser": "o" + "x" * 27}, 40003),
        ({"template_id": "unknown"}, 40037),
        ({"data": {}}, 47003),
        ({"miniprogram_state": "prod"}, 40097),
        ({"lang": "fr_FR"}, 40097),
    ],
)
def test_subscribe_request_errors(wechat_sandbox, subscriber, change, errcode):
    token, openid = subscriber
    body = {
        "touser": openid,
        "template_id": TEMPLATE,
        "data": {"thing1": {"value": "好"}},
        **change,
    }
    response = call(wechat_sandbox, "/cgi-bin/message/subscribe/send", token, body)
    assert errcode_of(response) == errcode


# --- msg_sec_check ---------------------------------------------------------------------------


def test_msg_sec_check_verdicts(wechat_sandbox):
    token = stable_token(wechat_sandbox)["access_token"]
    openid = login(wechat_sandbox, "kim")["openid"]
    wechat_sandbox.configure(risky_words=["贿赂"], review_words=["投诉"])

    def verdict(content):
        body = call(
            wechat_sandbox,
            "/wxa/msg_sec_check",
            token,
            {"version": 2, "openid": openid, "scene": 3, "content": content},
        ).json()
        assert body["errcode"] == 0 and body["trace_id"]
        return body["result"]["suggest"], body["result"]["label"]

    assert verdict("民警收受贿赂") == ("risky", 20006)
    assert verdict("我要投诉窗口") == ("review", 21000)
    assert verdict("参与赌博") == ("pass", 100)  # the default word list was replaced
    assert verdict("长" * 2500) == ("pass", 100)


@pytest.mark.parametrize(
    ("change", "errcode"),
    [
        ({"openid": "o" + "y" * 27}, 40003),
        ({"scene": 5}, 47001),
        ({"version": 1}, 47001),
        ({"content": ""}, 47001),
        ({"content": "长" * 2501}, 47001),
    ],
)
def test_msg_sec_check_bad_params(wechat_sandbox, change, errcode):
    token = stable_token(wechat_sandbox)["access_token"]
    body = {
        "version": 2,
        "openid": login(wechat_sandbox, "lee")["openid"],
        "scene": 2,
        "content": "你好",
        **change,
    }
    assert errcode_of(call(wechat_sandbox, "/wxa/msg_sec_check", token, body)) == errcode


# --- control endpoints -----------------------------------------------------------------------


def test_injected_failures_count_and_target_one_api(wechat_sandbox):
    wechat_sandbox.fail(-1, count=2, api="/cgi-bin/stable_token")
    assert login(wechat_sandbox, "max")["openid"]  # other APIs are untouched
    assert stable_token(wechat_sandbox)["errcode"] == -1
    assert stable_token(wechat_sandbox)["errcode"] == -1
    assert "access_token" in stable_token(wechat_sandbox)

    wechat_sandbox.fail(45011)
    assert login(wechat_sandbox, "max~2")["errcode"] == 45011
    assert login(wechat_sandbox, "max~2")["openid"]  # an injected failure spends no code

    log = [(c["api"], c["errcode"], c["injected"]) for c in wechat_sandbox.calls()]
    assert log == [
        ("/sns/jscode2session", 0, False),
        ("/cgi-bin/stable_token", -1, True),
        ("/cgi-bin/stable_token", -1, True),
        ("/cgi-bin/stable_token", 0, False),
        ("/sns/jscode2session", 45011, True),
        ("/sns/jscode2session", 0, False),
    ]
    assert len(wechat_sandbox.calls("/cgi-bin/stable_token")) == 3


def test_timeout_injection_hangs_then_answers(wechat_sandbox):
    wechat_sandbox.fail("timeout", delay=0.5, api="/sns/jscode2session")
    with pytest.raises(requests.ReadTimeout):
        requests.get(
            f"{wechat_sandbox.base_url}/sns/jscode2session",
            timeout=(1, 0.1),
            params={
                "appid": wechat_sandbox.appid,
                "secret": wechat_sandbox.secret,
                "js_code": "ned",
                "grant_type": "authorization_code",
            },
        )
    deadline = time.monotonic() + 5
    while not wechat_sandbox.calls() and time.monotonic() < deadline:
        time.sleep(0.05)
    [logged] = wechat_sandbox.calls()
    assert logged["errcode"] == 0 and logged["injected"] and logged["delayed"] == 0.5


def test_unknown_path_and_wrong_method(wechat_sandbox):
    assert (
        requests.get(f"{wechat_sandbox.base_url}/cgi-bin/token", timeout=5).json()["errcode"]
        == 40066
    )
    wrong_method = requests.get(f"{wechat_sandbox.base_url}/cgi-bin/stable_token", timeout=5)
    assert wrong_method.json()["errcode"] == 43002


def test_control_validation(wechat_sandbox):
    base = f"{wechat_sandbox.base_url}/__sandbox__"
    assert requests.post(f"{base}/fail", json={"errcode": "boom"}, timeout=5).status_code == 400
    assert (
        requests.post(f"{base}/fail", json={"errcode": -1, "count": 0}, timeout=5).status_code
        == 400
    )
    assert (
        requests.post(f"{base}/subscriptions", json={"openid": "o1"}, timeout=5).status_code == 400
    )
    assert requests.post(f"{base}/config", json={"token_ttl": -1}, timeout=5).status_code == 400
    overview = requests.get(f"{base}/", timeout=5).json()
    assert overview["appid"] == wechat_sandbox.appid and overview["token_ttl"] == 7200
    assert requests.get(f"{base}/openid", params={"code": "amy~3"}, timeout=5).json()[
        "openid"
    ] == wechat_sandbox.openid_for("amy")


def test_reset_forgets_everything(wechat_sandbox):
    token = stable_token(wechat_sandbox)["access_token"]
    login(wechat_sandbox, "oscar~1")
    wechat_sandbox.add_template("tpl-extra")
    wechat_sandbox.fail(-1, count=3)
    wechat_sandbox.reset()
    assert wechat_sandbox.calls() == [] and wechat_sandbox.messages() == []
    assert "openid" in login(wechat_sandbox, "oscar~1")  # the code is fresh again
    body = {"scene": "abc", "page": "pages/rate/index"}
    assert errcode_of(call(wechat_sandbox, "/wxa/getwxacodeunlimit", token, body)) == 40001
    assert (
        "tpl-extra"
        not in requests.get(f"{wechat_sandbox.base_url}/__sandbox__/", timeout=5).json()[
            "templates"
        ]
    )


def test_serve_prints_where_it_listens_and_hides_secrets():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-c", f"from sandboxes.wechat import serve; serve('127.0.0.1', {port})"],
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        first_line = process.stdout.readline()
        assert "微信接口沙箱已启动" in first_line and f"127.0.0.1:{port}" in first_line
        response = requests.get(
            f"http://127.0.0.1:{port}/sns/jscode2session",
            params={
                "appid": "wxsandbox",
                "secret": "sandbox-secret",
                "js_code": "pat",
                "grant_type": "authorization_code",
            },
            timeout=5,
        )
        assert response.json()["openid"] == sandbox_openid("wxsandbox", "pat")
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "微信接口沙箱已停止" in out
    assert "secret=***" in err and "sandbox-secret" not in err
