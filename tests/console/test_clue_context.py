"""The clue page's context: the rating that carried the clue (level, reasons, comment, the
window), the re-rating after closure, and warnings that link the clues they counted."""

from __future__ import annotations

from tests.console.helpers import sign_in, text
from tests.evaluations.helpers import h5_resident, rate
from tests.qr.factories import make_code

CLUE = {
    "category": "conduct",
    "identity": "anonymous",
    "description": "户籍窗口民警让我来回跑了三趟，材料一次没说清楚",
}


def test_the_rating_that_carried_the_clue(app, cast):
    code = make_code(app, cast.units["station_a"], officer=cast.officer, label="户籍窗口 2 号")
    rated = rate(
        cast.client,
        cast.resident,
        code.token,
        level=1,
        reasons=["态度生硬"],
        comment="等了一上午",
        clue=CLUE,
    )
    assert rated.status_code == 201, rated.json
    clue_id = cast.clue_id(rated.json["clue"]["tracking_no"])
    page = text(sign_in(app, cast.screener).get(f"/console/clues/{clue_id}"))
    card = page.split('id="rating"', 1)[1].split("</section>", 1)[0]
    assert "非常不满意" in card and "态度生硬" in card
    assert "等了一上午" in card and "户籍窗口 2 号" in card
    # The verifier at the station learns the day, never the minute.
    cast.step(cast.screener, clue_id, "accept", to="accepted")
    cast.step(
        cast.screener,
        clue_id,
        "assign",
        to="assigned",
        unit_id=cast.units["station_a"].id,
        self_verification_reason="窗口日常管理问题，由所里自查",
    )
    verifier = text(sign_in(app, cast.verifier).get(f"/console/clues/{clue_id}"))
    when = verifier.split("评价时间</dt><dd>", 1)[1].split("</dd>", 1)[0]
    assert len(when) == len("2026-12-04"), when


def test_warnings_link_the_clues_they_counted(app, cast, client):
    residents = [cast.resident, h5_resident(client), h5_resident(client)]
    filed = [
        cast.file(description=f"第{n}位群众反映窗口推诿", resident=who)
        for n, who in enumerate(residents)
    ]
    page = text(sign_in(app, cast.screener).get(f"/console/clues/{filed[-1].id}"))
    card = page.split('id="warnings"', 1)[1].split("</section>", 1)[0]
    assert "名不同群众反映" in card
    assert filed[0].tracking_no in card and filed[1].tracking_no in card
    queue = text(sign_in(app, cast.screener).get("/console/queue"))
    assert f'/console/clues/{filed[-1].id}#warnings"' in queue


def test_the_rerating_after_closure(app, cast):
    clue = cast.file()
    for who, action, to, body in cast.path_to_closed():
        cast.step(who, clue.id, action, to=to, **body)
    assert cast.rerate(clue.tracking_no, 2, False).status_code == 200
    page = text(sign_in(app, cast.superior).get(f"/console/clues/{clue.id}"))
    card = page.split('id="reratings"', 1)[1].split("</section>", 1)[0]
    assert "不满意" in card and "问题未解决" in card
