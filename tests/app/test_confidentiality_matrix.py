"""Who reported, by placement: every role × every placement × every staff surface.

A confidential report about officer 李明 of station A goes the whole way (verified, closed,
referred, a photo, a supervision letter naming it, a repeat warning and its letter, the weekly
notice, inbox messages, a similar open report for the duplicate suggestions). Then staff of
every role, placed

- as the accused's own account (linked to 李明's officer record, at station A),
- in the reported unit (station A), in its subtree (a post under station A),
- above it (district A) and in a sibling district (district B),

read every staff surface the URL map has — API JSON, console HTML, CSV/XLSX exports, letter
PDFs through pdftotext, the inbox, notices, events, duplicates, warnings; new pages are found
by walking the URL map, so they join the matrix by themselves. The accounts are written
straight into the registry, as accounts made before the placement rules would be: the rules
hold even where placement was not checked.

What must hold:
- the reporter's phone appears only in the reporter view (API and console), only for a
  screener, admin or liaison above the reported unit, and each read is one audit row with the
  reader's reason;
- the accused sees neither the clue nor the similar one about him anywhere, nor his own clue
  figures in the per-officer statistics;
- staff in the reported unit or below see no repeat warning and no filing minute.
"""

from __future__ import annotations

import io
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from app.audit import AuditLog
from app.clock import LOCAL_TZ
from app.extensions import db
from app.org import service as org_service
from app.org.models import Role, StaffAccount, Unit, UnitKind
from clues.models import Clue
from notifications.sweeps import warning_letter_sweep
from stats.notices import weekly_notice
from tests.clues.factories import REPORT, Cast, Filed, make_cast
from tests.console.helpers import Desk, sign_in, text
from tests.evaluations.helpers import h5_resident
from tests.factories import PASSWORD, detach

PHONE = "13912345678"
MARKER = "拒不受理还出言不逊ZX"  # in the clue about the accused and its near-duplicate
PLACEMENTS = ("accused", "reported_unit", "subtree", "above", "sibling")
REASON = "回访核实办理情况"
# Read-only pages of other people (residents, the public) and of the system are not staff
# surfaces; the reporter views are checked apart.
NOT_STAFF = re.compile(
    r"^/api/v1/(me|scan|auth|track|public)/|^/api/v1/errors|^/(q|t|public|docs|static|healthz|"
    r"openapi|metrics)|/reporter$|^/console/(login|logout)"
)


def may_read_reporter(placement: str, role: Role) -> bool:
    return placement == "above" and role in (Role.SCREENER, Role.ADMIN, Role.LIAISON)


@dataclass
class World:
    cast: Cast
    clue: Filed  # confidential, about 李明, referred
    twin: Filed  # a similar open report about him by someone else
    filed_minutes: tuple[str, str]  # the minute the resident filed: UTC (JSON), Beijing (pages)
    accounts: dict[tuple[str, Role], StaffAccount] = field(default_factory=dict)


def _world(app, client, frozen_clock) -> World:
    morning = frozen_clock.utcnow().replace(hour=0, minute=5, second=0)
    frozen_clock.set_now(morning)
    cast = make_cast(app, client)
    frozen_clock.set_now(morning.replace(hour=1, minute=17))  # the resident's minute
    reporter = h5_resident(client)
    # Three reports by one resident about station A: a repeat warning.
    for n in range(3):
        if n == 2:
            filed_at = frozen_clock.utcnow()
            clue = cast.file(
                description=f"户籍窗口民警李明{MARKER}，群众多次反映",
                category="conduct",
                identity="confidential",
                phone=PHONE,
                resident=reporter,
            )
        else:
            cast.file(
                description=f"大厅第{n + 1}次排队两小时无人叫号",
                resident=reporter,
                officer=False,
            )
    frozen_clock.advance(timedelta(minutes=43))
    twin = cast.file(
        description=f"李明{MARKER}，群众多次反映",
        category="conduct",
        identity="anonymous",
        resident=h5_resident(client),
    )
    cast.attach_photo(clue.tracking_no, resident=reporter)
    cast.step(cast.screener, clue.id, "accept", to="accepted")
    cast.step(
        cast.screener,
        clue.id,
        "assign",
        to="assigned",
        unit_id=cast.units["station_a"].id,
        self_verification_reason="派出所先行自查，分局督导",
    )
    cast.step(cast.verifier, clue.id, "start", to="verifying")
    cast.supervise("matrix-supervision", clue_id=clue.id)
    cast.step(cast.verifier, clue.id, "submit_report", to="reviewing", **REPORT)
    cast.step(cast.superior, clue.id, "approve", to="closed")
    cast.step(cast.screener, clue.id, "refer", to="closed")
    with app.app_context():
        warning_letter_sweep()
        db.session.commit()
    frozen_clock.advance(timedelta(days=7))
    with app.app_context():
        weekly_notice()
        db.session.commit()
    world = World(
        cast,
        clue,
        twin,
        (f"T{filed_at:%H:%M}", filed_at.astimezone(LOCAL_TZ).strftime(" %H:%M")),
    )
    _place_everyone(app, world)
    return world


