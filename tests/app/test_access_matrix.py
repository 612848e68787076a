"""Role × endpoint access: every staff endpoint answers 401 without a token, 403 to a role it
does not serve or for an object outside the caller's subtree, and works inside it.

The endpoint list comes from the URL map: a new endpoint without an access rule, or without a
case in CASES below, fails this file.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

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
    "POST /integrations/12345/callback",  # authenticated by the platform's signature
}
# Endpoints for residents (their own bearer token); staff tokens are refused there.
RESIDENT = {
    "POST /api/v1/evaluations",
    "GET /api/v1/me/clues",
    "GET /api/v1/me/clues/<tracking_no>",
    "POST /api/v1/me/clues",
    "POST /api/v1/me/clues/<tracking_no>/appeal",
    "POST /api/v1/me/clues/<tracking_no>/photos",
    "POST /api/v1/me/clues/<tracking_no>/rerating",
    "GET /api/v1/me/subscriptions",
    "POST /api/v1/me/subscriptions",
}

_serial = itertools.count(1)


@dataclass
class World:
    """District A is the callers' subtree; district B is outside it."""

    app: Any
    units: dict[str, Any]
    officer_in: Any
    officer_out: Any
    code_in: Any
    code_out: Any
    staff_in: Any
    staff_out: Any
    leaf_in: Any
    leaf_out: Any
    clue_staff: dict[Any, Any] = field(default_factory=dict)
    clue_in: int = 0  # referred (so every handling role sees it), about station A
    clue_out: int = 0  # the same about station B


@dataclass(frozen=True)
class Case:
    path_in: Callable[..., str]
    path_out: Callable[[World], str] | None = None
    body: Callable[[World], dict] | None = None
    status: int = 200
    # path_in takes (world, caller): for objects that belong to the caller (their inbox)
    per_caller: bool = False


def _unit_body(w: World) -> dict:
    return {
        "code": f"M{next(_serial)}",
        "name": "矩阵单位",
        "kind": "police",
        "parent_id": w.units["district_a"].id,
    }


def clue_in(w: World, unit_key: str, status: str, *, category: str = "conduct") -> int:
    """A fresh clue about `unit_key`'s unit, driven through the services to `status`:
    submitted, accepted, assigned, verifying, extension (verifying with a pending request),
    reviewing, closed, appealed, referred (closed with a referral), received (referral signed
    for)."""
    from app.extensions import db
    from app.org.models import StaffAccount, Unit
    from clues import service
    from clues.models import ClueSource, Outcome
    from clues.referrals import get_referral, receive_referral, refer_clue
    from evaluations.identity import Channel, Resident
    from evaluations.questionnaire import ClueCategory

    order = ["submitted", "accepted", "assigned", "verifying", "reviewing", "closed"]
    with w.app.app_context():
        unit = db.session.get(Unit, w.units[unit_key].id)
        staff = {
            role: db.session.get(StaffAccount, account.id) for role, account in w.clue_staff.items()
        }
        resident = Resident(identity_hash=f"{next(_serial):064d}", channel=Channel.H5)
        db.session.add(resident)
        db.session.flush()
        clue = service.file_clue(
            source=ClueSource.DIRECT,
            category=ClueCategory(category),
            unit=unit,
            officer=None,
            description="矩阵测试线索内容",
            reporter=service.ReporterIn(resident.id, "anonymous"),
        )
        target = {
            "extension": "verifying",
            "appealed": "closed",
            "referred": "closed",
            "received": "closed",
        }.get(status, status)
        steps = [
            lambda: service.accept_clue(clue, staff=staff[Role.SCREENER]),
            lambda: service.assign_clue(clue, staff=staff[Role.SCREENER], unit=unit),
            lambda: service.start_verification(clue, staff=staff[Role.VERIFIER]),
            lambda: service.submit_report(
                clue,
                staff=staff[Role.VERIFIER],
                outcome=Outcome.SUBSTANTIATED,
                findings="属实",
                involves_misconduct=True,
            ),
            lambda: service.approve_report(clue, staff=staff[Role.SUPERIOR]),
        ]
        for step in steps[: order.index(target)]:
            step()
        if status == "extension":
            service.request_extension(clue, staff=staff[Role.VERIFIER], days=2, reason="复杂")
        if status == "appealed":
            service.appeal_clue(clue, resident_id=resident.id, reason="不满意")
        if status in ("referred", "received"):
            referral = refer_clue(clue, staff=staff[Role.SCREENER])
            if status == "received":
                receive_referral(get_referral(referral.id), staff=staff[Role.LIAISON])
        db.session.commit()
        return clue.id


