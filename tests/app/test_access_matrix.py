"""Role × endpoint access: every staff endpoint answers 401 without a token, 403 to a role it
does not serve or for an object outside the caller's subtree, and works inside it.

The endpoint list comes from the URL map: a new endpoint without an access rule, or without a
case in CASES below, fails this file.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from app import create_app
from app.org.models import Role
from tests.conftest import base_config
from tests.factories import PASSWORD, bearer, make_city, make_officer, make_staff, make_unit

# Endpoints anyone may call (no staff rule by design).
PUBLIC = {
    "GET /healthz",
    "GET /openapi.json",
    "GET /docs",
    "GET /docs/oauth2-redirect",
    "GET /docs-assets/<path:filename>",
    "POST /api/v1/staff/session",
}

_serial = itertools.count(1)


@dataclass
class World:
    """District A is the callers' subtree; district B is outside it."""

    units: dict[str, Any]
    officer_in: Any
    officer_out: Any
    staff_in: Any
    staff_out: Any
    leaf_in: Any
    leaf_out: Any


@dataclass(frozen=True)
class Case:
    path_in: Callable[[World], str]
    path_out: Callable[[World], str] | None = None
    body: Callable[[World], dict] | None = None
    status: int = 200


def _unit_body(w: World) -> dict:
    return {"code": f"M{next(_serial)}", "name": "矩阵单位", "kind": "police",
            "parent_id": w.units["district_a"].id}


CASES: dict[str, Case] = {
    "GET /api/v1/units": Case(lambda w: "/api/v1/units"),
    "POST /api/v1/units": Case(lambda w: "/api/v1/units", body=_unit_body, status=201),
    "GET /api/v1/units/<int:unit_id>": Case(
        lambda w: f"/api/v1/units/{w.units['station_a'].id}",
        lambda w: f"/api/v1/units/{w.units['station_b'].id}"),
    "PATCH /api/v1/units/<int:unit_id>": Case(
        lambda w: f"/api/v1/units/{w.units['station_a'].id}",
        lambda w: f"/api/v1/units/{w.units['station_b'].id}", body=lambda w: {"address": "新址"}),
    "POST /api/v1/units/<int:unit_id>/deactivate": Case(
        lambda w: f"/api/v1/units/{w.leaf_in.id}/deactivate",
        lambda w: f"/api/v1/units/{w.leaf_out.id}/deactivate"),
    "POST /api/v1/units/<int:unit_id>/activate": Case(
        lambda w: f"/api/v1/units/{w.leaf_in.id}/activate",
        lambda w: f"/api/v1/units/{w.leaf_out.id}/activate"),
    "GET /api/v1/units/<int:unit_id>/officers": Case(
        lambda w: f"/api/v1/units/{w.units['station_a'].id}/officers",
        lambda w: f"/api/v1/units/{w.units['station_b'].id}/officers"),
    "POST /api/v1/units/<int:unit_id>/officers": Case(
        lambda w: f"/api/v1/units/{w.units['station_a'].id}/officers",
        lambda w: f"/api/v1/units/{w.units['station_b'].id}/officers",
        body=lambda w: {"name": "赵六", "staff_no": f"N{next(_serial)}"}, status=201),
    "GET /api/v1/officers/<int:officer_id>": Case(
        lambda w: f"/api/v1/officers/{w.officer_in.id}",
        lambda w: f"/api/v1/officers/{w.officer_out.id}"),
    "PATCH /api/v1/officers/<int:officer_id>": Case(
        lambda w: f"/api/v1/officers/{w.officer_in.id}",
        lambda w: f"/api/v1/officers/{w.officer_out.id}", body=lambda w: {"position": "所长"}),
    "POST /api/v1/officers/<int:officer_id>/deactivate": Case(
        lambda w: f"/api/v1/officers/{w.officer_in.id}/deactivate",
        lambda w: f"/api/v1/officers/{w.officer_out.id}/deactivate"),
    "POST /api/v1/officers/<int:officer_id>/activate": Case(
        lambda w: f"/api/v1/officers/{w.officer_in.id}/activate",
        lambda w: f"/api/v1/officers/{w.officer_out.id}/activate"),
    "GET /api/v1/staff": Case(lambda w: "/api/v1/staff"),
    "POST /api/v1/staff": Case(
        lambda w: "/api/v1/staff", status=201,
        body=lambda w: {"username": f"matrix{next(_serial)}", "password": "Matrix2026",
                        "display_name": "矩阵", "role": "analyst",
                        "unit_id": w.units["station_a"].id}),
    "GET /api/v1/staff/me": Case(lambda w: "/api/v1/staff/me"),
    "POST /api/v1/staff/me/password": Case(
        lambda w: "/api/v1/staff/me/password",
        body=lambda w: {"current_password": PASSWORD, "new_password": "Changed2026"}),
    "GET /api/v1/staff/<int:staff_id>": Case(
        lambda w: f"/api/v1/staff/{w.staff_in.id}", lambda w: f"/api/v1/staff/{w.staff_out.id}"),
    "PATCH /api/v1/staff/<int:staff_id>": Case(
        lambda w: f"/api/v1/staff/{w.staff_in.id}", lambda w: f"/api/v1/staff/{w.staff_out.id}",
        body=lambda w: {"display_name": "改名"}),
    "POST /api/v1/staff/<int:staff_id>/deactivate": Case(
        lambda w: f"/api/v1/staff/{w.staff_in.id}/deactivate",
        lambda w: f"/api/v1/staff/{w.staff_out.id}/deactivate"),
    "POST /api/v1/staff/<int:staff_id>/activate": Case(
        lambda w: f"/api/v1/staff/{w.staff_in.id}/activate",
        lambda w: f"/api/v1/staff/{w.staff_out.id}/activate"),
    "POST /api/v1/staff/<int:staff_id>/password": Case(
        lambda w: f"/api/v1/staff/{w.staff_in.id}/password",
        lambda w: f"/api/v1/staff/{w.staff_out.id}/password",
        body=lambda w: {"new_password": "Reset2026x"}),
    "DELETE /api/v1/staff/session": Case(lambda w: "/api/v1/staff/session", status=204),
    "GET /api/v1/audit": Case(lambda w: "/api/v1/audit"),
    "GET /api/v1/calendar": Case(lambda w: "/api/v1/calendar?year=2026"),
    "GET /api/v1/calendar/add-working-days": Case(
        lambda w: "/api/v1/calendar/add-working-days?start=2026-02-13&days=2"),
    "PUT /api/v1/calendar/<day>": Case(
        lambda w: "/api/v1/calendar/2026-12-31",
        body=lambda w: {"is_working": False, "name": "测试放假"}),
    "DELETE /api/v1/calendar/<day>": Case(lambda w: "/api/v1/calendar/2026-10-01", status=204),
}


