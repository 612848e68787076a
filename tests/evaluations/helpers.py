"""Helpers for resident-side tests."""

from __future__ import annotations

import itertools
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

_codes = itertools.count(1)


def use_sandbox(app: Flask, sandbox: Any) -> None:
    """Point the app's WeChat client at a running sandbox."""
    app.config.update(
        WECHAT_API_BASE=sandbox.base_url, WECHAT_APPID=sandbox.appid, WECHAT_SECRET=sandbox.secret
    )


def wechat_resident(client: FlaskClient, name: str | None = None) -> dict[str, str]:
    """Log a resident in through the WeChat sandbox; returns the Authorization header."""
    code = f"{name or f'resident{next(_codes)}'}~login{next(_codes)}"
    response = client.post("/api/v1/auth/wechat", json={"code": code})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.json['token']}"}


def h5_resident(client: FlaskClient) -> dict[str, str]:
    response = client.post("/api/v1/auth/h5")
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.json['token']}"}


def rate(
    client: FlaskClient,
    headers: dict[str, str],
    token: str,
    level: int = 5,
    key: str | None = None,
    **extra: Any,
):
    if key:
        headers = {**headers, "Idempotency-Key": key}
    return client.post(
        "/api/v1/evaluations", headers=headers, json={"qr_token": token, "level": level, **extra}
    )