def inbox_item_for(w: World, caller: Any) -> int:
    from app.extensions import db
    from notifications.models import InboxItem

    with w.app.app_context():
        item = InboxItem(staff_id=caller.id, kind="test", title="矩阵", dedupe_key="matrix")
        db.session.add(item)
        db.session.commit()
        return item.id


def letter_of(w: World, unit_key: str) -> int:
    """A fresh, unanswered 督办函 to `unit_key`'s unit."""
    from app.extensions import db
    from notifications.letters import LetterSpec, issue_letters
    from notifications.models import LetterKind

    with w.app.app_context():
        (letter,) = issue_letters(
            LetterKind.SUPERVISION,
            [
                LetterSpec(
                    dedupe_key=f"matrix:{next(_serial)}",
                    unit_id=w.units[unit_key].id,
                    title="关于逾期问题线索的督办函",
                    body="矩阵测试单位：\n　　矩阵测试。",
                )
            ],
        )
        db.session.commit()
        return letter.id


def _letter(suffix: str = "", body: Callable[[World], dict] | None = None) -> Case:
    return Case(
        lambda w: f"/api/v1/letters/{letter_of(w, 'station_a')}{suffix}",
        lambda w: f"/api/v1/letters/{letter_of(w, 'station_b')}{suffix}",
        body=body,
    )


def referral_of(w: World, clue_id: int) -> int:
    from app.extensions import db
    from clues.models import Referral

    with w.app.app_context():
        return db.session.scalars(sa.select(Referral.id).where(Referral.clue_id == clue_id)).one()


def photo_of(w: World, clue_id: int) -> int:
    from app.extensions import db
    from clues.models import CluePhoto

    with w.app.app_context():
        photo = CluePhoto(clue_id=clue_id, sha256="0" * 64, content=b"\xff\xd8", width=1, height=1)
        db.session.add(photo)
        db.session.commit()
        return photo.id


def _act(status: str, action: str, body=None, **options) -> Case:
    return Case(
        lambda w: f"/api/v1/clues/{clue_in(w, 'station_a', status, **options)}/{action}",
        lambda w: f"/api/v1/clues/{clue_in(w, 'station_b', status, **options)}/{action}",
        body=body,
    )


def _unit_query(path: str, level: str) -> Case:
    return Case(
        lambda w: f"{path}?unit_id={w.units[f'{level}_a'].id}",
        lambda w: f"{path}?unit_id={w.units[f'{level}_b'].id}",
    )


def _seen(suffix: str = "") -> Case:
    return Case(
        lambda w: f"/api/v1/clues/{w.clue_in}{suffix}",
        lambda w: f"/api/v1/clues/{w.clue_out}{suffix}",
    )