def _place_everyone(app, world: World) -> None:
    """One account per role and placement, written as a pre-rules registry would hold it."""
    units = world.cast.units
    with app.app_context():
        post = org_service.create_unit(
            code=f"{db.session.get(Unit, units['station_a'].id).code}-P",
            name="甲区派出所某警务室",
            kind=UnitKind.POLICE,
            parent=db.session.get(Unit, units["station_a"].id),
            region="测试区",
            address="测试路2号",
        )
        where = {
            "accused": units["station_a"].id,
            "reported_unit": units["station_a"].id,
            "subtree": post.id,
            "above": units["district_a"].id,
            "sibling": units["district_b"].id,
        }
        app.config["STAFF_PLACEMENT"] = dict.fromkeys(app.config["STAFF_PLACEMENT"])
        for placement, unit_id in where.items():
            for role in Role:
                account = org_service.create_staff(
                    username=f"m-{placement}-{role.value}-{unit_id}",
                    password=PASSWORD,
                    display_name=f"{placement}{role.label}",
                    role=role,
                    unit=db.session.get(Unit, unit_id),
                )
                db.session.flush()
                world.accounts[(placement, role)] = detach(account)
        db.session.commit()


def _accuse(app, world: World, account: StaffAccount | None) -> None:
    """Link 李明's officer record to `account` (the accused's own), or to nobody."""
    with app.app_context():
        for linked in db.session.scalars(
            sa.select(StaffAccount).where(StaffAccount.officer_id == world.cast.officer.id)
        ):
            linked.officer_id = None
        db.session.flush()
        if account is not None:
            db.session.get(StaffAccount, account.id).officer_id = world.cast.officer.id
        db.session.commit()


# ---------------------------------------------------------------- reading every surface


def _pdf_text(data: bytes) -> str:
    done = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    )
    return done.stdout.decode()


def _xlsx_text(data: bytes) -> str:
    book = load_workbook(io.BytesIO(data), read_only=True)
    return "\n".join(
        " ".join("" if v is None else str(v) for v in row)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
    )


def _readable(response) -> str:
    kind = response.mimetype or ""
    data = response.get_data()
    if kind == "application/pdf":
        return _pdf_text(data)
    if "spreadsheetml" in kind:
        return _xlsx_text(data)
    if kind.startswith("image/") or kind == "application/zip":
        return ""
    return data.decode("utf-8", "replace")


def _fill(rule: str, world: World, ids: dict[str, list[int]]) -> Iterator[str]:
    """The rule with each converter filled by every id of the world it can take."""
    names = re.findall(r"<(?:\w+:)?(\w+)>", rule)
    if not names:
        yield rule
        return
    if len(names) > 1 or names[0] not in ids:
        return
    for value in ids[names[0]]:
        yield re.sub(r"<(?:\w+:)?\w+>", str(value), rule)


def _surfaces(app) -> list[str]:
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods
        and (rule.rule.startswith("/api/v1/") or rule.rule.startswith("/console/"))
        and not NOT_STAFF.search(rule.rule)
    )


def _world_ids(app, client, world: World, headers: dict[str, str]) -> dict[str, list[int]]:
    """The ids a surface may be asked about: the two clues, and what the reader can list."""
    cast = world.cast

    def listed(path: str) -> list[int]:
        response = client.get(path, headers=headers)
        return (
            [item["id"] for item in response.json["items"]]
            if response.is_json and response.status_code == 200
            else []
        )

    with app.app_context():
        photo_ids = list(db.session.scalars(sa.text("SELECT id FROM clue_photos ORDER BY id")))
    return {
        "clue_id": [world.clue.id, world.twin.id],
        "letter_id": listed("/api/v1/letters?per_page=100") or listed("/api/v1/letters"),
        "referral_id": listed("/api/v1/referrals"),
        "photo_id": photo_ids,
        "officer_id": [cast.officer.id],
        "unit_id": [cast.units["station_a"].id],
        "staff_id": [],
        "code_id": [],
    }


def _api_reads(app, client, world: World, account: StaffAccount) -> dict[str, str]:
    headers = world.cast.as_(account)
    ids = _world_ids(app, client, world, headers)
    seen = {}
    for rule in _surfaces(app):
        if not rule.startswith("/api/"):
            continue
        for path in _fill(rule, world, ids):
            response = client.get(path, headers=headers)
            assert response.status_code < 500, (path, response.get_data(as_text=True))
            seen[path] = _readable(response) if response.status_code == 200 else ""
    return seen