def discover_endpoints() -> dict[str, Any]:
    """Every METHOD + rule of the app with its view's access rule (None when public)."""
    app = create_app(base_config("sqlite://"))
    found = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found[f"{method} {rule.rule}"] = getattr(view, "access_rule", None)
    return found


ENDPOINTS = discover_endpoints()
STAFF_ENDPOINTS = sorted(key for key, rule in ENDPOINTS.items() if rule is not None)


def test_every_endpoint_is_public_by_design_or_has_a_rule():
    unruled = sorted(key for key, rule in ENDPOINTS.items() if rule is None and key not in PUBLIC)
    assert unruled == [], f"这些接口没有访问规则：{unruled}"


def test_every_staff_endpoint_has_a_case():
    assert sorted(set(STAFF_ENDPOINTS) - set(CASES)) == []
    assert sorted(set(CASES) - set(STAFF_ENDPOINTS)) == [], "CASES 里有已不存在的接口"


@pytest.fixture
def world(app) -> World:
    units = make_city(app)
    return World(
        units=units,
        officer_in=make_officer(app, units["station_a"]),
        officer_out=make_officer(app, units["station_b"]),
        staff_in=make_staff(app, Role.VERIFIER, units["station_a"]),
        staff_out=make_staff(app, Role.VERIFIER, units["station_b"]),
        leaf_in=make_unit(app, parent=units["station_a"]),
        leaf_out=make_unit(app, parent=units["station_b"]),
    )


@pytest.mark.parametrize("endpoint", STAFF_ENDPOINTS)
def test_access(app, client, world, endpoint):
    method, _ = endpoint.split(" ", 1)
    case, rule = CASES[endpoint], ENDPOINTS[endpoint]

    def call(path: str, headers: dict[str, str] | None) -> Any:
        body = case.body(world) if case.body else None
        return client.open(path, method=method, headers=headers or {}, json=body)

    anonymous = call(case.path_in(world), None)
    assert anonymous.status_code == 401, anonymous.json
    for role in Role:
        caller = make_staff(app, role, world.units["district_a"])
        if role not in rule.roles:
            denied = call(case.path_in(world), bearer(app, caller))
            assert (denied.status_code, denied.json["error"]) == (403, "forbidden"), role
            continue
        if case.path_out is not None:
            outside = call(case.path_out(world), bearer(app, caller))
            assert (outside.status_code, outside.json["error"]) == (403, "out_of_scope"), role
        inside = call(case.path_in(world), bearer(app, caller))
        assert inside.status_code == case.status, (role, inside.get_json())