CASES: dict[str, Case] = {
    "GET /api/v1/units": Case(lambda w: "/api/v1/units"),
    "POST /api/v1/units": Case(lambda w: "/api/v1/units", body=_unit_body, status=201),
    "GET /api/v1/units/<int:unit_id>": Case(
        lambda w: f"/api/v1/units/{w.units['station_a'].id}",
        lambda w: f"/api/v1/units/{w.units['station_b'].id}",
    ),
    "PATCH /api/v1/units/<int:unit_id>": Case(
        lambda w: f"/api/v1/units/{w.units['station_a'].id}",
        lambda w: f"/api/v1/units/{w.units['station_b'].id}",
        body=lambda w: {"address": "新址"},
    ),
    "POST /api/v1/units/<int:unit_id>/deactivate": Case(
        lambda w: f"/api/v1/units/{w.leaf_in.id}/deactivate",
        lambda w: f"/api/v1/units/{w.leaf_out.id}/deactivate",
    ),
    "POST /api/v1/units/<int:unit_id>/activate": Case(
        lambda w: f"/api/v1/units/{w.leaf_in.id}/activate",
        lambda w: f"/api/v1/units/{w.leaf_out.id}/activate",
    ),
    "GET /api/v1/units/<int:unit_id>/officers": Case(
        lambda w: f"/api/v1/units/{w.units['station_a'].id}/officers",
        lambda w: f"/api/v1/units/{w.units['station_b'].id}/officers",
    ),
    "POST /api/v1/units/<int:unit_id>/officers": Case(
        lambda w: f"/api/v1/units/{w.units['station_a'].id}/officers",
        lambda w: f"/api/v1/units/{w.units['station_b'].id}/officers",
        body=lambda w: {"name": "赵六", "staff_no": f"N{next(_serial)}"},
        status=201,
    ),
    "GET /api/v1/officers/<int:officer_id>": Case(
        lambda w: f"/api/v1/officers/{w.officer_in.id}",
        lambda w: f"/api/v1/officers/{w.officer_out.id}",
    ),
    "PATCH /api/v1/officers/<int:officer_id>": Case(
        lambda w: f"/api/v1/officers/{w.officer_in.id}",
        lambda w: f"/api/v1/officers/{w.officer_out.id}",
        body=lambda w: {"position": "所长"},
    ),
    "POST /api/v1/officers/<int:officer_id>/deactivate": Case(
        lambda w: f"/api/v1/officers/{w.officer_in.id}/deactivate",
        lambda w: f"/api/v1/officers/{w.officer_out.id}/deactivate",
    ),
    "POST /api/v1/officers/<int:officer_id>/activate": Case(
        lambda w: f"/api/v1/officers/{w.officer_in.id}/activate",
        lambda w: f"/api/v1/officers/{w.officer_out.id}/activate",
    ),
    "GET /api/v1/staff": Case(lambda w: "/api/v1/staff"),
    "POST /api/v1/staff": Case(
        lambda w: "/api/v1/staff",
        status=201,
        body=lambda w: {
            "username": f"matrix{next(_serial)}",
            "password": "Matrix2026",
            "display_name": "矩阵",
            "role": "analyst",
            "unit_id": w.units["station_a"].id,
        },
    ),
    "GET /api/v1/staff/me": Case(lambda w: "/api/v1/staff/me"),
    "POST /api/v1/staff/me/password": Case(
        lambda w: "/api/v1/staff/me/password",
        body=lambda w: {"current_password": PASSWORD, "new_password": "Changed2026"},
    ),
    "GET /api/v1/staff/<int:staff_id>": Case(
        lambda w: f"/api/v1/staff/{w.staff_in.id}", lambda w: f"/api/v1/staff/{w.staff_out.id}"
    ),
    "PATCH /api/v1/staff/<int:staff_id>": Case(
        lambda w: f"/api/v1/staff/{w.staff_in.id}",
        lambda w: f"/api/v1/staff/{w.staff_out.id}",
        body=lambda w: {"display_name": "改名"},
    ),
    "POST /api/v1/staff/<int:staff_id>/deactivate": Case(
        lambda w: f"/api/v1/staff/{w.staff_in.id}/deactivate",
        lambda w: f"/api/v1/staff/{w.staff_out.id}/deactivate",
    ),
    "POST /api/v1/staff/<int:staff_id>/activate": Case(
        lambda w: f"/api/v1/staff/{w.staff_in.id}/activate",
        lambda w: f"/api/v1/staff/{w.staff_out.id}/activate",
    ),
    "POST /api/v1/staff/<int:staff_id>/password": Case(
        lambda w: f"/api/v1/staff/{w.staff_in.id}/password",
        lambda w: f"/api/v1/staff/{w.staff_out.id}/password",
        body=lambda w: {"new_password": "Reset2026x"},
    ),
    "DELETE /api/v1/staff/session": Case(lambda w: "/api/v1/staff/session", status=204),
    "GET /api/v1/audit": Case(lambda w: "/api/v1/audit"),
    "GET /api/v1/calendar": Case(lambda w: "/api/v1/calendar?year=2026"),
    "GET /api/v1/calendar/add-working-days": Case(
        lambda w: "/api/v1/calendar/add-working-days?start=2026-02-13&days=2"
    ),
    "PUT /api/v1/calendar/<day>": Case(
        lambda w: "/api/v1/calendar/2026-12-31",
        body=lambda w: {"is_working": False, "name": "测试放假"},
    ),
    "DELETE /api/v1/calendar/<day>": Case(lambda w: "/api/v1/calendar/2026-10-01", status=204),
    "POST /api/v1/staff/me/wechat": Case(
        lambda w: "/api/v1/staff/me/wechat", body=lambda w: {"code": f"staff{next(_serial)}~1"}
    ),
    "POST /api/v1/qr-codes": Case(
        lambda w: "/api/v1/qr-codes",
        status=201,
        body=lambda w: {"unit_id": w.units["station_a"].id, "label": f"窗口{next(_serial)}"},
    ),
    "GET /api/v1/qr-codes": Case(lambda w: "/api/v1/qr-codes"),
    "GET /api/v1/qr-codes/<int:code_id>": Case(
        lambda w: f"/api/v1/qr-codes/{w.code_in.id}", lambda w: f"/api/v1/qr-codes/{w.code_out.id}"
    ),
    "POST /api/v1/qr-codes/<int:code_id>/revoke": Case(
        lambda w: f"/api/v1/qr-codes/{w.code_in.id}/revoke",
        lambda w: f"/api/v1/qr-codes/{w.code_out.id}/revoke",
        body=lambda w: {},
    ),
    "POST /api/v1/qr-codes/<int:code_id>/rotate": Case(
        lambda w: f"/api/v1/qr-codes/{w.code_in.id}/rotate",
        lambda w: f"/api/v1/qr-codes/{w.code_out.id}/rotate",
        status=201,
    ),
    "POST /api/v1/units/<int:unit_id>/qr-codes/rotate": Case(
        lambda w: f"/api/v1/units/{w.units['station_a'].id}/qr-codes/rotate",
        lambda w: f"/api/v1/units/{w.units['station_b'].id}/qr-codes/rotate",
        status=201,
    ),
    "GET /api/v1/qr-codes/<int:code_id>/image": Case(
        lambda w: f"/api/v1/qr-codes/{w.code_in.id}/image",
        lambda w: f"/api/v1/qr-codes/{w.code_out.id}/image",
    ),
    "GET /api/v1/qr-codes/<int:code_id>/poster": Case(
        lambda w: f"/api/v1/qr-codes/{w.code_in.id}/poster",
        lambda w: f"/api/v1/qr-codes/{w.code_out.id}/poster",
    ),
    "GET /api/v1/qr-codes/<int:code_id>/wxacode": Case(
        lambda w: f"/api/v1/qr-codes/{w.code_in.id}/wxacode",
        lambda w: f"/api/v1/qr-codes/{w.code_out.id}/wxacode",
    ),
    "GET /api/v1/qr-codes/<int:code_id>/scans": Case(
        lambda w: f"/api/v1/qr-codes/{w.code_in.id}/scans?since=2026-01-01&until=2026-12-31",
        lambda w: f"/api/v1/qr-codes/{w.code_out.id}/scans?since=2026-01-01&until=2026-12-31",
    ),
    "GET /api/v1/qr-codes/export": Case(
        lambda w: f"/api/v1/qr-codes/export?unit_id={w.units['station_a'].id}&format=zip",
        lambda w: f"/api/v1/qr-codes/export?unit_id={w.units['station_b'].id}&format=zip",
    ),
    "GET /api/v1/clues": Case(lambda w: "/api/v1/clues"),
    "GET /api/v1/clues/<int:clue_id>": _seen(),
    "GET /api/v1/clues/<int:clue_id>/events": _seen("/events"),
    "GET /api/v1/clues/<int:clue_id>/reporter": _seen("/reporter"),
    "GET /api/v1/clues/<int:clue_id>/duplicates": _seen("/duplicates"),
    "GET /api/v1/clues/<int:clue_id>/photos": _seen("/photos"),
    "GET /api/v1/clues/<int:clue_id>/photos/<int:photo_id>": Case(
        lambda w: f"/api/v1/clues/{w.clue_in}/photos/{photo_of(w, w.clue_in)}",
        lambda w: f"/api/v1/clues/{w.clue_out}/photos/{photo_of(w, w.clue_out)}",
    ),
    "POST /api/v1/clues": Case(
        lambda w: "/api/v1/clues",
        status=201,
        body=lambda w: {
            "source": "survey",
            "category": "conduct",
            "unit_id": w.units["station_a"].id,
            "description": "民意测评反映的问题",
        },
    ),
    "POST /api/v1/clues/<int:clue_id>/accept": _act("submitted", "accept", lambda w: {}),
    "POST /api/v1/clues/<int:clue_id>/reject": _act(
        "submitted", "reject", lambda w: {"reason": "no_substance", "message": "内容不具体"}
    ),
    "POST /api/v1/clues/<int:clue_id>/merge": _act(
        "submitted", "merge", lambda w: {"master_id": clue_in(w, "station_a", "accepted")}
    ),
    "POST /api/v1/clues/<int:clue_id>/forward_12345": _act(
        "submitted", "forward_12345", lambda w: {}, category="livelihood"
    ),
    "POST /api/v1/clues/<int:clue_id>/assign": _act(
        "accepted", "assign", lambda w: {"unit_id": w.units["station_a"].id}
    ),
    "POST /api/v1/clues/<int:clue_id>/start": _act("assigned", "start", lambda w: {}),
    "POST /api/v1/clues/<int:clue_id>/submit_report": _act(
        "verifying", "submit_report", lambda w: {"outcome": "unfounded", "findings": "查无实据"}
    ),
    "POST /api/v1/clues/<int:clue_id>/request_extension": _act(
        "verifying", "request_extension", lambda w: {"days": 3, "reason": "需要调取监控"}
    ),
    "POST /api/v1/clues/<int:clue_id>/approve_extension": _act(
        "extension", "approve_extension", lambda w: {}
    ),
    "POST /api/v1/clues/<int:clue_id>/deny_extension": _act(
        "extension", "deny_extension", lambda w: {}
    ),
    "POST /api/v1/clues/<int:clue_id>/approve": _act("reviewing", "approve", lambda w: {}),
    "POST /api/v1/clues/<int:clue_id>/return": _act(
        "reviewing", "return", lambda w: {"reason": "证据不足"}
    ),
    "POST /api/v1/clues/<int:clue_id>/reopen": _act("appealed", "reopen", lambda w: {}),
    "POST /api/v1/clues/<int:clue_id>/uphold": _act(
        "appealed", "uphold", lambda w: {"note": "原结论事实清楚"}
    ),
    "POST /api/v1/clues/<int:clue_id>/refer": _act("closed", "refer", lambda w: {}),
    "GET /api/v1/referrals": Case(lambda w: "/api/v1/referrals"),
    "GET /api/v1/inbox": Case(lambda w: "/api/v1/inbox"),
    "GET /api/v1/stats/overview": _unit_query("/api/v1/stats/overview", "station"),
    "GET /api/v1/stats/ranking": _unit_query("/api/v1/stats/ranking", "district"),
    "GET /api/v1/stats/officers": _unit_query("/api/v1/stats/officers", "station"),
    "GET /api/v1/exports/clues.xlsx": _unit_query("/api/v1/exports/clues.xlsx", "station"),
    "GET /api/v1/exports/clues.csv": _unit_query("/api/v1/exports/clues.csv", "station"),
    "GET /api/v1/exports/ranking.xlsx": _unit_query("/api/v1/exports/ranking.xlsx", "district"),
    "GET /api/v1/exports/ranking.csv": _unit_query("/api/v1/exports/ranking.csv", "district"),
    "GET /api/v1/letters": Case(lambda w: "/api/v1/letters"),
    "GET /api/v1/letters/<int:letter_id>": _letter(),
    "GET /api/v1/letters/<int:letter_id>/pdf": _letter("/pdf"),
    "POST /api/v1/letters/<int:letter_id>/response": _letter(
        "/response", lambda w: {"response": "已按要求书面说明逾期原因"}
    ),
    "POST /api/v1/inbox/<int:item_id>/read": Case(
        lambda w, caller: f"/api/v1/inbox/{inbox_item_for(w, caller)}/read", per_caller=True
    ),
    "GET /api/v1/referrals/<int:referral_id>": Case(
        lambda w: f"/api/v1/referrals/{referral_of(w, w.clue_in)}",
        lambda w: f"/api/v1/referrals/{referral_of(w, w.clue_out)}",
    ),
    "POST /api/v1/referrals/<int:referral_id>/receive": Case(
        lambda w: (
            f"/api/v1/referrals/{referral_of(w, clue_in(w, 'station_a', 'referred'))}/receive"
        ),
        lambda w: (
            f"/api/v1/referrals/{referral_of(w, clue_in(w, 'station_b', 'referred'))}/receive"
        ),
    ),
    "POST /api/v1/referrals/<int:referral_id>/conclude": Case(
        lambda w: (
            f"/api/v1/referrals/{referral_of(w, clue_in(w, 'station_a', 'received'))}/conclude"
        ),
        lambda w: (
            f"/api/v1/referrals/{referral_of(w, clue_in(w, 'station_b', 'received'))}/conclude"
        ),
        body=lambda w: {"persons_handled": 1, "measures": "诫勉谈话"},
    ),
}


