"""A signed-in console user as a browser would be one: their own cookie jar, the CSRF token
read off the page, forms posted as application/x-www-form-urlencoded."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.org.models import StaffAccount
from tests.factories import PASSWORD

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
ACTION_FORMS = re.compile(r'id="action-([a-z_0-9]+)"')


def csrf_of(response: TestResponse) -> str:
    found = CSRF.search(response.get_data(as_text=True))
    assert found, "页面上没有 CSRF 字段"
    return found.group(1)


@dataclass
class Desk:
    """One staff member signed in to the console."""

    client: FlaskClient
    account: StaffAccount
    csrf: str

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.client.get(path, **kwargs)

    def post(self, path: str, **data: Any) -> TestResponse:
        return self.client.post(path, data={"csrf": self.csrf, **data})

    def act(self, clue_id: int, action: str, **data: Any) -> TestResponse:
        return self.post(f"/console/clues/{clue_id}/{action}", **data)

    def forms(self, clue_id: int) -> set[str] | None:
        """The action forms on the clue page; None when the page is refused."""
        response = self.get(f"/console/clues/{clue_id}")
        if response.status_code == 403:
            return None
        assert response.status_code == 200, response.status_code
        return set(ACTION_FORMS.findall(response.get_data(as_text=True)))


def login_form(client: FlaskClient, username: str, password: str, **extra: Any) -> TestResponse:
    token = csrf_of(client.get("/console/login"))
    return client.post(
        "/console/login", data={"username": username, "password": password, "csrf": token, **extra}
    )


def sign_in(app: Flask, account: StaffAccount, password: str = PASSWORD) -> Desk:
    """A fresh browser that signs `account` in and lands on its first page."""
    client = app.test_client()
    response = login_form(client, account.username, password)
    assert response.status_code == 303, response.get_data(as_text=True)
    landing = client.get(response.headers["Location"])
    assert landing.status_code == 200, landing.get_data(as_text=True)
    return Desk(client, account, csrf_of(landing))


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)
