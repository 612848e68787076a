"""Role × page access for the console: every page answers 200 to the roles it serves, a 403
page to the others and a redirect to the sign-in page to nobody signed in; every form refuses
the roles it does not serve. The page list comes from the URL map, so a new console page
without a case here fails this file."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.org.models import Role
from clues.models import Referral
from tests.console.helpers import csrf_of, sign_in

ALL = frozenset(Role)
HANDLING = frozenset({Role.SCREENER, Role.VERIFIER, Role.SUPERIOR, Role.LIAISON, Role.ADMIN})
STATS = frozenset({Role.SCREENER, Role.SUPERIOR, Role.ANALYST, Role.ADMIN, Role.LIAISON})
PUBLIC = {"GET /console/login", "POST /console/login", "GET /console/<path:unknown>"}

# GET rule → who may open it
PAGES: dict[str, frozenset[Role]] = {
    "/console/": ALL,
    "/console/queue": frozenset({Role.SCREENER, Role.ADMIN}),
    "/console/clues": HANDLING,
    "/console/clues/export.xlsx": frozenset({Role.SCREENER, Role.SUPERIOR, Role.ADMIN}),
    "/console/verification": frozenset({Role.VERIFIER}),
    "/console/review": frozenset({Role.SUPERIOR}),
    "/console/clues/<int:clue_id>": HANDLING,
    "/console/clues/<int:clue_id>/photos/<int:photo_id>": HANDLING,
    "/console/referrals": frozenset({Role.LIAISON, Role.ADMIN}),
    "/console/referrals/<int:referral_id>": frozenset({Role.LIAISON, Role.ADMIN}),
    "/console/letters": ALL,
    "/console/letters/<int:letter_id>": ALL,
    "/console/letters/<int:letter_id>/pdf": ALL,
    "/console/dashboard": STATS,
    "/console/inbox": ALL,
    "/console/officers": frozenset({Role.ANALYST, Role.ADMIN}),
    "/console/officers.xlsx": frozenset({Role.ANALYST, Role.ADMIN}),
    "/console/exports/ledger.xlsx": frozenset({Role.SCREENER, Role.SUPERIOR, Role.ADMIN}),
    "/console/exports/ranking.xlsx": frozenset(
        {Role.SCREENER, Role.SUPERIOR, Role.ANALYST, Role.ADMIN}
    ),
    "/console/password": ALL,
    "/console/qr": frozenset({Role.ADMIN}),
    "/console/qr/export-jobs/<int:export_id>": frozenset({Role.ADMIN}),
    "/console/qr/export-jobs/<int:export_id>/file": frozenset({Role.ADMIN}),
    "/console/admin/units": frozenset({Role.ADMIN}),
    "/console/admin/units/<int:unit_id>": frozenset({Role.ADMIN}),
    "/console/admin/staff": frozenset({Role.ADMIN}),
    "/console/admin/staff/<int:staff_id>": frozenset({Role.ADMIN}),
    "/console/admin/calendar": frozenset({Role.ADMIN}),
    "/console/admin/questionnaires": frozenset({Role.ADMIN}),
    "/console/admin/audit": frozenset({Role.ADMIN}),
    "/console/qr/<int:code_id>/code.svg": frozenset({Role.ADMIN}),
    "/console/qr/<int:code_id>/poster.png": frozenset({Role.ADMIN}),
}
# POST rule → who may send it (what the service then allows is the transition table's say)
FORMS: dict[str, frozenset[Role]] = {
    "/console/logout": ALL,
    "/console/queue/batch": frozenset({Role.SCREENER, Role.ADMIN}),
    "/console/review/batch": frozenset({Role.SUPERIOR}),
    "/console/inbox/<int:item_id>/open": ALL,
    "/console/inbox/read-all": ALL,
    "/console/password": ALL,
    "/console/clues/<int:clue_id>/<action_name>": frozenset(
        {Role.SCREENER, Role.VERIFIER, Role.SUPERIOR}
    ),
    "/console/clues/<int:clue_id>/reporter": frozenset({Role.SCREENER, Role.LIAISON, Role.ADMIN}),
    "/console/referrals/<int:referral_id>/receive": frozenset({Role.LIAISON}),
    "/console/referrals/<int:referral_id>/conclude": frozenset({Role.LIAISON}),
    "/console/letters/<int:letter_id>/response": frozenset({Role.VERIFIER, Role.SUPERIOR}),
    "/console/qr": frozenset({Role.ADMIN}),
    "/console/qr/<int:code_id>/revoke": frozenset({Role.ADMIN}),
    "/console/qr/<int:code_id>/rotate": frozenset({Role.ADMIN}),
    "/console/qr/export-jobs": frozenset({Role.ADMIN}),
    "/console/admin/units": frozenset({Role.ADMIN}),
    "/console/admin/units/<int:unit_id>/<any(deactivate, activate):change>": frozenset(
        {Role.ADMIN}
    ),
    "/console/admin/units/<int:unit_id>/officers": frozenset({Role.ADMIN}),
    "/console/admin/units/<int:unit_id>/officers/import": frozenset({Role.ADMIN}),
    "/console/admin/officers/<int:officer_id>/<any(deactivate, activate):change>": frozenset(
        {Role.ADMIN}
    ),
    "/console/admin/staff": frozenset({Role.ADMIN}),
    "/console/admin/staff/import": frozenset({Role.ADMIN}),
    "/console/admin/staff/<int:staff_id>": frozenset({Role.ADMIN}),
    "/console/admin/staff/<int:staff_id>/password": frozenset({Role.ADMIN}),
    "/console/admin/staff/<int:staff_id>/<any(deactivate, activate):change>": frozenset(
        {Role.ADMIN}
    ),
    "/console/admin/questionnaires": frozenset({Role.ADMIN}),
}


def console_rules(app) -> dict[str, frozenset[Role] | None]:
    found = {}
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("console."):
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found[f"{method} {rule.rule}"] = getattr(view, "console_roles", None)
    return found


def test_every_console_endpoint_has_a_rule_and_a_case(app):
    rules = console_rules(app)
    assert sorted(k for k, roles in rules.items() if roles is None) == sorted(PUBLIC)
    expected = {
        **{f"GET {p}": r for p, r in PAGES.items()},
        **{f"POST {p}": r for p, r in FORMS.items()},
    }
    assert {k: v for k, v in rules.items() if v is not None} == expected


@dataclass
class World:
    clue_id: int
    photo_id: int
    letter_id: int
    referral_id: int
    code_id: int
    unit_id: int
    staff_id: int
    officer_id: int
    export_id: int

    def fill(self, rule: str) -> str:
        return (
            rule.replace("<int:clue_id>", str(self.clue_id))
            .replace("<int:photo_id>", str(self.photo_id))
            .replace("<int:letter_id>", str(self.letter_id))
            .replace("<int:referral_id>", str(self.referral_id))
            .replace("<int:code_id>", str(self.code_id))
            .replace("<int:item_id>", "1")
            .replace("<int:export_id>", str(self.export_id))
            .replace("<int:unit_id>", str(self.unit_id))
            .replace("<int:staff_id>", str(self.staff_id))
            .replace("<int:officer_id>", str(self.officer_id))
            .replace("<any(deactivate, activate):change>", "deactivate")
            .replace("<action_name>", "approve")
        )


@pytest.fixture
def world(app, cast) -> World:
    """A clue at station A that every handling role sees: closed, referred, with a photo; a
    supervision letter to station A."""
    clue = cast.file()
    photo_id = cast.attach_photo(clue.tracking_no)
    cast.close_and_refer(clue.id)
    letter_id = cast.supervise("console-access", clue_id=clue.id)
    with app.app_context():
        referral_id = db.session.scalar(sa.select(Referral.id).where(Referral.clue_id == clue.id))
        db.session.commit()
    return World(
        clue.id,
        photo_id,
        letter_id,
        referral_id,
        cast.code.id,
        cast.units["station_a"].id,
        cast.verifier.id,
        cast.officer.id,
        _finished_export(app, cast),
    )


def _finished_export(app, cast) -> int:
    """A poster export of station A that has finished, its file on disk."""
    from qr.jobs import ExportJob, ExportStatus, export_dir, file_path

    with app.app_context():
        export = ExportJob(
            unit_id=cast.units["station_a"].id,
            format="pdf",
            status=ExportStatus.DONE,
            total=1,
            done=1,
            requested_by=cast.admin.id,
            file_name="qr-test.pdf",
        )
        db.session.add(export)
        db.session.commit()
        export_dir(app).mkdir(parents=True, exist_ok=True)
        file_path(export).write_bytes(b"%PDF-1.4\n%test\n")
        return export.id


def _staff(cast):
    return {
        Role.SCREENER: cast.screener,
        Role.VERIFIER: cast.verifier,
        Role.SUPERIOR: cast.superior,
        Role.LIAISON: cast.liaison,
        Role.ANALYST: cast.analyst,
        Role.ADMIN: cast.admin,
    }


def test_every_page_for_every_role(app, cast, world):
    desks = {role: sign_in(app, account) for role, account in _staff(cast).items()}
    for rule, allowed in PAGES.items():
        path = world.fill(rule)
        for role, desk in desks.items():
            response = desk.get(path)
            if role not in allowed:
                assert response.status_code == 403, (path, role, response.status_code)
                assert "无权访问" in response.get_data(as_text=True)
            elif rule == "/console/":
                assert response.status_code == 303, (path, role)
            else:
                assert response.status_code == 200, (path, role, response.status_code)
        anonymous = app.test_client().get(path)
        assert anonymous.status_code == 303, path
        assert anonymous.headers["Location"].startswith("/console/login?next=/console/")


def test_every_form_refuses_the_roles_it_does_not_serve(app, cast, world):
    desks = {role: sign_in(app, account) for role, account in _staff(cast).items()}
    for rule, allowed in FORMS.items():
        path = world.fill(rule)
        for role, desk in desks.items():
            if role in allowed:
                continue
            response = desk.post(path)
            assert response.status_code == 403, (path, role, response.status_code)
        # Nobody signed in: with the login page's token, to the sign-in page; without, 400.
        visitor = app.test_client()
        token = csrf_of(visitor.get("/console/login"))
        response = visitor.post(path, data={"csrf": token})
        assert response.status_code == 303 and response.headers["Location"] == "/console/login"
        assert app.test_client().post(path).status_code == 400
    # Nothing changed.
    with app.app_context():
        referral = db.session.get(Referral, world.referral_id)
        assert referral.status.value == "pending"
    assert cast.detail(world.clue_id)["status"] == "closed"


def test_console_pages_stay_out_of_the_api_document(app, client):
    spec = client.get("/openapi.json")
    assert spec.status_code == 200
    assert not [path for path in spec.json["paths"] if path.startswith("/console")]
    assert "/api/v1/clues/{clue_id}" in spec.json["paths"]
