"""The screener's day in lists: filters that narrow the list as asked (unit subtree,
category, source, dates, a Chinese phrase from the middle of a complaint), sorting, the
filtered list as Excel, batch acceptance and batch assignment to each clue's suggested unit,
the assignment choices with the suggested unit first."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest

from tests.console.helpers import sign_in, text

ROW = re.compile(r'<a href="/console/clues/(\d+)" class="nowrap">')


def _listed(desk, query: str) -> set[int]:
    response = desk.get(f"/console/clues?{query}")
    assert response.status_code == 200, query
    return {int(x) for x in ROW.findall(text(response))}


def test_filters_narrow_the_list(app, cast):
    papers = cast.file(description="办理户口迁移时材料不全，来回跑了三趟", category="buck_passing")
    rude = cast.file(
        description="值班民警态度恶劣，大声呵斥群众", category="conduct", officer=False
    )
    desk = sign_in(app, cast.screener)
    everyone = _listed(desk, "")
    assert {papers.id, rude.id} <= everyone

    assert _listed(desk, "q=户口迁移") == {papers.id}  # a phrase from the middle
    assert _listed(desk, "category=conduct") == {rude.id}
    assert _listed(desk, f"unit={cast.units['district_a'].id}") == {papers.id, rude.id}
    assert _listed(desk, f"unit={cast.units['district_b'].id}") == set()
    assert _listed(desk, "source=survey") == set()
    assert {papers.id, rude.id} <= _listed(desk, "source=direct&status=submitted")
    assert _listed(desk, "from=2001-01-01&to=2001-12-31") == set()
    # Nonsense is dropped and said so, never a server error.
    odd = text(desk.get("/console/clues?from=2026-13-45&unit=999999&sort=sideways"))
    assert "日期格式应为" in odd and "不在您的管辖范围内" in odd

    newest = text(desk.get("/console/clues?sort=new"))
    oldest = text(desk.get("/console/clues?sort=old"))
    assert newest.index(rude.tracking_no) < newest.index(papers.tracking_no)
    assert oldest.index(papers.tracking_no) < oldest.index(rude.tracking_no)


def test_export_of_the_filtered_list(app, cast):
    papers = cast.file(description="办理户口迁移时材料不全，来回跑了三趟")
    other = cast.file(description="窗口排队两小时无人办理", officer=False)
    desk = sign_in(app, cast.screener)
    listing = text(desk.get("/console/clues?q=户口迁移"))
    assert "导出筛选结果" in listing
    response = desk.get("/console/clues/export.xlsx?q=户口迁移")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    cells = {str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None}
    assert papers.tracking_no in cells and other.tracking_no not in cells
    # The API's ledger rule: a liaison reads the list but may not export it.
    liaison = sign_in(app, cast.liaison)
    assert "导出筛选结果" not in text(liaison.get("/console/clues"))
    assert liaison.get("/console/clues/export.xlsx").status_code == 403


def test_batch_accept_then_assign_to_suggested_units(app, cast):
    first = cast.file(description="户籍窗口推诿，让我来回跑")
    second = cast.file(description="办证要求提供无关证明", officer=False)
    done = cast.file(description="已经受理过的线索")
    cast.step(cast.screener, done.id, "accept", to="accepted")
    cast.step(cast.screener, done.id, "assign", to="assigned", unit_id=cast.units["station_a"].id)
    desk = sign_in(app, cast.screener)
    queue = text(desk.get("/console/queue"))
    assert 'form="batch-accept"' in queue

    response = desk.client.post(
        "/console/queue/batch",
        data={"csrf": desk.csrf, "action": "accept", "clue_id": [first.id, second.id, done.id]},
    )
    assert response.status_code == 303
    page = text(desk.get(response.headers["Location"]))
    assert "（2 条）" in page and first.tracking_no in page
    assert f"{done.tracking_no}：" in page  # the one that could not be accepted, with why
    assert cast.detail(first.id)["status"] == "accepted"

    response = desk.client.post(
        "/console/queue/batch",
        data={
            "csrf": desk.csrf,
            "action": "assign",
            "unit_id": "suggested",
            "clue_id": [first.id, second.id],
        },
    )
    assert response.status_code == 303
    for clue in (first, second):
        detail = cast.detail(clue.id)
        assert detail["status"] == "assigned"
        assert detail["assigned_unit"]["id"] == cast.units["station_a"].id
    # A verifier cannot send the batch form at all.
    assert sign_in(app, cast.verifier).post("/console/queue/batch").status_code == 403


def test_assignment_offers_the_suggested_unit_first(app, cast):
    clue = cast.file()
    cast.step(cast.screener, clue.id, "accept", to="accepted")
    page = text(sign_in(app, cast.screener).get(f"/console/clues/{clue.id}"))
    choices = page.split('id="assign-unit"', 1)[1].split("</select>", 1)[0]
    first_option = re.search(r'<option value="(\d+)"', choices)
    assert first_option and int(first_option.group(1)) == cast.units["station_a"].id
    assert "（建议）" in choices and 'label="全部单位"' in choices


def test_a_phrase_search_can_use_the_trigram_index(app, cast, database):
    """On PostgreSQL the phrase filter is answerable from pg_trgm's index (the planner picks
    it once the table is large; here sequential scans are switched off to ask whether it can)."""
    if database.kind != "postgresql":
        pytest.skip("SQLite 只有普通索引")
    import sqlalchemy as sa

    from app.extensions import db
    from clues.models import Clue

    cast.file(description="办理户口迁移时材料不全，来回跑了三趟")
    with app.app_context():
        db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        stmt = sa.select(Clue.id).where(Clue.description.contains("户口迁移", autoescape=True))
        compiled = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = "\n".join(db.session.scalars(sa.text(f"EXPLAIN {compiled}")))
        db.session.rollback()
    assert "ix_clues_description_trgm" in plan, plan
