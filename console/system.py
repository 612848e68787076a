"""The administrator's system pages: the working-day calendar of a year, questionnaire
versions and publishing a new one, the audit log with filters."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

import sqlalchemy as sa
from flask import Response, flash, request, url_for
from pydantic import Field, StringConstraints, ValidationError

from app.audit import AuditLog, audit_visible_to, record_audit
from app.clock import local_date, local_day_end, local_day_start
from app.extensions import db
from app.org.models import Role, UnitKind
from app.schemas import Schema, form_errors, validate_request
from app.workdays import load_calendar, special_days
from console.forms import describe
from console.web import bp, console_view, current_staff, page, page_number, see_other
from evaluations.questionnaire import LEVELS, Questionnaire, publish_questionnaire

PER_PAGE = 100
AUDIT_FILTERS = ("action", "object_type", "object_id", "actor", "from", "to")


@bp.get("/admin/calendar")
@console_view(Role.ADMIN)
def admin_calendar() -> Response:
    """A year's days that differ from Monday–Friday (holidays, adjusted working days) and
    its count of working days; the calendar is loaded from the official schedule."""
    raw = request.args.get("year", "")
    year = int(raw) if raw.isdecimal() and 2000 <= int(raw) <= 2100 else local_date().year
    calendar = load_calendar()
    first = date(year, 1, 1)
    working = sum(
        calendar.is_working_day(first + timedelta(days=n))
        for n in range((date(year, 12, 31) - first).days + 1)
    )
    return page(
        "admin_calendar.html",
        year=year,
        days=special_days(year),
        working_days=working,
        loaded=year in calendar.years,
    )


# ---------------------------------------------------------------- questionnaires

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]


class QuestionnaireIn(Schema):
    """A new version as the form sends it: dimensions and each level's reasons, one a line."""

    dimensions: list[Line] = Field(min_length=1, max_length=8)
    reasons: dict[str, list[Line]]


def _kind(raw: str | None) -> UnitKind | None:
    return UnitKind(raw) if raw in {k.value for k in UnitKind} else None


@bp.get("/admin/questionnaires")
@console_view(Role.ADMIN)
def admin_questionnaires() -> Response:
    """Every version, the current one of each kind first, and the form for a new one."""
    versions = db.session.scalars(
        sa.select(Questionnaire).order_by(Questionnaire.unit_kind, Questionnaire.version.desc())
    ).all()
    kind = _kind(request.args.get("kind"))
    stored = kind.value if kind else ""
    current = next((v for v in versions if v.is_current and v.unit_kind == stored), None)
    base = current or next((v for v in versions if v.is_current and v.unit_kind == ""), None)
    return page(
        "admin_questionnaires.html",
        versions=versions,
        kinds=list(UnitKind),
        kind=kind,
        base=base,
        levels=LEVELS,
        kind_label={k.value: k.label for k in UnitKind} | {"": "默认（各类单位）"},
        errors=[],
    )


@bp.post("/admin/questionnaires")
@console_view(Role.ADMIN)
def admin_questionnaire_publish() -> Response:
    """Publish a new version for a unit kind (or the default); earlier ratings keep theirs."""
    form = request.form
    kind = _kind(form.get("kind"))
    back = url_for("console.admin_questionnaires", kind=kind.value if kind else None)
    lines = {
        "dimensions": [x for x in form.get("dimensions", "").splitlines() if x.strip()],
        "reasons": {
            str(level): [x for x in form.get(f"reasons_{level}", "").splitlines() if x.strip()]
            for level in LEVELS
        },
    }
    try:
        body = validate_request(QuestionnaireIn, lines)
    except ValidationError as exc:
        flash("；".join(describe(form_errors(exc), {"dimensions": "评价维度"})), "error")
        return see_other(back)
    old = {d["label"]: d["key"] for d in _current_dimensions(kind)}
    dimensions = [
        {"key": old.get(label, f"d{n}"), "label": label}
        for n, label in enumerate(body.dimensions, 1)
    ]
    row = publish_questionnaire(kind=kind, dimensions=dimensions, reasons=body.reasons)
    record_audit(
        "questionnaire.publish",
        object_type="questionnaire",
        object_id=row.id,
        unit_id=None,
        details={"kind": row.unit_kind, "version": row.version},
    )
    db.session.commit()
    flash(f"已发布第 {row.version} 版问卷，新的评价按此版填写。", "ok")
    return see_other(back)


def _current_dimensions(kind: UnitKind | None) -> list[dict[str, str]]:
    stored = kind.value if kind else ""
    row = db.session.scalar(
        sa.select(Questionnaire)
        .where(Questionnaire.is_current, Questionnaire.unit_kind.in_([stored, ""]))
        .order_by(Questionnaire.unit_kind.desc())
    )
    return list(row.dimensions) if row else []


# ---------------------------------------------------------------- audit log


@bp.get("/admin/audit")
@console_view(Role.ADMIN)
def admin_audit() -> Response:
    """The audit trail in scope, newest first, filtered by action, object, who and dates."""
    args = request.args
    stmt = sa.select(AuditLog).where(audit_visible_to(current_staff()))
    wanted = {
        name: args.get(name, "").strip()[:64]
        for name in ("action", "object_type", "object_id", "actor", "from", "to")
    }
    if wanted["action"]:
        stmt = stmt.where(AuditLog.action.startswith(wanted["action"], autoescape=True))
    if wanted["object_type"]:
        stmt = stmt.where(AuditLog.object_type == wanted["object_type"])
    if wanted["object_id"]:
        stmt = stmt.where(AuditLog.object_id == wanted["object_id"])
    if wanted["actor"]:
        stmt = stmt.where(AuditLog.actor_name.contains(wanted["actor"], autoescape=True))
    for name, bound in (("from", "since"), ("to", "until")):
        try:
            day = date.fromisoformat(wanted[name]) if wanted[name] else None
        except ValueError:
            day, wanted[name] = None, ""
        if day is not None and bound == "since":
            stmt = stmt.where(AuditLog.created_at >= local_day_start(day))
        elif day is not None:
            stmt = stmt.where(AuditLog.created_at <= local_day_end(day))
    listing = db.paginate(
        stmt.order_by(AuditLog.id.desc()), page=page_number(), per_page=PER_PAGE, error_out=False
    )
    actions = db.session.scalars(
        sa.select(AuditLog.action).distinct().order_by(AuditLog.action).limit(200)
    ).all()
    return page(
        "admin_audit.html",
        listing=listing,
        wanted=wanted,
        query={k: v for k, v in wanted.items() if v},
        actions=actions,
    )