def _console_reads(app, world: World, desk: Desk) -> dict[str, str]:
    letters = [
        int(n) for n in re.findall(r"/console/letters/(\d+)", text(desk.get("/console/letters")))
    ]
    ids = {
        "clue_id": [world.clue.id, world.twin.id],
        "letter_id": sorted(set(letters)),
        "referral_id": [],
        "photo_id": [],
    }
    seen = {}
    for rule in _surfaces(app):
        if not rule.startswith("/console/"):
            continue
        for path in _fill(rule, world, ids):
            response = desk.get(path)
            assert response.status_code < 500, (path, text(response))
            seen[path] = _readable(response) if response.status_code == 200 else ""
    return seen


def _reporter_reads(app, clue_id: int) -> list[tuple[int, str]]:
    with app.app_context():
        return [
            (row.actor_id, row.details.get("reason"))
            for row in db.session.execute(
                sa.select(AuditLog.actor_id, AuditLog.details).where(
                    AuditLog.action == "clue.reporter_read",
                    AuditLog.object_id == str(clue_id),
                )
            )
        ]


# ---------------------------------------------------------------- the matrix


@pytest.fixture
def world(app, client, frozen_clock) -> World:
    import console

    if "console" not in app.blueprints:
        console.init_app(app)
    return _world(app, client, frozen_clock)


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_role_placement_surface_matrix(app, client, world, placement):
    cast, clue = world.cast, world.clue
    with app.app_context():
        tracking_nos = [
            db.session.get(Clue, world.clue.id).tracking_no,
            db.session.get(Clue, world.twin.id).tracking_no,
        ]
    checked = 0
    for role in Role:
        account = world.accounts[(placement, role)]
        _accuse(app, world, account if placement == "accused" else None)
        who = f"{placement}/{role.value}"
        desk = sign_in(app, account)
        reads = {**_api_reads(app, client, world, account), **_console_reads(app, world, desk)}
        checked += len(reads)
        for path, body in reads.items():
            assert PHONE not in body, (who, path)
            if placement == "accused":
                for hidden in (MARKER, *tracking_nos):
                    assert hidden not in body, (who, path, hidden)
            if placement in ("accused", "reported_unit", "subtree"):
                assert "同一群众" not in body, (who, path)
                for minute in world.filed_minutes:
                    assert minute not in body, (who, path, minute)

        # The reporter view: only where the rule allows, each read one audit row.
        before = _reporter_reads(app, clue.id)
        api = client.get(
            f"/api/v1/clues/{clue.id}/reporter",
            query_string={"reason": REASON},
            headers=cast.as_(account),
        )
        page = desk.post(f"/console/clues/{clue.id}/reporter", reason=REASON)
        offered = 'id="reporter-form"' in text(desk.get(f"/console/clues/{clue.id}"))
        after = _reporter_reads(app, clue.id)
        if may_read_reporter(placement, role):
            assert api.status_code == 200 and api.json["phone"] == PHONE, (who, api.json)
            assert page.status_code == 200 and PHONE in text(page), who
            assert page.headers["Cache-Control"].startswith("no-store"), who
            assert offered, who
            assert after == [*before, (account.id, REASON), (account.id, REASON)], who
        else:
            assert api.status_code in (403, 404), (who, api.status_code)
            assert PHONE not in api.get_data(as_text=True), who
            assert page.status_code in (403, 404) and PHONE not in text(page), who
            assert not offered, who
            assert after == before, who

        if placement == "accused":
            officers = client.get(
                "/api/v1/stats/officers",
                query_string={"unit_id": cast.units["station_a"].id},
                headers=cast.as_(account),
            )
            if officers.status_code == 200:
                (own,) = [r for r in officers.json["items"] if r["officer_id"] == cast.officer.id]
                assert own["clues_received"] is None and own["under_verification"] is None, who
    _accuse(app, world, None)
    assert checked > 100


def test_the_console_reporter_view_wants_a_reason_and_says_it_is_audited(app, client, world):
    account = world.accounts[("above", Role.SCREENER)]
    desk = sign_in(app, account)
    missing = desk.post(f"/console/clues/{world.clue.id}/reporter", reason=" ")
    assert missing.status_code == 422
    assert "查看理由" in text(missing) and PHONE not in text(missing)
    assert _reporter_reads(app, world.clue.id) == []
    shown = desk.post(f"/console/clues/{world.clue.id}/reporter", reason=REASON)
    assert shown.status_code == 200
    body = text(shown)
    assert (
        PHONE in body and "实名保密" in body and f"本次查看已记入审计日志，理由：{REASON}" in body
    )
    assert _reporter_reads(app, world.clue.id) == [(account.id, REASON)]
    # A link or a prefetch cannot read it: the view answers POST only.
    assert desk.get(f"/console/clues/{world.clue.id}/reporter").status_code in (404, 405)


def test_the_liaison_inside_the_reported_unit_may_not_read_a_referred_clues_reporter(
    app, client, world
):
    liaison = world.accounts[("reported_unit", Role.LIAISON)]
    response = client.get(
        f"/api/v1/clues/{world.clue.id}/reporter",
        query_string={"reason": REASON},
        headers=world.cast.as_(liaison),
    )
    assert response.status_code == 403
    assert response.json["error"] == "reporter_conflict"
