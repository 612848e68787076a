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
from tests.evaluations.helpers import use_sandbox
from tests.factories import PASSWORD, bearer, make_city, make_officer, make_staff, make_unit
from tests.qr.factories import make_code

# Endpoints anyone may call (no staff rule by design).
PUBLIC = {
    "GET /healthz",
    "GET /openapi.json",
    "GET /docs",
    "GET /docs/oauth2-redirect",
    "GET /docs-assets/<path:filename>",
    "POST /api/v1/staff/session",
    "GET /api/v1/scan/<token>",
    "POST /api/v1/auth/wechat",
    "POST /api/v1/auth/h5",
    "GET /q/<token>",
    "POST /q/<token>",
}
# Endpoints for residents (their own bearer token); staff tokens are refused there.
RESIDENT = {
    "POST /api/v1/evaluations",
}

_serial = itertools.count(1)


@dataclass
class World:
    """District A is the callers' subtree; district B is outside it."""

    units: dict[str, Any]
    officer_in: Any
    officer_out: Any
    code_in: Any
    code_out: Any
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
    "POST /api/v1/staff/me/wechat": Case(
        lambda w: "/api/v1/staff/me/wechat", body=lambda w: {"code": f"staff{next(_serial)}~1"}),
    "POST /api/v1/qr-codes": Case(
        lambda w: "/api/v1/qr-codes", status=201,
        body=lambda w: {"unit_id": w.units["station_a"].id, "label": f"窗口{next(_serial)}"}),
    "GET /api/v1/qr-codes": Case(lambda w: "/api/v1/qr-codes"),
    "GET /api/v1/qr-codes/<int:code_id>": Case(
        lambda w: f"/api/v1/qr-codes/{w.code_in.id}",
        lambda w: f"/api/v1/qr-codes/{w.code_out.id}"),
    "POST /api/v1/qr-codes/<int:code_id>/revoke": Case(
        lambda w: f"/api/v1/qr-codes/{w.code_in.id}/revoke",
        lambda w: f"/api/v1/qr-codes/{w.code_out.id}/revoke", body=lambda w: {}),
    "POST /api/v1/qr-codes/<int:code_id>/rotate": Case(
        lambda w: f"/api/v1/qr-codes/{w.code_in.id}/rotate",
        lambda w: f"/api/v1/qr-codes/{w.code_out.id}/rotate", status=201),
    "POST /api/v1/units/<int:unit_id>/qr-codes/rotate": Case(
        lambda w: f"/api/v1/units/{w.units['station_a'].id}/qr-codes/rotate",
        lambda w: f"/api/v1/units/{w.units['station_b'].id}/qr-codes/rotate", status=201),
    "GET /api/v1/qr-codes/<int:code_id>/image": Case(
        lambda w: f"/api/v1/qr-codes/{w.code_in.id}/image",
        lambda w: f"/api/v1/qr-codes/{w.code_out.id}/image"),
    "GET /api/v1/qr-codes/<int:code_id>/poster": Case(
        lambda w: f"/api/v1/qr-codes/{w.code_in.id}/poster",
        lambda w: f"/api/v1/qr-codes/{w.code_out.id}/poster"),
    "GET /api/v1/qr-codes/<int:code_id>/wxacode": Case(
        lambda w: f"/api/v1/qr-codes/{w.code_in.id}/wxacode",
        lambda w: f"/api/v1/qr-codes/{w.code_out.id}/wxacode"),
    "GET /api/v1/qr-codes/<int:code_id>/scans": Case(
        lambda w: f"/api/v1/qr-codes/{w.code_in.id}/scans?since=2026-01-01&until=2026-12-31",
        lambda w: f"/api/v1/qr-codes/{w.code_out.id}/scans?since=2026-01-01&until=2026-12-31"),
    "GET /api/v1/qr-codes/export": Case(
        lambda w: f"/api/v1/qr-codes/export?unit_id={w.units['station_a'].id}&format=zip",
        lambda w: f"/api/v1/qr-codes/export?unit_id={w.units['station_b'].id}&format=zip"),
}


def discover_endpoints() -> dict[str, Any]:
    """Every METHOD + rule of the app with its view's access rule ("resident" for resident
    endpoints, None when public)."""
    app = create_app(base_config("sqlite://"))
    found = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found[f"{method} {rule.rule}"] = getattr(view, "access_rule", None) or (
                "resident" if getattr(view, "resident_only", False) else None)
    return found


ENDPOINTS = discover_endpoints()
STAFF_ENDPOINTS = sorted(key for key, rule in ENDPOINTS.items()
                         if rule is not None and rule != "resident")


def test_every_endpoint_is_public_by_design_or_has_a_rule():
    unruled = sorted(key for key, rule in ENDPOINTS.items() if rule is None and key not in PUBLIC)
    assert unruled == [], f"这些接口没有访问规则：{unruled}"


def test_resident_endpoints_are_exactly_the_known_ones():
    assert {key for key, rule in ENDPOINTS.items() if rule == "resident"} == RESIDENT


@pytest.mark.parametrize("endpoint", sorted(RESIDENT))
def test_resident_endpoints_refuse_anonymous_and_staff(app, client, endpoint):
    method, path = endpoint.split(" ", 1)
    city = make_city(app)
    staff = make_staff(app, Role.ADMIN, city["city"])
    assert client.open(path, method=method, json={}).status_code == 401
    assert client.open(path, method=method, json={}, headers=bearer(app, staff)
                       ).status_code == 401


def test_every_staff_endpoint_has_a_case():
    assert sorted(set(STAFF_ENDPOINTS) - set(CASES)) == []
    assert sorted(set(CASES) - set(STAFF_ENDPOINTS)) == [], "CASES 里有已不存在的接口"


@pytest.fixture
def world(app, wechat_sandbox) -> World:
    use_sandbox(app, wechat_sandbox)
    units = make_city(app)
    return World(
        units=units,
        officer_in=make_officer(app, units["station_a"]),
        officer_out=make_officer(app, units["station_b"]),
        code_in=make_code(app, units["station_a"]),
        code_out=make_code(app, units["station_b"]),
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
