"""The staff inbox: each sees only their own messages; unread counts; marking read."""

from __future__ import annotations

from tests.app.test_errors import assert_error_shape
from tests.clues.factories import make_cast


def test_inbox_lists_own_items_and_marks_them_read(app, client):
    cast = make_cast(app, client)
    tracking_no = cast.report()["tracking_no"]
    screener_inbox = client.get("/api/v1/inbox", headers=cast.as_(cast.screener)).json
    assert screener_inbox["unread"] == 1
    item = screener_inbox["items"][0]
    assert item["kind"] == "clue_filed" and tracking_no in item["title"]
    # Nobody else sees it, and nobody else can mark it read.
    assert client.get("/api/v1/inbox", headers=cast.as_(cast.verifier)).json["total"] == 0
    assert_error_shape(
        client.post(f"/api/v1/inbox/{item['id']}/read", headers=cast.as_(cast.verifier)), 404
    )
    read = client.post(f"/api/v1/inbox/{item['id']}/read", headers=cast.as_(cast.screener))
    assert read.status_code == 200 and read.json["read_at"]
    after = client.get("/api/v1/inbox?unread=true", headers=cast.as_(cast.screener)).json
    assert after["unread"] == 0 and after["total"] == 0
