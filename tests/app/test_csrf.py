"""CSRF on the pages a browser posts forms to (the console, the H5 rating page): a form without
its session's token is refused with a page saying it expired, and nothing is written. The JSON
API takes bearer tokens and sets no cookie: it needs no token."""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.extensions import db
from evaluations.models import Evaluation
from qr.models import QRCode
from tests.clues.factories import make_cast
from tests.console.helpers import csrf_of, sign_in, text
from tests.evaluations.helpers import rate
from tests.factories import PASSWORD


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _submission(html: str) -> str:
    return re.search(r'name="submission_id" value="([^"]+)"', html).group(1)


def test_a_console_form_without_its_token_is_refused_and_writes_nothing(app, client):
    cast = make_cast(app, client)
    admin = sign_in(app, cast.admin)
    form = {"unit_id": str(cast.units["station_a"].id), "label": "户籍窗口 3 号"}
    other_session = sign_in(app, cast.admin).csrf
    before = _count(app, QRCode)
    for token in (None, "", "forged-token", other_session):
        data = form if token is None else {**form, "csrf": token}
        refused = admin.client.post("/console/qr", data=data)
        assert refused.status_code == 400, token
        assert "页面已过期" in text(refused) and "刷新页面" in text(refused)
    assert _count(app, QRCode) == before
    # The same form with the page's token goes through: the token was all that was missing.
    assert admin.post("/console/qr", **form).status_code == 303
    assert _count(app, QRCode) == before + 1


def test_an_h5_rating_without_its_token_is_refused_and_writes_nothing(app, client):
    cast = make_cast(app, client)
    path = f"/q/{cast.code.token}"
    html = client.get(path).get_data(as_text=True)
    form = {"submission_id": _submission(html), "level": "5"}
    elsewhere = csrf_of(app.test_client().get(path))  # another phone's page
    for token in (None, "", "forged-token", elsewhere):
        data = form if token is None else {**form, "csrf": token}
        refused = client.post(path, data=data)
        assert refused.status_code == 400, token
        assert "页面已过期" in text(refused) and "重新打开评价页面" in text(refused)
    assert _count(app, Evaluation) == 0
    receipt = client.post(path, data={**form, "csrf": csrf_of(client.get(path))})
    assert receipt.status_code == 201, text(receipt)
    assert _count(app, Evaluation) == 1


def test_each_page_door_keeps_its_session_cookie_and_token_to_itself(app, client):
    cast = make_cast(app, client)
    browser = app.test_client()
    path = f"/q/{cast.code.token}"
    page = browser.get(path).get_data(as_text=True)
    h5_token = csrf_of(browser.get(path))
    console_token = csrf_of(browser.get("/console/login"))
    assert browser.get_cookie("pingyi_csrf", path="/q") is not None
    assert browser.get_cookie("pingyi_csrf", path="/console") is None
    assert browser.get_cookie("pingyi_console", path="/console") is not None
    assert browser.get_cookie("pingyi_console", path="/q") is None
    signed_in = browser.post(
        "/console/login",
        data={"username": cast.screener.username, "password": PASSWORD, "csrf": h5_token},
    )
    assert signed_in.status_code == 400
    rated = browser.post(
        path, data={"csrf": console_token, "submission_id": _submission(page), "level": "5"}
    )
    assert rated.status_code == 400
    assert _count(app, Evaluation) == 0


def test_the_json_api_takes_bearer_tokens_without_a_csrf_token(app, client):
    cast = make_cast(app, client)
    response = rate(client, cast.resident, cast.code.token, key="no-csrf-needed")
    assert response.status_code == 201, response.get_json()
    assert response.headers.getlist("Set-Cookie") == []
