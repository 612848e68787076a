"""Role × endpoint access: every staff endpoint answers 401 without a token, 403 to a role it
does not serve or for an object outside the caller's subtree, and works inside it.

The endpoint list comes from the URL map: a new endpoint without an access rule, or without a
case in CASES below, fails this file.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from PIL import Image

from app import create_app
from app.org.models import Role
from tests.conftest import base_config
from tests.evaluations.helpers import h5_resident, use_sandbox
from tests.factories import PASSWORD, bearer, make_city, make_officer, make_staff, make_unit
from tests.qr.factories import make_code

HANDLING_ROLES = frozenset({Role.SCREENER, Role.VERIFIER, Role.SUPERIOR, Role.LIAISON, Role.ADMIN})
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
    "POST /q/<token>/report",  # the H5 report form: the device's own identity, like POST /q
    "GET /q/me",  # the browser's own device identity (cookie), nobody else's
    # The tracking link is the key (192 random bits); /t takes the number and its 查询码.
    "GET /t",
    "POST /t",
    "GET /t/<secret>",
    "POST /t/<secret>/rerating",
    "POST /t/<secret>/appeal",
    "GET /api/v1/track/<secret>",
    "POST /integrations/12345/callback",  # authenticated by the platform's signature
    "GET /api/v1/errors",  # the error catalogue
    # 晒在网上: only with PUBLIC_DISCLOSURE=1 (404 otherwise), anonymised (stats/public.py)
    "GET /public",
    "GET /api/v1/public/ranking",
    "GET /privacy",  # 个人信息处理规则, for every resident
    "GET /metrics",  # Prometheus: configured networks or the token, else 403 (app/metrics.py)
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
    "POST /api/v1/me/clues/<tracking_no>/withdraw",
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


def clue_in(
    w: World,
    unit_key: str,
    status: str,
    *,
    category: str = "buck_passing",
    assign_to: str | None = None,
) -> int:
    """A fresh clue about `unit_key`'s unit, driven through the services to `status`:
    submitted, accepted, assigned, verifying, extension (verifying with a pending request),
    reviewing, closed, appealed, referred (closed with a referral), received (referral signed
    for). It is verified by its own unit unless `assign_to` names another."""
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
            lambda: service.assign_clue(
                clue,
                staff=staff[Role.SCREENER],
                unit=db.session.get(Unit, w.units[assign_to or unit_key].id),
            ),
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
    return photo_row(w.app, clue_id)


def photo_row(app, clue_id: int) -> int:
    """A photo of the clue, written straight to the database."""
    from app.extensions import db
    from clues.models import CluePhoto

    with app.app_context():
        photo = CluePhoto(clue_id=clue_id, sha256="0" * 64, content=b"\xff\xd8", width=1, height=1)
        db.session.add(photo)
        db.session.commit()
        return photo.id


def rectification_of(w: World, unit_key: str) -> int:
    """A fresh bad rating of the unit's code, sent to the unit for 差评整改."""
    from app.clock import local_date
    from app.extensions import db
    from clues.practice_models import BadRatingRectification
    from clues.practices import open_rectifications
    from evaluations.identity import Channel, Resident
    from evaluations.models import Evaluation
    from evaluations.questionnaire import current_questionnaire

    code = w.code_in if unit_key == "station_a" else w.code_out
    with w.app.app_context():
        resident = Resident(identity_hash=f"{next(_serial):064d}", channel=Channel.H5)
        db.session.add(resident)
        db.session.flush()
        rating = Evaluation(
            resident_id=resident.id,
            qr_code_id=code.id,
            unit_id=w.units[unit_key].id,
            questionnaire_id=current_questionnaire(w.units[unit_key].kind).id,
            level=1,
            channel=Channel.H5,
            local_day=local_date(),
        )
        db.session.add(rating)
        db.session.flush()
        open_rectifications()
        db.session.commit()
        return db.session.scalars(
            sa.select(BadRatingRectification.id).where(
                BadRatingRectification.evaluation_id == rating.id
            )
        ).one()


