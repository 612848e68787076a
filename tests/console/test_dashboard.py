"""The dashboard: the overview's figures, weekly trends, the ranking and the funnel drawn as
inline SVG; and the chart helper on its own."""

from __future__ import annotations

import re
from datetime import timedelta

from app.clock import local_date, set_now, utcnow
from app.extensions import db
from app.org.models import Unit
from console.charts import Bar, Series, Step, bar_chart, funnel_chart, line_chart
from stats.overview import overview
from tests.clues.factories import REPORT
from tests.console.helpers import sign_in, text
from tests.evaluations.helpers import h5_resident, rate


def _activity(cast) -> None:
    """Ratings this week and the two before (a trend to draw), and clues in several states."""
    cast.app.config["BURST_SAME_NETWORK_LIMIT"] = 100  # the test client is one network
    now = utcnow()
    try:
        for weeks_ago, levels in ((2, (5, 1)), (1, (4, 4, 2)), (0, (5, 5, 4, 2, 1))):
            set_now(now - timedelta(weeks=weeks_ago))
            for level in levels:
                response = rate(cast.client, h5_resident(cast.client), cast.code.token, level=level)
                assert response.status_code == 201, response.json
    finally:
        set_now(None)
    cast.drive("closed", report=REPORT)
    cast.drive(
        "closed",
        report={
            **REPORT,
            "outcome": "unfounded",
            "persons_handled": 0,
            "involves_misconduct": False,
        },
    )
    cast.drive("verifying")
    cast.drive("rejected")
    cast.file()


def test_dashboard_draws_the_overview(app, cast):
    _activity(cast)
    today = local_date()
    with app.app_context():
        city = db.session.get(Unit, cast.units["city"].id)
        figures = overview(start=today - timedelta(days=6), end=today, root=city)
    assert (figures["evaluations"], figures["clues_received"]) == (5, 5)
    app.config["RANKING_MIN_EVALUATIONS"] = 3
    start = (today - timedelta(days=6)).isoformat()
    response = sign_in(app, cast.analyst).get(f"/console/dashboard?from={start}")
    assert response.status_code == 200
    body = text(response)
    assert body.count("<svg") == 6
    assert "满意率趋势（按日）" in body  # a week's trend goes by day
    assert body.count('class="step"') == 4  # the funnel's four steps
    assert "60.0%" in body  # satisfaction: 3 of 5
    kpis = re.search(r'id="kpis">(.*?)</div>\n\n', body, re.S).group(1)
    assert f'<div class="value">{figures["clues_received"]}</div><div class="name">收到线索' in kpis
    assert f"收到线索 {figures['clues_received']}" in body
    handled = figures["unfounded"] + figures["substantiated"]
    assert handled == 2 and f"办结 {handled}" in body
    assert body.count('class="bar"') == 1 + 1  # station A's bar; one category of clues
    assert "第1名/1 · 5条" in body and "甲区派出所" in body
    assert "5 件" in body.split('id="categories"', 1)[1]  # every clue here is 推诿扯皮

    # Two months go by week: last week's point is 2 of 3 satisfied.
    start = (today - timedelta(days=60)).isoformat()
    body = text(sign_in(app, cast.analyst).get(f"/console/dashboard?from={start}"))
    assert "满意率趋势（按周）" in body and "66.7%（3 条评价）" in body
    assert "<script" not in body
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_dashboard_period_and_bad_dates(app, cast):
    analyst = sign_in(app, cast.analyst)
    body = text(analyst.get("/console/dashboard?from=2026-01-01&to=2026-01-31"))
    assert 'value="2026-01-01"' in body and 'value="2026-01-31"' in body
    for query in ("from=yesterday", "from=2026-02-01&to=2026-01-01", "from=2001-01-01"):
        response = analyst.get(f"/console/dashboard?{query}")
        assert response.status_code == 200
        assert "已改为显示近 30 天" in text(response), query


def test_dashboard_is_scoped_to_the_staff_unit(app, cast):
    from app.org.models import Role
    from tests.factories import make_staff

    _activity(cast)
    district_b = sign_in(app, make_staff(app, Role.ANALYST, cast.units["district_b"]))
    body = text(district_b.get("/console/dashboard"))
    assert "乙区委政法委" in body
    assert "收到线索 0" in body and "甲区派出所" not in body


def test_line_chart_escapes_and_leaves_gaps():
    svg = str(
        line_chart(
            ["<w1>", "w2", "w3", "w4"],
            [Series("满意<率>", [0.5, None, 0.75, 1.0], "#b71c1c", ["2 条", "", "4 条", "<x>"])],
            label="趋势 & <测试>",
        )
    )
    assert "<w1>" not in svg and "&lt;w1&gt;" in svg
    assert "满意&lt;率&gt;" in svg and "&lt;x&gt;" in svg and "趋势 &amp; &lt;测试&gt;" in svg
    assert svg.count("<polyline") == 1  # w3–w4; w1 stands alone after the gap
    assert svg.count("<circle") == 3
    assert "暂无数据" in str(
        line_chart(["a", "b"], [Series("x", [None, None], "#000")], label="空")
    )


def test_bar_and_funnel_charts():
    svg = str(bar_chart([Bar("甲区派出所<script>", 0.9, "第 1 名"), Bar("乙", None)], label="排名"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.count('class="bar"') == 1 and "90.0%" in svg and "—" in svg
    assert "暂无达到最低样本量的单位" in str(bar_chart([], label="空"))
    funnel = str(
        funnel_chart(
            [Step("收到线索", 10), Step("交办", 5, "核查中 1"), Step("办结", 0)], label="漏斗"
        )
    )
    assert funnel.count('class="step"') == 3
    assert "交办 5（50%）" in funnel and "核查中 1" in funnel
