"""The clue pages: user text escaped everywhere, and exactly the forms the transition table
gives the signed-in role for the clue's status."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from clues.actions import CATALOGUE
from clues.service import ROLE_ACTORS
from clues.states import TRANSITIONS, Action, ClueStatus
from tests.clues.factories import REPORT
from tests.console.helpers import sign_in, text

SCRIPT = "<script>alert('pingyi')</script>户籍窗口民警推诿，<b>来回跑了三趟</b>"


def test_every_staff_action_of_the_table_has_a_catalogue_entry():
    staff_actors = set(ROLE_ACTORS.values())
    assert set(CATALOGUE) == {action for (_, action, actor) in TRANSITIONS if actor in staff_actors}


def test_user_text_is_escaped_on_every_page(app, cast):
    clue = cast.file(description=SCRIPT)
    twin = cast.file(description=SCRIPT + "（再次反映）")  # shows up as a likely duplicate
    screener = sign_in(app, cast.screener)
    for path in (
        "/console/queue",
        f"/console/clues/{clue.id}",
        f"/console/clues/{twin.id}",
        "/console/clues",
    ):
        body = text(screener.get(path))
        assert "<script>alert" not in body and "<b>来回跑了三趟</b>" not in body, path
        assert "&lt;script&gt;alert(" in body, path
    # The verifier's and superior's pages show the same text, escaped too.
    cast.step(cast.screener, clue.id, "accept", to="accepted")
    cast.step(cast.screener, clue.id, "assign", to="assigned", unit_id=cast.units["station_a"].id)
    verifier = sign_in(app, cast.verifier)
    for path in ("/console/verification", f"/console/clues/{clue.id}"):
        body = text(verifier.get(path))
        assert "<script>alert" not in body and "&lt;script&gt;" in body, path
    cast.step(cast.verifier, clue.id, "start", to="verifying")
    cast.step(
        cast.verifier,
        clue.id,
        "submit_report",
        to="reviewing",
        **{**REPORT, "findings": "<img src=x onerror=alert(1)>核实属实"},
    )
    superior = sign_in(app, cast.superior)
    for path in ("/console/review", f"/console/clues/{clue.id}"):
        body = text(superior.get(path))
        assert "<img src=x" not in body and "&lt;img src=x onerror=alert(1)&gt;" in body, path


S = ClueStatus
# status → role → the forms on the page (None: the page is refused, the clue is not theirs).
EXPECTED: dict[ClueStatus, dict[str, set[str] | None]] = {
    S.SUBMITTED: {
        "screener": {"accept", "reject", "merge"},
        "verifier": None,
        "superior": set(),
        "liaison": None,
        "admin": set(),
    },
    S.ACCEPTED: {
        "screener": {"assign", "reject"},
        "verifier": None,
        "superior": set(),
        "liaison": None,
        "admin": set(),
    },
    S.ASSIGNED: {
        "screener": {"reassign"},
        "verifier": {"start", "send_back"},
        "superior": set(),
        "liaison": None,
        "admin": set(),
    },
    S.VERIFYING: {
        "screener": {"reassign"},
        "verifier": {"submit_report", "request_extension", "send_back"},
        "superior": set(),
        "liaison": None,
        "admin": set(),
    },
    S.REVIEWING: {
        "screener": set(),
        "verifier": set(),
        "superior": {"approve", "return"},
        "liaison": None,
        "admin": set(),
    },
    S.CLOSED: {
        "screener": {"refer"},
        "verifier": set(),
        "superior": {"refer"},
        "liaison": None,
        "admin": set(),
    },
    S.APPEALED: {
        "screener": set(),
        "verifier": set(),
        "superior": {"reopen", "uphold"},
        "liaison": None,
        "admin": set(),
    },
    S.REJECTED: {
        "screener": set(),
        "verifier": None,
        "superior": set(),
        "liaison": None,
        "admin": set(),
    },
    S.MERGED: {
        "screener": set(),
        "verifier": None,
        "superior": set(),
        "liaison": None,
        "admin": set(),
    },
    S.FORWARDED: {
        "screener": set(),
        "verifier": None,
        "superior": set(),
        "liaison": None,
        "admin": set(),
    },
}


@pytest.mark.parametrize("status", list(EXPECTED))
def test_forms_are_the_roles_transitions_from_the_status(app, cast, status):
    clue = cast.drive(status.value)
    for role, expected in EXPECTED[status].items():
        account = getattr(cast, role)
        forms = sign_in(app, account).forms(clue.id)
        assert forms == expected, (status, role, forms)
        for action in forms or ():
            assert (status, Action(action), ROLE_ACTORS[account.role]) in TRANSITIONS
    # Analysts read statistics, never clues.
    assert sign_in(app, cast.analyst).get(f"/console/clues/{clue.id}").status_code == 403


def test_forms_depend_on_what_there_is_to_act_on(app, cast):
    livelihood = cast.file(category="livelihood", description="小区门口路灯坏了很久没人修")
    assert sign_in(app, cast.screener).forms(livelihood.id) == {
        "accept",
        "reject",
        "merge",
        "forward_12345",
    }
    clue = cast.drive("verifying")
    cast.step(
        cast.verifier,
        clue.id,
        "request_extension",
        to="verifying",
        days=3,
        reason="需要调取外地录像",
    )
    assert sign_in(app, cast.verifier).forms(clue.id) == {"submit_report", "send_back"}
    assert sign_in(app, cast.superior).forms(clue.id) == {"approve_extension", "deny_extension"}
    # Closed as unfounded: nothing to refer.
    unfounded = cast.drive(
        "closed",
        report={
            **REPORT,
            "outcome": "unfounded",
            "involves_misconduct": False,
            "persons_handled": 0,
        },
    )
    assert sign_in(app, cast.screener).forms(unfounded.id) == set()
    # Referred once: not again.
    closed = cast.drive("closed")
    cast.step(cast.screener, closed.id, "refer", to="closed")
    assert sign_in(app, cast.superior).forms(closed.id) == set()


def test_clue_page_shows_the_whole_case(app, cast):
    clue = cast.drive("verifying")
    cast.step(
        cast.verifier,
        clue.id,
        "request_extension",
        to="verifying",
        days=3,
        reason="需要调取外地录像",
    )
    cast.step(cast.superior, clue.id, "approve_extension", to="verifying", note="同意")
    cast.step(cast.verifier, clue.id, "submit_report", to="reviewing", **REPORT)
    body = text(sign_in(app, cast.superior).get(f"/console/clues/{clue.id}"))
    for expected in (
        "甲区派出所",
        "户籍民警 李明",
        "推诿扯皮",
        "核查报告",
        "查实",
        REPORT["findings"],
        REPORT["measures"],
        "需要调取外地录像",
        "已批准",
        "办理记录",
        "受理",
        "交办",
        "开始核查",
        "申请延期",
        "批准延期",
        "提交核查报告",
        "3 个工作日",
    ):
        assert expected in body, expected
    # Never who reported it.
    assert "13800138000" not in body


def test_warnings_and_duplicates_are_shown_to_screeners(app, cast):
    from tests.evaluations.helpers import h5_resident

    residents = [h5_resident(cast.client) for _ in range(3)]
    filed = [
        cast.file(description=f"户籍窗口民警李明态度恶劣推诿办事群众第{n}次", resident=r)
        for n, r in enumerate(residents)
    ]
    screener = sign_in(app, cast.screener)
    queue = text(screener.get("/console/queue"))
    assert "该人员 30 天内被 3 名不同群众反映" in queue
    assert "疑似重复" in queue
    page = text(screener.get(f"/console/clues/{filed[-1].id}"))
    assert "高频线索预警" in page and "该人员 30 天内被 3 名不同群众反映" in page
    assert f"并入 {filed[0].tracking_no}" in page
    # The verifier never sees the warnings (they are about who reported, and how often).
    for clue in filed:
        cast.step(cast.screener, clue.id, "accept", to="accepted")
        cast.step(
            cast.screener, clue.id, "assign", to="assigned", unit_id=cast.units["station_a"].id
        )
    page = text(sign_in(app, cast.verifier).get(f"/console/clues/{filed[-1].id}"))
    assert "高频线索预警" not in page and "不同群众反映" not in page


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def test_photos_are_served_to_those_who_see_the_clue(app, cast):
    clue = cast.file()
    upload = cast.client.post(
        f"/api/v1/me/clues/{clue.tracking_no}/photos",
        headers=cast.resident,
        data={"photo": (io.BytesIO(_jpeg()), "p.jpg")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 201, upload.json
    photo_id = upload.json["id"]
    screener = sign_in(app, cast.screener)
    page = text(screener.get(f"/console/clues/{clue.id}"))
    assert f"/console/clues/{clue.id}/photos/{photo_id}" in page
    image = screener.get(f"/console/clues/{clue.id}/photos/{photo_id}")
    assert image.status_code == 200 and image.mimetype == "image/jpeg"
    assert image.data[:2] == b"\xff\xd8"
    assert screener.get(f"/console/clues/{clue.id}/photos/{photo_id + 1}").status_code == 404
    # The verifier of the station does not see a clue not yet assigned to it, nor its photos.
    verifier = sign_in(app, cast.verifier)
    assert verifier.get(f"/console/clues/{clue.id}/photos/{photo_id}").status_code == 403
