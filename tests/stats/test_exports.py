"""Exports: the clue ledger and the ranking as Excel and CSV. The workbooks open with
openpyxl, hold the right rows, and nothing personal; the CSV files carry a BOM."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import openpyxl
import sqlalchemy as sa

from app.audit import AuditLog
from app.extensions import db
from stats.exports import LEDGER_COLUMNS, RANKING_COLUMNS
from tests.clues.factories import make_cast
from tests.evaluations.helpers import h5_resident, rate
from tests.factories import make_unit
from tests.qr.factories import make_code
from tests.stats.scenario import PHONE, build_november

NOVEMBER = "from=2026-11-01&to=2026-11-30"
LEDGER_HEADERS = [column.header for column in LEDGER_COLUMNS]


def workbook(response) -> openpyxl.Workbook:
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response.headers["Content-Disposition"].startswith("attachment;")
    return openpyxl.load_workbook(io.BytesIO(response.data))


def sheet_rows(sheet, header_row: int = 1) -> list[dict]:
    rows = list(sheet.iter_rows(values_only=True))[header_row - 1 :]
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def all_text(book: openpyxl.Workbook) -> str:
    return "\n".join(
        str(value)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if value is not None
    )


def test_ledger_workbook(app, client, at):
    world = build_november(app, client, at)
    cast = world.cast
    book = workbook(
        client.get(f"/api/v1/exports/clues.xlsx?{NOVEMBER}", headers=cast.as_(cast.screener))
    )
    sheet = book["线索台账"]
    # A document to print: the title line, the header, 序号, repeated on every page.
    assert sheet["A1"].value.endswith("问题线索台账（2026年11月01日至2026年11月30日）")
    assert sheet.freeze_panes == "A3"
    assert [cell.value for cell in sheet[2]] == ["序号", *LEDGER_HEADERS]
    assert sheet[2][0].font.bold
    assert sheet.column_dimensions["B"].width >= 15
    assert sheet.print_title_rows == "$1:$2"
    assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.fitToWidth == 1
    rows = sheet_rows(sheet, header_row=2)
    assert [row["序号"] for row in rows] == list(range(1, len(rows) + 1))
    order = ["C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9", "C10", "C_b"]
    assert [row["线索编号"] for row in rows] == [world.tracking(name) for name in order]
    row = {name: rows[index] for index, name in enumerate(order)}

    assert row["C1"]["当前状态"] == "不予受理" and row["C1"]["审核是否按期"] == "按期"
    assert row["C2"]["当前状态"] == "已转 12345" and row["C2"]["类别分组"] == "民生类"
    assert (row["C3"]["核查结论"], row["C3"]["核查是否按期"], row["C3"]["回评结果"]) == (
        "查否",
        "按期",
        "非常满意，已解决",
    )
    c4 = row["C4"]
    assert {
        key: c4[key]
        for key in (
            "来源",
            "被反映单位",
            "被反映人员",
            "人员编号",
            "承办单位",
            "当前状态",
            "核查结论",
            "组织处理人数",
            "涉及违纪违规",
            "移交纪检",
            "纪检处理人数",
            "回评结果",
            "核查轮次",
        )
    } == {
        "来源": "群众直接反映",
        "被反映单位": "甲区派出所",
        "被反映人员": "李明",
        "人员编号": cast.officer.staff_no,
        "承办单位": "甲区派出所",
        "当前状态": "已办结",
        "核查结论": "查实",
        "组织处理人数": 1,
        "涉及违纪违规": "是",
        "移交纪检": "已办结",
        "纪检处理人数": 2,
        "回评结果": "2 人受邀，1 人回评，其中 0 人满意且已解决",
        "核查轮次": 1,
    }
    # Dates are real dates in Beijing time; the review stage ran and finished at once.
    assert c4["收到时间"] == datetime(2026, 11, 2, 9, 0)
    assert c4["上级审核开始"] == c4["上级审核完成"] == datetime(2026, 11, 2, 9, 0)
    assert c4["上级审核是否按期"] == "按期" and c4["办结时间"] == datetime(2026, 11, 2, 9, 0)
    assert (row["C5"]["当前状态"], row["C5"]["并入线索"]) == ("已并案", world.tracking("C4"))
    assert row["C5"]["核查结论"] == "" or row["C5"]["核查结论"] is None
    c7 = row["C7"]
    assert (c7["当前状态"], c7["核查完成"], c7["核查是否按期"]) == ("核查中", None, "已超期")
    assert c7["核查期限"] == datetime(2026, 11, 23, 23, 59, 59)
    assert (row["C8"]["当前状态"], row["C8"]["复核申请次数"], row["C8"]["复核决定"]) == (
        "复核申请中",
        1,
        "待决定",
    )
    assert (row["C9"]["当前状态"], row["C9"]["审核是否按期"]) == ("待审核", "已超期")
    assert (row["C_b"]["来源"], row["C_b"]["被反映单位"], row["C_b"]["不予受理原因"]) == (
        "民意测评",
        "乙区派出所",
        "内容不具体、无法核查",
    )

    # Nothing personal: no reporter, phone, resident or the residents' own words.
    text = all_text(book)
    assert PHONE not in text and "同一件事" not in text and "态度生硬" not in text
    assert not any(
        header.startswith("反映人") or word in header
        for header in LEDGER_HEADERS
        for word in ("电话", "手机", "身份", "群众", "resident", "openid")
    )


def test_ledger_csv(app, client, at):
    world = build_november(app, client, at)
    cast = world.cast
    response = client.get(f"/api/v1/exports/clues.csv?{NOVEMBER}", headers=cast.as_(cast.admin))
    rows = csv_rows(response)
    assert rows[0] == LEDGER_HEADERS
    assert len(rows) == 12
    c4 = dict(zip(rows[0], rows[4], strict=True))
    assert (c4["线索编号"], c4["收到时间"], c4["核查结论"], c4["组织处理人数"]) == (
        world.tracking("C4"),
        "2026-11-02 09:00",
        "查实",
        "1",
    )
    assert PHONE.encode() not in response.data
    assert (
        "线索台账" in response.headers["Content-Disposition"]
        or "%E7%BA%BF%E7%B4%A2" in response.headers["Content-Disposition"]
    )


def test_ledger_scope_roles_and_audit(app, client, at):
    world = build_november(app, client, at)
    cast = world.cast
    superior_a = csv_rows(
        client.get(f"/api/v1/exports/clues.csv?{NOVEMBER}", headers=cast.as_(cast.superior))
    )
    assert len(superior_a) - 1 == 10  # district A's clues, not station B's
    superior_b = csv_rows(
        client.get(f"/api/v1/exports/clues.csv?{NOVEMBER}", headers=cast.as_(world.superior_b))
    )
    assert [row[0] for row in superior_b[1:]] == [world.tracking("C_b")]
    station_a = csv_rows(
        client.get(
            f"/api/v1/exports/clues.csv?{NOVEMBER}&unit_id={cast.units['station_a'].id}",
            headers=cast.as_(cast.screener),
        )
    )
    assert len(station_a) - 1 == 10
    october = csv_rows(
        client.get(
            "/api/v1/exports/clues.csv?from=2026-10-01&to=2026-10-31",
            headers=cast.as_(cast.screener),
        )
    )
    assert [row[0] for row in october[1:]] == [world.tracking("O")]
    for who in (cast.analyst, cast.liaison, cast.verifier):
        for fmt in ("xlsx", "csv"):
            denied = client.get(f"/api/v1/exports/clues.{fmt}", headers=cast.as_(who))
            assert (denied.status_code, denied.json["error"]) == (403, "forbidden")
    outside = client.get(
        f"/api/v1/exports/clues.xlsx?unit_id={cast.units['station_b'].id}",
        headers=cast.as_(cast.superior),
    )
    assert (outside.status_code, outside.json["error"]) == (403, "out_of_scope")
    with app.app_context():
        exported = db.session.scalars(
            sa.select(AuditLog)
            .where(AuditLog.action == "stats.ledger_export")
            .order_by(AuditLog.id)
        ).all()
        assert len(exported) == 4
        assert exported[0].details == {"from": "2026-11-01", "to": "2026-11-30", "format": "csv"}


def test_ranking_workbook_and_csv(app, client, at):
    world = build_november(app, client, at)
    cast = world.cast
    app.config.update(RANKING_MIN_EVALUATIONS=1, RANKING_MIN_STAGES=1)
    query = "period=month&date=2026-11-15"
    book = workbook(
        client.get(f"/api/v1/exports/ranking.xlsx?{query}", headers=cast.as_(cast.analyst))
    )
    assert book.sheetnames == ["单位排名", "说明"]
    sheet = book["单位排名"]
    assert sheet.freeze_panes == "A2"
    assert [cell.value for cell in sheet[1]] == [column.header for column in RANKING_COLUMNS]
    rows = sheet_rows(sheet)
    # Court A 2/2 and station B 1/1 tie first; station A 3/6 is last, and 4 of its 6
    # verification stages were on time (67 %, under 80 %).
    assert [(r["单位"], r["满意率排名"], r["满意率"], r["有效评价数"]) for r in rows] == [
        ("甲区人民法院", 1, 1.0, 2),
        ("乙区派出所", 1, 1.0, 1),
        ("甲区派出所", 3, 0.5, 6),
    ]
    station_a = rows[2]
    assert (station_a["按期办结率排名"], station_a["核查件数"], station_a["按期件数"]) == (1, 6, 4)
    assert station_a["约谈"] == "按期办结率 67%，低于 80%；满意率 50%，排名末位"
    assert station_a["回评满意率"] == 1 / 3 and station_a["红榜"] in ("", None)
    assert [r["红榜"] for r in rows[:2]] == ["是", "是"]
    assert sheet.cell(row=4, column=3).number_format == "0.0%"
    notes = dict(book["说明"].iter_rows(min_row=2, values_only=True))
    assert notes["统计周期"].startswith("2026-11-01 至 2026-11-30")

    response = client.get(f"/api/v1/exports/ranking.csv?{query}", headers=cast.as_(cast.admin))
    rows = csv_rows(response)
    assert rows[0][:3] == ["单位", "满意率排名", "满意率"]
    assert rows[3][:4] == ["甲区派出所", "3", "50.0%", "6"]
    for who in (cast.verifier, cast.liaison):
        denied = client.get("/api/v1/exports/ranking.xlsx", headers=cast.as_(who))
        assert (denied.status_code, denied.json["error"]) == (403, "forbidden")
    for who in (cast.screener, cast.superior):
        assert client.get("/api/v1/exports/ranking.csv", headers=cast.as_(who)).status_code == 200


def test_exports_never_turn_text_into_formulas(app, client, at):
    at(2026, 11, 24, 9, 0)
    cast = make_cast(app, client)
    app.config.update(RANKING_MIN_EVALUATIONS=1)
    odd = make_unit(app, parent=cast.units["district_a"], name='=HYPERLINK("http://x","点我")')
    assert rate(client, h5_resident(client), make_code(app, odd).token, level=5).status_code == 201
    book = workbook(
        client.get("/api/v1/exports/ranking.xlsx?date=2026-11-24", headers=cast.as_(cast.admin))
    )
    cell = book["单位排名"]["A2"]
    assert (cell.value, cell.data_type) == (odd.name, "s")
    rows = csv_rows(
        client.get("/api/v1/exports/ranking.csv?date=2026-11-24", headers=cast.as_(cast.admin))
    )
    assert rows[1][0] == "'" + odd.name


def test_empty_exports_have_headers_only(app, client, at):
    at(2026, 11, 24, 9, 0)
    cast = make_cast(app, client)
    book = workbook(
        client.get(
            "/api/v1/exports/clues.xlsx?from=2025-01-01&to=2025-01-31", headers=cast.as_(cast.admin)
        )
    )
    ledger = [list(row) for row in book["线索台账"].iter_rows(values_only=True)][1:]
    assert ledger == [["序号", *LEDGER_HEADERS]]
    rows = csv_rows(
        client.get("/api/v1/exports/ranking.csv?date=2025-01-01", headers=cast.as_(cast.admin))
    )
    assert rows == [[column.header for column in RANKING_COLUMNS]]
