"""A local stand-in for the city's 12345 platform (development, demos and tests).

It receives forwarded clues the way the platform does and calls back with results:

- `POST /forward`: checks the signature and timestamp (X-Pingyi-Timestamp within ±5 minutes,
  X-Pingyi-Signature = hex HMAC-SHA256(secret, f"{timestamp}.{raw body}")) → 401 when wrong;
  the X-Pingyi-Event-Id header must match the body's event_id (400); records the case once per
  event id — a repeated event answers 200 with the same case number and `duplicate: true`.

The signing is implemented here again, on purpose, rather than imported from the app: the
sandbox is the other side of the contract and must catch a mistake in ours.

Control endpoints (JSON) under `/__hotline__/`:

    POST /__hotline__/fail     {"status": 503, "count": 2}          next calls answer 503
                               {"status": "timeout", "delay": 5}    hang, then handle normally
    POST /__hotline__/resolve  {"event_id": "...", "result": "已派人修复路灯",
                                "handled_at"?, "timestamp"?, "secret"?}
                               signs and POSTs the result to the callback URL (the configured
                               one, else the callback_url of the forward); answers what our
                               app replied. timestamp/secret override to demonstrate refusals.
    POST /__hotline__/config   {"callback_url"?, "secret"?}
    GET  /__hotline__/cases    the cases received (one per event id)
    GET  /__hotline__/calls    every POST /forward with its answer
    GET  /__hotline__/callbacks  every callback sent and the answer
    POST /__hotline__/reset    forget everything
    GET  /__hotline__/         this overview

Run it with `flask --app run hotline-sandbox --port 5002` and point the app at it with
HOTLINE_URL=http://127.0.0.1:5002/forward HOTLINE_SECRET=<the same secret>.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import click
import requests
from flask import Flask, Response, current_app, jsonify, request
from flask.cli import with_appcontext
from werkzeug.serving import make_server

from sandboxes.serving import serve_until_stopped

DEFAULT_SECRET = "hotline-sandbox-secret"
DEFAULT_PORT = 5002
TOLERANCE_SECONDS = 300
CHINA = timezone(timedelta(hours=8))


def _sign(secret: str, timestamp: str, raw_body: bytes) -> str:
    return hmac.new(
        secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256
    ).hexdigest()


@dataclass
class _Failure:
    status: int | str
    remaining: int
    delay: float


class HotlineState:
    """What the stand-in remembers, under one lock (the server is threaded)."""

    def __init__(
        self, *, secret: str, callback_url: str | None, clock: Callable[[], float]
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self._initial = (secret, callback_url)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.secret, self.callback_url = self._initial
            self.cases: dict[str, dict[str, Any]] = {}
            self.calls: list[dict[str, Any]] = []
            self.callbacks: list[dict[str, Any]] = []
            self.failures: list[_Failure] = []

    def take_failure(self) -> _Failure | None:
        with self.lock:
            if not self.failures:
                return None
            failure = self.failures[0]
            failure.remaining -= 1
            if failure.remaining <= 0:
                self.failures.pop(0)
            return failure

    def log(self, status: int, **details: Any) -> None:
        with self.lock:
            self.calls.append({"status": status, "at": self.clock(), **details})


def _state() -> HotlineState:
    return current_app.extensions["hotline_sandbox"]


def _refuse(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify({"code": code, "message": message}), status


def _check_signature(state: HotlineState, raw: bytes) -> str | None:
    stamp = request.headers.get("X-Pingyi-Timestamp", "")
    signature = request.headers.get("X-Pingyi-Signature", "")
    if not stamp or not signature:
        return "missing signature headers"
    if not stamp.isdigit():
        return "bad timestamp"
    if not hmac.compare_digest(_sign(state.secret, stamp, raw), signature):
        return "bad signature"
    if abs(state.clock() - int(stamp)) > TOLERANCE_SECONDS:
        return "stale timestamp"
    return None


def create_hotline_app(
    *,
    secret: str = DEFAULT_SECRET,
    callback_url: str | None = None,
    clock: Callable[[], float] = time.time,
) -> Flask:
    """Build the stand-in's WSGI app (state in memory, fresh per call)."""
    app = Flask("hotline_sandbox")
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    state = HotlineState(secret=secret, callback_url=callback_url, clock=clock)
    app.extensions["hotline_sandbox"] = state

    @app.post("/forward")
    def forward() -> Response | tuple[Response, int]:
        raw = request.get_data()
        event_header = request.headers.get("X-Pingyi-Event-Id", "")
        failure = state.take_failure()
        if failure is not None:
            if failure.status != "timeout":
                state.log(int(failure.status), event_id=event_header, injected=True)
                return _refuse(int(failure.status), "unavailable", "injected failure")
            time.sleep(failure.delay)  # the caller gives up; the work below still happens
        problem = _check_signature(state, raw)
        if problem is not None:
            state.log(401, event_id=event_header, reason=problem)
            return _refuse(401, "bad_signature", problem)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            state.log(400, event_id=event_header, reason="not a JSON object")
            return _refuse(400, "bad_request", "body must be a JSON object")
        event_id = body.get("event_id")
        if not event_id or event_id != event_header:
            state.log(400, event_id=event_header, reason="event id mismatch")
            return _refuse(400, "bad_request", "X-Pingyi-Event-Id must equal body.event_id")
        missing = [k for k in ("tracking_no", "description") if not body.get(k)]
        if missing:
            state.log(400, event_id=event_id, reason=f"missing {missing}")
            return _refuse(400, "bad_request", f"missing fields: {', '.join(missing)}")
        with state.lock:
            case = state.cases.get(event_id)
            duplicate = case is not None
            if case is None:
                case = {
                    "case_no": f"12345-{len(state.cases) + 1:06d}",
                    "event_id": event_id,
                    "tracking_no": body["tracking_no"],
                    "status": "open",
                    "received_at": state.clock(),
                    "body": body,
                    "raw": raw.decode("utf-8", "replace"),
                    "headers": {
                        k: v
                        for k, v in request.headers.items()
                        if k.lower().startswith("x-pingyi-")
                    },
                }
                state.cases[event_id] = case
            state.log(
                200,
                event_id=event_id,
                duplicate=duplicate,
                delayed=failure.delay if failure else None,
            )
            return jsonify({"case_no": case["case_no"], "duplicate": duplicate})

    # --- control ---------------------------------------------------------------------------

    @app.get("/__hotline__/")
    def overview() -> Response:
        with state.lock:
            return jsonify(
                {
                    "sandbox": "12345 平台沙箱",
                    "callback_url": state.callback_url,
                    "cases": len(state.cases),
                    "calls": len(state.calls),
                    "callbacks": len(state.callbacks),
                    "pending_failures": [vars(f) for f in state.failures],
                }
            )

    @app.post("/__hotline__/fail")
    def fail() -> Response | tuple[Response, int]:
        body = request.get_json(silent=True) or {}
        status, count, delay = body.get("status", 503), body.get("count", 1), body.get("delay", 5)
        if status != "timeout" and (
            isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599
        ):
            return _refuse(400, "bad_request", 'status must be 400-599 or "timeout"')
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            return _refuse(400, "bad_request", "count must be a positive integer")
        if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
            return _refuse(400, "bad_request", "delay must be a non-negative number")
        with state.lock:
            state.failures.append(_Failure(status, count, float(delay)))
            return jsonify({"ok": True, "pending": [vars(f) for f in state.failures]})

    @app.post("/__hotline__/config")
    def configure() -> Response:
        body = request.get_json(silent=True) or {}
        with state.lock:
            if "callback_url" in body:
                state.callback_url = body["callback_url"] or None
            if body.get("secret"):
                state.secret = str(body["secret"])
        return overview()

    @app.get("/__hotline__/cases")
    def cases() -> Response:
        with state.lock:
            return jsonify(list(state.cases.values()))

    @app.get("/__hotline__/calls")
    def calls() -> Response:
        with state.lock:
            return jsonify(list(state.calls))

    @app.get("/__hotline__/callbacks")
    def callbacks() -> Response:
        with state.lock:
            return jsonify(list(state.callbacks))

    @app.post("/__hotline__/reset")
    def reset() -> Response:
        state.reset()
        return jsonify({"ok": True})

    @app.post("/__hotline__/resolve")
    def resolve() -> Response | tuple[Response, int]:
        body = request.get_json(silent=True) or {}
        event_id, result = body.get("event_id"), body.get("result")
        if not isinstance(result, str) or not result.strip():
            return _refuse(400, "bad_request", "result is required")
        with state.lock:
            case = state.cases.get(event_id) if isinstance(event_id, str) else None
            if case is None:
                return _refuse(404, "not_found", "no case with this event_id")
            target = state.callback_url or case["body"].get("callback_url")
            secret = str(body.get("secret") or state.secret)
        if not target:
            return _refuse(409, "no_callback_url", "no callback URL configured or received")
        handled_at = body.get("handled_at") or datetime.fromtimestamp(
            state.clock(), UTC
        ).astimezone(CHINA).isoformat(timespec="seconds")
        payload = {
            "event_id": event_id,
            "tracking_no": case["tracking_no"],
            "status": "closed",
            "result": result,
            "handled_at": handled_at,
        }
        raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        stamp = str(int(body["timestamp"]) if "timestamp" in body else int(state.clock()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Pingyi-Event-Id": event_id,
            "X-Pingyi-Timestamp": stamp,
            "X-Pingyi-Signature": _sign(secret, stamp, raw),
        }
        try:
            answer = requests.post(target, data=raw, headers=headers, timeout=(3.05, 10))
        except requests.RequestException as error:
            return _refuse(502, "callback_failed", f"{type(error).__name__} calling {target}")
        try:
            reply = answer.json()
        except ValueError:
            reply = answer.text[:500]
        record = {
            "event_id": event_id,
            "url": target,
            "payload": payload,
            "status_code": answer.status_code,
            "response": reply,
            "at": state.clock(),
        }
        with state.lock:
            state.callbacks.append(record)
            if 200 <= answer.status_code < 300:
                case["status"] = "resolved"
        return jsonify(record)

    return app


def serve(host: str, port: int, **options: Any) -> None:
    """Run the stand-in with werkzeug's threaded server until interrupted."""
    app = create_hotline_app(**options)
    server = make_server(host, port, app, threaded=True)
    state: HotlineState = app.extensions["hotline_sandbox"]
    print(
        f"12345 平台沙箱已启动：http://{host}:{server.server_port}/forward"
        f"（回调地址 {state.callback_url or '取自转办请求'}，控制接口 /__hotline__/）",
        flush=True,
    )
    serve_until_stopped(server, stopped="12345 平台沙箱已停止")


@click.command("hotline-sandbox", help="运行本地 12345 平台沙箱（开发、演示和测试用）。")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
@click.option(
    "--secret", default=None, help="签名密钥（默认取 HOTLINE_SECRET，未配置时为沙箱默认值）"
)
@click.option(
    "--callback-url", default=None, help="办结回调地址（默认取转办请求里的 callback_url）"
)
@with_appcontext
def hotline_sandbox_command(
    host: str, port: int, secret: str | None, callback_url: str | None
) -> None:
    secret = secret or current_app.config.get("HOTLINE_SECRET") or DEFAULT_SECRET
    serve(host, port, secret=secret, callback_url=callback_url)
