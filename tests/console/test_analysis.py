"""The analyst's and leaders' day: the units to talk to and the bottom of the ranking named on
the dashboard, a drill-down to one unit, per-officer summaries with their Excel, and the 台账
and ranking Excel one click away (the API's files, rules and audit)."""

from __future__ import annotations

import io
from datetime import timedelta

import openpyxl
import sqlalchemy as sa

from app.audit import AuditLog
from app.clock import local_date, set_now, utcnow
from app.extensions import db
from tests.console.helpers import sign_in, text
from tests.evaluations.helpers import h5_resident, rate
from tests.qr.factories import make_code


def _ratings(cast) -> None:
    """Station A rated badly, station B well, both enough to rank."""
    cast.app.config["BURST_SAME_NETWORK_LIMIT"] = 100
    cast.app.config["RANKING_MIN_EVALUATIONS"] = 2
    other = make_code(cast.app, cast.units["station_b"])
    for token, levels in ((cast.code.token, (1, 2, 4)), (other.token, (5, 5, 4))):
        for level in levels:
            assert (
                rate(cast.client, h5_resident(cast.client), token, level=level).status_code == 201
            )


def test_dashboard_names_the_bottom_and_the_units_to_talk_to(app, cast):
    _ratings(cast)
    body = text(sign_in(app, cast.analyst).get("/console/dashboard"))
    interview = body.split('id="interview"', 1)[1].split("</section>", 1)[0]
    assert "甲区派出所" in interview and "乙区派出所" not in interview
    bottom = body.split('id="bottom"', 1)[1].split("</section>", 1)[0]
    assert "甲区派出所" in bottom and "第2名" in bottom
    assert "甲区派出所（约谈）" in body  # the ranking bar says so too


def test_drill_down_to_a_unit_and_back(app, cast):
    _ratings(cast)
    desk = sign_in(app, cast.analyst)
    body = text(desk.get(f"/console/dashboard?unit={cast.units['district_b'].id}"))
    assert "统计分析 · 乙区委政法委" in body and "返回上级" in body
    assert '<div class="value">3</div><div class="name">有效评价' in body
    refused = text(
        sign_in(app, cast.superior).get(f"/console/dashboard?unit={cast.units['city'].id}")
    )
    assert "不在您的管辖范围内" in refused and "统计分析 · 甲区委政法委" in refused


def test_officer_summaries_and_their_excel(app, cast):
    assert rate(cast.client, cast.resident, cast.code.token, level=1).status_code == 201
    desk = sign_in(app, cast.analyst)
    page = text(desk.get("/console/officers"))
    assert cast.officer.name in page and cast.officer.staff_no in page
    response = desk.get("/console/officers.xlsx")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert any(cast.officer.name in row for row in values)
    assert sign_in(app, cast.screener).get("/console/officers").status_code == 403


def test_ledger_and_ranking_excel_one_click_away(app, cast):
    cast.file()
    desk = sign_in(app, cast.screener)
    dashboard = text(desk.get("/console/dashboard"))
    assert "下载线索台账（Excel）" in dashboard and "单位排名（Excel）" in dashboard
    ledger = desk.get("/console/exports/ledger.xlsx")
    assert ledger.status_code == 200 and ledger.data[:2] == b"PK"
    with app.app_context():
        audited = db.session.scalar(
            sa.select(sa.func.count()).where(AuditLog.action == "stats.ledger_export")
        )
    assert audited == 1
    ranking = desk.get(f"/console/exports/ranking.xlsx?period=week&to={local_date()}")
    assert ranking.status_code == 200 and ranking.data[:2] == b"PK"
    # The analyst may not take the ledger (the API's rule), nor sees its button.
    analyst = sign_in(app, cast.analyst)
    assert "下载线索台账" not in text(analyst.get("/console/dashboard"))
    assert analyst.get("/console/exports/ledger.xlsx").status_code == 403


def test_trend_follows_a_long_period_by_month(app, cast):
    now = utcnow()
    try:
        set_now(now - timedelta(days=70))
        resident = h5_resident(cast.client)
        assert rate(cast.client, resident, cast.code.token, level=5).status_code == 201
    finally:
        set_now(None)
    start = (local_date() - timedelta(days=300)).isoformat()
    body = text(sign_in(app, cast.analyst).get(f"/console/dashboard?from={start}"))
    assert "满意率趋势（按月）" in body and "100.0%（1 条评价）" in body