def discover_endpoints() -> dict[str, Any]:
    """Every METHOD + rule of the app with its view's access rule ("resident" for resident
    endpoints, None when public)."""
    app = create_app(base_config("sqlite://"))
    found = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith("console."):
            continue  # cookie-session pages: tests/console/test_access.py
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found[f"{method} {rule.rule}"] = getattr(view, "access_rule", None) or (
                "resident" if getattr(view, "resident_only", False) else None
            )
    return found


ENDPOINTS = discover_endpoints()
STAFF_ENDPOINTS = sorted(
    key for key, rule in ENDPOINTS.items() if rule is not None and rule != "resident"
)


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
    assert client.open(path, method=method, json={}, headers=bearer(app, staff)).status_code == 401


def test_every_staff_endpoint_has_a_case():
    assert sorted(set(STAFF_ENDPOINTS) - set(CASES)) == []
    assert sorted(set(CASES) - set(STAFF_ENDPOINTS)) == [], "CASES 里有已不存在的接口"


@pytest.fixture
def world(app, wechat_sandbox) -> World:
    use_sandbox(app, wechat_sandbox)
    units = make_city(app)
    world = World(
        app=app,
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
    world.clue_staff = {
        role: make_staff(app, role, units["city"])
        for role in (Role.SCREENER, Role.VERIFIER, Role.SUPERIOR, Role.LIAISON)
    }
    world.clue_in = clue_in(world, "station_a", "referred")
    world.clue_out = clue_in(world, "station_b", "referred")
    return world


@pytest.mark.parametrize("endpoint", STAFF_ENDPOINTS)
def test_access(app, client, world, endpoint):
    method, _ = endpoint.split(" ", 1)
    case, rule = CASES[endpoint], ENDPOINTS[endpoint]

    def call(path: str, headers: dict[str, str] | None) -> Any:
        body = case.body(world) if case.body else None
        return client.open(path, method=method, headers=headers or {}, json=body)

    def path_for(caller: Any) -> str:
        return case.path_in(world, caller) if case.per_caller else case.path_in(world)

    anonymous = call(path_for(world.staff_in), None)
    assert anonymous.status_code == 401, anonymous.json
    for role in Role:
        caller = make_staff(app, role, world.units["district_a"])
        if role not in rule.roles:
            denied = call(path_for(caller), bearer(app, caller))
            assert (denied.status_code, denied.json["error"]) == (403, "forbidden"), role
            continue
        if case.path_out is not None:
            outside = call(case.path_out(world), bearer(app, caller))
            assert (outside.status_code, outside.json["error"]) == (403, "out_of_scope"), role
        inside = call(path_for(caller), bearer(app, caller))
        assert inside.status_code == case.status, (role, inside.get_json())