def interview_of(w: World, unit_key: str) -> int:
    """A fresh 约谈 record of the unit, not yet followed up."""
    from datetime import date, timedelta

    from app.clock import utcnow
    from app.extensions import db
    from clues.practice_models import Interview

    with w.app.app_context():
        interview = Interview(
            unit_id=w.units[unit_key].id,
            held_on=date.today(),
            interviewer="王强",
            interviewee="赵刚",
            commitments="整改",
            follow_up_due_at=utcnow() + timedelta(days=20),
            recorded_by=w.staff_in.id,
        )
        db.session.add(interview)
        db.session.commit()
        return interview.id


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


def export_job_of(w: World, unit: str) -> int:
    """A running poster export of the unit, written straight to the database."""
    from app.extensions import db
    from qr.jobs import ExportJob, ExportStatus

    with w.app.app_context():
        export = ExportJob(
            unit_id=w.units[unit].id,
            format="zip",
            requested_by=w.staff_in.id,
            total=1,
            status=ExportStatus.RUNNING,
        )
        db.session.add(export)
        db.session.commit()
        return export.id


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
            "role": "verifier",
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
    "GET /api/v1/calendar/status": Case(lambda w: "/api/v1/calendar/status"),
    "POST /api/v1/calendar/schedules": Case(
        lambda w: "/api/v1/calendar/schedules",
        status=201,
        body=lambda w: {
            "year": 2030,
            "holidays": [{"name": "元旦", "from": "2030-01-01", "to": "2030-01-01"}],
        },
    ),
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
    "POST /api/v1/qr-codes/export-jobs": Case(
        lambda w: "/api/v1/qr-codes/export-jobs",
        status=202,
        body=lambda w: {"unit_id": w.units["station_a"].id, "format": "zip"},
    ),
    "GET /api/v1/qr-codes/export-jobs/<int:export_id>": Case(
        lambda w: f"/api/v1/qr-codes/export-jobs/{export_job_of(w, 'station_a')}",
        lambda w: f"/api/v1/qr-codes/export-jobs/{export_job_of(w, 'station_b')}",
    ),
    "GET /api/v1/qr-codes/export-jobs/<int:export_id>/file": Case(
        lambda w: f"/api/v1/qr-codes/export-jobs/{export_job_of(w, 'station_a')}/file",
        lambda w: f"/api/v1/qr-codes/export-jobs/{export_job_of(w, 'station_b')}/file",
        status=409,  # still running: refused with its progress
    ),
    "GET /api/v1/clues": Case(lambda w: "/api/v1/clues"),
    "GET /api/v1/clues/<int:clue_id>": _seen(),
    "GET /api/v1/clues/<int:clue_id>/events": _seen("/events"),
    "GET /api/v1/clues/<int:clue_id>/reporter": _seen("/reporter?reason=回访核实"),
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
    "POST /api/v1/clues/<int:clue_id>/reassign": _act(
        "assigned",
        "reassign",
        lambda w: {"unit_id": w.units["district_a"].id, "reason": "改由区里核查"},
    ),
    "POST /api/v1/clues/<int:clue_id>/send_back": _act(
        "verifying", "send_back", lambda w: {"reason": "不属于本单位"}
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
    "GET /api/v1/clues/<int:clue_id>/callbacks": _seen("/callbacks"),
    "POST /api/v1/clues/<int:clue_id>/callbacks": Case(
        lambda w: f"/api/v1/clues/{w.clue_in}/callbacks",
        lambda w: f"/api/v1/clues/{w.clue_out}/callbacks",
        body=lambda w: {"result": "satisfied", "note": "电话回访"},
        status=201,
    ),
    "PUT /api/v1/clues/<int:clue_id>/public-summary": Case(
        lambda w: f"/api/v1/clues/{w.clue_in}/public-summary",
        lambda w: f"/api/v1/clues/{w.clue_out}/public-summary",
        body=lambda w: {"text": "经核查属实，已整改"},
    ),
    "GET /api/v1/bad-ratings": Case(lambda w: "/api/v1/bad-ratings"),
    "POST /api/v1/bad-ratings/<int:rectification_id>/rectify": Case(
        lambda w: f"/api/v1/bad-ratings/{rectification_of(w, 'station_a')}/rectify",
        lambda w: f"/api/v1/bad-ratings/{rectification_of(w, 'station_b')}/rectify",
        body=lambda w: {"measures": "已核实整改", "callback_result": "satisfied"},
    ),
    "GET /api/v1/interviews": Case(lambda w: "/api/v1/interviews"),
    "POST /api/v1/interviews": Case(
        lambda w: "/api/v1/interviews",
        status=201,
        body=lambda w: {
            "unit_id": w.units["station_a"].id,
            "held_on": "2026-01-05",
            "interviewer": "王强",
            "interviewee": "赵刚",
            "commitments": "整改",
        },
    ),
    "POST /api/v1/interviews/<int:interview_id>/follow-up": Case(
        lambda w: f"/api/v1/interviews/{interview_of(w, 'station_a')}/follow-up",
        lambda w: f"/api/v1/interviews/{interview_of(w, 'station_b')}/follow-up",
        body=lambda w: {"note": "已落实"},
    ),
    "GET /api/v1/stats/topics": _unit_query("/api/v1/stats/topics", "station"),
    "GET /api/v1/stats/annual": _unit_query("/api/v1/stats/annual", "station"),
    "GET /api/v1/exports/annual.xlsx": _unit_query("/api/v1/exports/annual.xlsx", "station"),
    "GET /api/v1/briefs/daily": Case(lambda w: "/api/v1/briefs/daily"),
    "GET /api/v1/briefs/daily.pdf": Case(lambda w: "/api/v1/briefs/daily.pdf"),
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


# ---------------------------------------------------------------- object-level access (IDOR)

CLUE_ENDPOINTS = sorted(
    key for key in STAFF_ENDPOINTS if key.split(" ", 1)[1].startswith("/api/v1/clues/<int:")
)
# Resident endpoints that name a clue by its tracking number.
MY_CLUE_ENDPOINTS = sorted(key for key in RESIDENT if "<tracking_no>" in key)


def _fill(rule: str, **values: Any) -> str:
    """A rule with its arguments filled in; arguments not given become 1."""
    return re.sub(
        r"<(?:\w+:)?(\w+)>", lambda m: str(values.get(m.group(1), 1)), rule.split(" ", 1)[1]
    )


def _clue_state(app, clue_id: int) -> tuple[str, int]:
    """A clue's status and how many events it has: what any action would change."""
    from app.extensions import db
    from clues.models import Clue, ClueEvent

    with app.app_context():
        clue = db.session.get(Clue, clue_id)
        events = db.session.scalar(sa.select(sa.func.count()).where(ClueEvent.clue_id == clue_id))
        return clue.status.value, events


def _tracking_no(app, clue_id: int) -> str:
    from app.extensions import db
    from clues.models import Clue

    with app.app_context():
        return db.session.get(Clue, clue_id).tracking_no


def test_staff_endpoints_refuse_resident_tokens(app, client):
    resident = h5_resident(client)
    for endpoint in STAFF_ENDPOINTS:
        method = endpoint.split(" ", 1)[0]
        response = client.open(_fill(endpoint), method=method, headers=resident, json={})
        assert (response.status_code, response.json["error"]) == (401, "token_invalid"), endpoint


def test_a_verifier_reaches_no_clue_their_unit_was_not_given(app, client, world):
    """A verifier of station A, on every clue endpoint (read and action), for a clue station
    B verifies, a clue about station A that station B verifies (the reported unit does not
    verify itself) and a clue about station A not yet assigned: 403, nothing shown, nothing
    changed. Station B's verifier reads the first two (they are there to be found)."""
    verifier_a = make_staff(app, Role.VERIFIER, world.units["station_a"])
    verifier_b = make_staff(app, Role.VERIFIER, world.units["station_b"])
    clues = {
        "verified by B": clue_in(world, "station_b", "verifying"),
        "about A, verified by B": clue_in(world, "station_a", "verifying", assign_to="station_b"),
        "about A, not yet assigned": clue_in(world, "station_a", "submitted"),
    }
    for name, clue_id in clues.items():
        photo_id = photo_of(world, clue_id)
        before = _clue_state(app, clue_id)
        tracking_no = _tracking_no(app, clue_id)
        if name != "about A, not yet assigned":
            seen = client.get(f"/api/v1/clues/{clue_id}", headers=bearer(app, verifier_b))
            assert seen.status_code == 200, (name, seen.json)
        for endpoint in CLUE_ENDPOINTS:
            method = endpoint.split(" ", 1)[0]
            path = _fill(endpoint, clue_id=clue_id, photo_id=photo_id)
            response = client.open(path, method=method, headers=bearer(app, verifier_a), json={})
            expected = "out_of_scope" if Role.VERIFIER in ENDPOINTS[endpoint].roles else "forbidden"
            assert (response.status_code, response.json["error"]) == (403, expected), (
                name,
                endpoint,
                response.json,
            )
            assert tracking_no not in response.text and "矩阵测试线索内容" not in response.text
        assert _clue_state(app, clue_id) == before, name
        listed = client.get("/api/v1/clues", headers=bearer(app, verifier_a)).json["items"]
        assert tracking_no not in [item["tracking_no"] for item in listed], name


# How each resident endpoint about one clue is called, from the status the clue needs for
# its owner to succeed; a new endpoint without a case fails the file.
MY_CLUE_CASES: dict[str, tuple[str, Callable[[], dict], int]] = {
    "GET /api/v1/me/clues/<tracking_no>": ("submitted", lambda: {}, 200),
    "POST /api/v1/me/clues/<tracking_no>/appeal": (
        "closed",
        lambda: {"json": {"reason": "处理结果不公正，要求复核"}},
        200,
    ),
    "POST /api/v1/me/clues/<tracking_no>/rerating": (
        "closed",
        lambda: {"json": {"level": 2, "resolved": False}},
        200,
    ),
    "POST /api/v1/me/clues/<tracking_no>/withdraw": ("submitted", lambda: {"json": {}}, 200),
    "POST /api/v1/me/clues/<tracking_no>/photos": (
        "submitted",
        lambda: {
            "data": {"photo": (io.BytesIO(_jpeg()), "p.jpg")},
            "content_type": "multipart/form-data",
        },
        201,
    ),
}


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def test_every_resident_clue_endpoint_has_a_case():
    assert sorted(MY_CLUE_CASES) == MY_CLUE_ENDPOINTS


@pytest.mark.parametrize("endpoint", MY_CLUE_ENDPOINTS)
def test_another_residents_clue_is_not_found_on_every_resident_endpoint(app, client, endpoint):
    """Another resident asking for, appealing, re-rating or adding a photo to someone's
    clue gets exactly the answer an unknown tracking number gets (404: existence does not
    leak) and changes nothing: the owner then does the same successfully."""
    from tests.clues.factories import make_cast

    status, request_args, owner_status = MY_CLUE_CASES[endpoint]
    method = endpoint.split(" ", 1)[0]
    cast = make_cast(app, client)
    clue = cast.drive(status)
    stranger = h5_resident(client)

    def call(tracking_no: str, headers: dict[str, str]):
        path = _fill(endpoint, tracking_no=tracking_no)
        return client.open(path, method=method, headers=headers, **request_args())

    unknown = call("XQ20200101-9999", stranger)
    for who in (stranger, h5_resident(client)):
        refused = call(clue.tracking_no, who)
        assert refused.status_code == 404, refused.json
        assert (refused.json["error"], refused.json["message"]) == (
            unknown.json["error"],
            unknown.json["message"],
        )
        assert refused.json["details"] == {"tracking_no": clue.tracking_no}
    assert client.get("/api/v1/me/clues", headers=stranger).json["items"] == []
    owner = call(clue.tracking_no, cast.resident)
    assert owner.status_code == owner_status, owner.json


# Where each role sits when it is also the officer a clue accuses (where it would otherwise
# see the clue).
ACCUSED_HOME = {
    Role.SCREENER: "city",
    Role.VERIFIER: "station_a",
    Role.SUPERIOR: "district_a",
    Role.LIAISON: "city",
    Role.ADMIN: "city",
}


@pytest.mark.parametrize("role", list(ACCUSED_HOME), ids=lambda r: r.value)
def test_the_accused_officers_own_account_never_reaches_the_clue(app, client, role):
    """Whatever their role, the staff account of the officer a clue is about cannot list,
    read, act on, export or read the reporter of that clue, in the API or the console; a
    colleague in the same role and place can."""
    from app.extensions import db
    from app.org.models import StaffAccount
    from clues.models import Referral
    from tests.clues.factories import make_cast
    from tests.console.helpers import login_form

    cast = make_cast(app, client)
    clue = cast.drive("closed")  # about officer 李明 of station A, substantiated
    cast.step(cast.screener, clue.id, "refer", to="closed")
    accused = make_staff(app, role, cast.units[ACCUSED_HOME[role]])
    with app.app_context():
        db.session.get(StaffAccount, accused.id).officer_id = cast.officer.id
        referral_id = db.session.scalar(sa.select(Referral.id).where(Referral.clue_id == clue.id))
        db.session.commit()
    photo_id = photo_row(app, clue.id)
    colleague = getattr(cast, role.value)
    before = _clue_state(app, clue.id)

    def visible_to(who) -> dict[str, bool]:
        headers = bearer(app, who)
        found = {
            "list": clue.tracking_no in client.get("/api/v1/clues", headers=headers).text,
            "detail": client.get(f"/api/v1/clues/{clue.id}", headers=headers).status_code == 200,
        }
        if role in (Role.LIAISON, Role.ADMIN):
            referrals = client.get("/api/v1/referrals", headers=headers).json["items"]
            found["referrals"] = clue.id in [item["clue_id"] for item in referrals]
            found["referral"] = (
                client.get(f"/api/v1/referrals/{referral_id}", headers=headers).status_code == 200
            )
        if role in (Role.SCREENER, Role.SUPERIOR, Role.ADMIN):
            found["ledger"] = clue.tracking_no in client.get(
                "/api/v1/exports/clues.csv", headers=headers
            ).get_data(as_text=True)
        console = app.test_client()
        assert login_form(console, who.username, PASSWORD).status_code == 303
        found["console"] = console.get(f"/console/clues/{clue.id}").status_code == 200
        return found

    assert all(visible_to(colleague).values()), visible_to(colleague)
    assert not any(visible_to(accused).values()), visible_to(accused)
    for endpoint in CLUE_ENDPOINTS:
        method = endpoint.split(" ", 1)[0]
        path = _fill(endpoint, clue_id=clue.id, photo_id=photo_id)
        response = client.open(path, method=method, headers=bearer(app, accused), json={})
        assert response.status_code == 403, (endpoint, response.json)
        assert response.json["error"] in ("out_of_scope", "forbidden"), endpoint
    assert _clue_state(app, clue.id) == before


def test_lists_and_files_never_include_another_subtrees_objects(app, client, world):
    """Staff of district A, every role: the clue, letter and referral lists and the ledger
    show station A's objects and never station B's; asking for B's unit by query is refused
    or empty; another's inbox item and another clue's photo are not found."""
    from app.extensions import db
    from notifications.models import InboxItem

    letter_a, letter_b = letter_of(world, "station_a"), letter_of(world, "station_b")
    no_in, no_out = _tracking_no(app, world.clue_in), _tracking_no(app, world.clue_out)
    referral_in = referral_of(world, world.clue_in)
    referral_out = referral_of(world, world.clue_out)
    unit_b = world.units["station_b"].id
    for role in Role:
        caller = make_staff(app, role, world.units["district_a"])
        headers = bearer(app, caller)

        def ids(path: str, key: str = "id", headers=headers) -> set[Any]:
            response = client.get(path, headers=headers)
            assert response.status_code == 200, (path, response.json)
            return {item[key] for item in response.json["items"]}

        letters = ids("/api/v1/letters")
        assert letter_a in letters and letter_b not in letters, role
        refused = client.get(f"/api/v1/letters?unit_id={unit_b}", headers=headers)
        assert (refused.status_code, refused.json["error"]) == (403, "out_of_scope"), role
        if role in HANDLING_ROLES:
            clues = ids("/api/v1/clues", "tracking_no")
            assert no_in in clues and no_out not in clues, role
            assert ids(f"/api/v1/clues?unit_id={unit_b}", "tracking_no") == set(), role
        if role in (Role.LIAISON, Role.ADMIN):
            referrals = ids("/api/v1/referrals")
            assert referral_in in referrals and referral_out not in referrals, role
        if role in (Role.SCREENER, Role.SUPERIOR, Role.ADMIN):
            ledger = client.get("/api/v1/exports/clues.csv", headers=headers)
            assert ledger.status_code == 200, role
            text = ledger.get_data(as_text=True)
            assert no_in in text and no_out not in text, role
    # Someone else's inbox item, someone else's photo under a clue one may see.
    owner, other = (make_staff(app, Role.SCREENER, world.units["district_a"]) for _ in range(2))
    item = inbox_item_for(world, owner)
    stolen = client.post(f"/api/v1/inbox/{item}/read", headers=bearer(app, other))
    assert stolen.status_code == 404, stolen.json
    with app.app_context():
        assert db.session.get(InboxItem, item).read_at is None
    screener = make_staff(app, Role.SCREENER, world.units["district_a"])
    photo = client.get(
        f"/api/v1/clues/{world.clue_in}/photos/{photo_of(world, world.clue_out)}",
        headers=bearer(app, screener),
    )
    assert photo.status_code == 404, photo.json


# Objects named in a body or a query rather than the path: (role, method, path, body) →
# the refusal. Station B is outside district A, where every caller sits.
def _body_references(w: World) -> dict[str, tuple[Role, str, str, dict | None, tuple]]:
    b = w.units["station_b"].id
    query = f"unit_id={b}"
    denied = (403, "out_of_scope")
    submitted = clue_in(w, "station_a", "submitted")
    return {
        "merge into B's clue": (
            Role.SCREENER,
            "POST",
            f"/api/v1/clues/{submitted}/merge",
            {"master_id": clue_in(w, "station_b", "accepted")},
            denied,
        ),
        # Scope before state: a closed-to-merging master of B must not say so with a 409.
        "merge into B's rejected clue": (
            Role.SCREENER,
            "POST",
            f"/api/v1/clues/{submitted}/merge",
            {"master_id": _rejected(w, "station_b")},
            denied,
        ),
        "assign to B": (
            Role.SCREENER,
            "POST",
            f"/api/v1/clues/{clue_in(w, 'station_a', 'accepted')}/assign",
            {"unit_id": b},
            denied,
        ),
        "assign B's verifier": (
            Role.SCREENER,
            "POST",
            f"/api/v1/clues/{clue_in(w, 'station_a', 'accepted')}/assign",
            {"unit_id": w.units["station_a"].id, "assignee_id": w.staff_out.id},
            (422, "validation_error"),
        ),
        "register a clue about B": (
            Role.SCREENER,
            "POST",
            "/api/v1/clues",
            {
                "source": "survey",
                "category": "conduct",
                "unit_id": b,
                "description": "民意测评反映的问题",
            },
            denied,
        ),
        "issue a code for B": (Role.ADMIN, "POST", "/api/v1/qr-codes", {"unit_id": b}, denied),
        "move a staff member to B": (
            Role.ADMIN,
            "PATCH",
            f"/api/v1/staff/{w.staff_in.id}",
            {"unit_id": b},
            denied,
        ),
        "create staff at B": (
            Role.ADMIN,
            "POST",
            "/api/v1/staff",
            {
                "username": f"idor{next(_serial)}",
                "password": "Matrix2026",
                "display_name": "越权",
                "role": "admin",
                "unit_id": b,
            },
            denied,
        ),
        "move an officer to B": (
            Role.ADMIN,
            "PATCH",
            f"/api/v1/officers/{w.officer_in.id}",
            {"unit_id": b},
            denied,
        ),
        "move a unit under B": (
            Role.ADMIN,
            "PATCH",
            f"/api/v1/units/{w.leaf_in.id}",
            {"parent_id": b},
            denied,
        ),
        "statistics of B": (Role.ANALYST, "GET", f"/api/v1/stats/overview?{query}", None, denied),
        "ledger of B": (Role.SCREENER, "GET", f"/api/v1/exports/clues.csv?{query}", None, denied),
        "letters of B": (Role.VERIFIER, "GET", f"/api/v1/letters?{query}", None, denied),
        "codes of B": (Role.ADMIN, "GET", f"/api/v1/qr-codes?{query}", None, denied),
    }


def _rejected(w: World, unit_key: str) -> int:
    from app.extensions import db
    from app.org.models import StaffAccount
    from clues import service
    from clues.models import RejectReason

    clue_id = clue_in(w, unit_key, "submitted")
    with w.app.app_context():
        screener = db.session.get(StaffAccount, w.clue_staff[Role.SCREENER].id)
        service.reject_clue(
            service.get_clue(clue_id),
            staff=screener,
            reason=RejectReason.NO_SUBSTANCE,
            message="内容不具体",
        )
        db.session.commit()
    return clue_id


def test_objects_named_in_bodies_and_queries_are_scoped_too(app, client, world):
    for name, (role, method, path, body, refusal) in _body_references(world).items():
        caller = make_staff(app, role, world.units["district_a"])
        response = client.open(path, method=method, headers=bearer(app, caller), json=body)
        assert (response.status_code, response.json["error"]) == refusal, (name, response.json)
