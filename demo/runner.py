"""`flask --app run up`: the whole product on one machine for development and demos."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from config import SANDBOX_SMS_SECRET_ID
from demo.city import DEMO_PASSWORD, DEMO_STAFF
from notifications.channels.wechat import sandbox_templates

PROJECT_DIR = Path(__file__).resolve().parent.parent


@click.command(
    "up",
    help="一次启动全部服务：接口与 H5 页面、调度器、微信沙箱、12345 平台沙箱和短信沙箱；"
    "Ctrl-C 全部停止。",
)
@click.option(
    "--port", default=lambda: int(os.environ.get("PORT", "5000")), type=int, show_default="5000"
)
@click.option(
    "--sandbox-port",
    default=5001,
    show_default=True,
    type=int,
    help="微信沙箱端口；12345 沙箱和短信沙箱用其后两个端口",
)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn 进程数")
@with_appcontext
def up_command(port: int, sandbox_port: int, workers: int) -> None:
    env = dict(os.environ)
    if not current_app.config["WECHAT_APPID"]:
        # No real WeChat credentials: talk to the local sandbox.
        env.update(
            WECHAT_API_BASE=f"http://127.0.0.1:{sandbox_port}",
            WECHAT_APPID="wxsandbox",
            WECHAT_SECRET="sandbox-secret",
        )
    hotline_port = sandbox_port + 1
    if not current_app.config["HOTLINE_URL"]:
        # No 12345 platform configured: forward to the local stand-in, which reads the same
        # HOTLINE_SECRET from this environment.
        env.update(
            HOTLINE_URL=f"http://127.0.0.1:{hotline_port}/forward",
            HOTLINE_SECRET=secrets.token_urlsafe(24),
        )
    sms_port = sandbox_port + 2
    if not current_app.config["SMS_SECRET_ID"]:
        # No SMS gateway configured: send to the local stand-in, at any hour.
        env.update(
            SMS_ENDPOINT=f"http://127.0.0.1:{sms_port}",
            SMS_SECRET_ID=SANDBOX_SMS_SECRET_ID,
            SMS_SECRET_KEY=secrets.token_urlsafe(24),
            SMS_SDK_APP_ID="1400000000",
            SMS_SIGN_NAME="评议平台",
            SMS_QUIET_HOURS=os.environ.get("SMS_QUIET_HOURS", ""),
        )
    env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")
    # /metrics adds up the gunicorn workers' counts from files in an empty folder of this run.
    metrics_dir = Path(tempfile.mkdtemp(prefix="pingyi-metrics-"))
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    flask = [sys.executable, "-m", "flask", "--app", "run"]
    templates = [f"--template={tid}={','.join(keys)}" for tid, keys in sandbox_templates().items()]
    commands = {
        "微信沙箱": flask + ["wechat-sandbox", "--port", str(sandbox_port), *templates],
        "12345 沙箱": flask
        + [
            "hotline-sandbox",
            "--port",
            str(hotline_port),
            "--callback-url",
            f"http://127.0.0.1:{port}/integrations/12345/callback",
        ],
        # The stand-in reads SMS_* from this environment; it learns the templates (and their
        # links to PUBLIC_BASE_URL) from the app it is started with.
        "短信沙箱": flask + ["sms-sandbox", "--port", str(sms_port)],
        "调度器": flask + ["scheduler", "run"],
        "接口服务": [
            sys.executable,
            "-m",
            "gunicorn",
            "run:app",
            "--bind",
            f"0.0.0.0:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            "8",
            "--access-logfile",
            "-",
        ],
    }
    processes: dict[str, subprocess.Popen] = {}
    for name, command in commands.items():
        processes[name] = subprocess.Popen(command, cwd=PROJECT_DIR, env=env)

    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    click.echo(
        f"\n评议已启动：接口 {env['PUBLIC_BASE_URL']}  接口文档 {env['PUBLIC_BASE_URL']}/docs  "
        f"工作台 {env['PUBLIC_BASE_URL']}/console  微信沙箱 http://127.0.0.1:{sandbox_port}  "
        f"12345 沙箱 http://127.0.0.1:{hotline_port}  短信沙箱 http://127.0.0.1:{sms_port}\n"
        f"演示账号：{'、'.join(s.username for s in DEMO_STAFF)}，密码 {DEMO_PASSWORD}。"
        "按 Ctrl-C 停止全部服务。\n"
    )
    exit_code = 0
    while not stopping:
        for name, process in processes.items():
            if process.poll() is not None:
                click.echo(
                    f"{name}已退出（代码 {process.returncode}），正在停止其余服务……", err=True
                )
                exit_code = 1
                stopping = True
                break
        time.sleep(0.5)
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + 10
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
    shutil.rmtree(metrics_dir, ignore_errors=True)
    sys.exit(exit_code)
