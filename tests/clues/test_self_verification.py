"""No self-verification: a misconduct clue (作风, 廉洁, 执法不公) is verified by a unit above
the reported one; assigning it to the reported unit or below needs a recorded reason, shown on
the clue, in the ledger and in the statistics."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from tests.clues.factories import make_cast
from tests.console.helpers import sign_in, text


@pytest.mark.parametrize("category", ["conduct", "integrity", "unfair_enforcement"])
def test_a_misconduct_clue_is_not_verified_by_the_reported_unit_without_a_reason(
    app, client, category
):
    cast = make_cast(app, client)
    clue = cast.file(category=category)
    cast.step(cast.screener, clue.id, "accept", to="accepted")
    before = cast.detail(clue.id)
    refused = cast.act(cast.screener, clue.id, "assign", unit_id=cast.units["station_a"].id)
    assert refused.status_code == 422, refused.json
    assert refused.json["error"] == "self_verification"
    assert "self_verification_reason" in refused.json["details"]["fields"]
    assert cast.detail(clue.id) == before
    # The unit above the station takes it without any reason.
    above = cast.step(
        cast.screener, clue.id, "assign", to="assigned", unit_id=cast.units["district_a"].id
    )
    assert above["self_verification_reason"] == ""


def test_a_recorded_reason_shows_on_the_clue_the_ledger_and_the_statistics(app, client):
    cast = make_cast(app, client)
    clue = cast.file(category="integrity")
    cast.step(cast.screener, clue.id, "accept", to="accepted")
    reason = "分局纪检力量不足，派出所先行自查，分局督导"
    assigned = cast.step(
        cast.screener,
        clue.id,
        "assign",
        to="assigned",
        unit_id=cast.units["station_a"].id,
        self_verification_reason=reason,
    )
    assert assigned["self_verification_reason"] == reason
    events = cast.events(clue.id)
    assert events[-1]["details"]["self_verification_reason"] == reason

    page = text(sign_in(app, cast.superior).get(f"/console/clues/{clue.id}"))
    assert reason in page

    screener = cast.as_(cast.screener)
    overview = client.get("/api/v1/stats/overview?from=2020-01-01&to=2100-01-01", headers=screener)
    assert overview.status_code == 200, overview.json
    assert overview.json["self_verified"] == 1

    ledger = client.get(
        "/api/v1/exports/clues.xlsx?from=2020-01-01&to=2100-01-01", headers=screener
    )
    assert ledger.status_code == 200
    sheet = load_workbook(io.BytesIO(ledger.data), read_only=True).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = next(r for r in rows if "交被反映单位自查的理由" in r)
    column = header.index("交被反映单位自查的理由")
    assert reason in [r[column] for r in rows if len(r) > column]


def test_the_console_suggests_the_unit_above_for_misconduct(app, client):
    cast = make_cast(app, client)
    clue = cast.file(category="conduct")
    cast.step(cast.screener, clue.id, "accept", to="accepted")
    html = sign_in(app, cast.screener).get(f"/console/clues/{clue.id}").get_data(as_text=True)
    district = cast.units["district_a"]
    assert f'<option value="{district.id}" selected>' in html
    assert "（建议）" in html and 'name="self_verification_reason"' in html
