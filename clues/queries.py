"""The read layer of the clue workflow: the staff lists and detail, the resident's view.

Every front door (JSON API, console, resident pages) renders what these functions return, and
each reads in batches: a page of clues costs the same number of queries whatever its size.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app.clock import local_date, local_day_end, local_day_start, utcnow
from app.extensions import db
from app.org.models import Role, StaffAccount, Unit, subtree_ids
from app.workdays import load_calendar
from clues import service
from clues.actions import Offer, available_actions
from clues.models import (
    Appeal,
    Clue,
    ClueEvent,
    ClueReporter,
    ClueSource,
    ClueStage,
    ClueWarning,
    ExtensionRequest,
    Referral,
    VerificationReport,
)
from clues.states import Action, ClueStatus
from evaluations.questionnaire import ClueCategory

# Roles that screen: they see high-frequency warnings and duplicate suggestions.
SCREENING_ROLES = (Role.SCREENER, Role.ADMIN)

_CLUE_FIELDS = (
    "id",
    "tracking_no",
    "source",
    "status",
    "category",
    "unit",
    "officer",
    "description",
    "assigned_unit",
    "assignee_id",
    "due_at",
    "hotline_case_no",
    "is_overdue",
    "outcome",
    "persons_handled",
    "involves_misconduct",
    "reject_reason",
    "reporter_message",
    "master_id",
    "submitted_at",
    "accepted_at",
    "assigned_at",
    "verifying_at",
    "reviewing_at",
    "closed_at",
    "rerating_due_at",
    "self_verification_reason",
)


# ---------------------------------------------------------------- lists


@dataclass(frozen=True)
class ClueFilter:
    """What a staff list asks for; every field optional."""

    status: ClueStatus | None = None
    unit: Unit | None = None
    overdue: bool | None = None
    tracking_no: str = ""
    text: str = ""  # a substring of the description or of the tracking number
    category: ClueCategory | None = None
    source: ClueSource | None = None
    since: date | None = None
    until: date | None = None


def visible(staff: StaffAccount) -> sa.ColumnElement[bool]:
    """The clues in a staff member's scope (none for roles that handle no clues)."""
    condition = service.visible_to(staff)
    return condition if condition is not None else sa.false()


def clue_list(staff: StaffAccount, wanted: ClueFilter) -> sa.Select[tuple[Clue]]:
    """The clues in scope matching `wanted`, newest first, with what a row shows loaded."""
    stmt = sa.select(Clue).where(visible(staff))
    if wanted.status is not None:
        stmt = stmt.where(Clue.status == wanted.status)
    if wanted.unit is not None:
        stmt = stmt.where(Clue.unit_id.in_(subtree_ids(wanted.unit)))
    if wanted.overdue is not None:
        overdue = sa.and_(Clue.due_at.is_not(None), Clue.due_at < utcnow())
        stmt = stmt.where(overdue if wanted.overdue else sa.not_(overdue))
    if wanted.tracking_no:
        stmt = stmt.where(Clue.tracking_no == wanted.tracking_no.strip().upper())
    if wanted.text:
        text = wanted.text.strip()
        stmt = stmt.where(
            Clue.description.contains(text, autoescape=True)
            | Clue.tracking_no.contains(text.upper()[:20], autoescape=True)
        )
    if wanted.category is not None:
        stmt = stmt.where(Clue.category == wanted.category)
    if wanted.source is not None:
        stmt = stmt.where(Clue.source == wanted.source)
    if wanted.since is not None:
        stmt = stmt.where(Clue.submitted_at >= local_day_start(wanted.since))
    if wanted.until is not None:
        stmt = stmt.where(Clue.submitted_at <= local_day_end(wanted.until))
    return with_row_data(stmt.order_by(Clue.id.desc()))


def with_row_data(stmt: sa.Select[tuple[Clue]]) -> sa.Select[tuple[Clue]]:
    """Load what a list row shows in one go (units, officer, the handling unit)."""
    return stmt.options(selectinload(Clue.assigned_unit))


# ---------------------------------------------------------------- the staff view


@dataclass
class Related:
    """What belongs to a set of clues, read once for all of them."""

    stages: dict[int, ClueStage] = field(default_factory=dict)
    reports: dict[int, VerificationReport] = field(default_factory=dict)
    extensions: dict[int, list[ExtensionRequest]] = field(default_factory=dict)
    warnings: dict[int, list[ClueWarning]] = field(default_factory=dict)


def related(clue_ids: Sequence[int], *, with_warnings: bool) -> Related:
    """Open stages, latest reports, extension requests and (for screeners) warnings."""
    found = Related(extensions=defaultdict(list), warnings=defaultdict(list))
    if not clue_ids:
        return found
    for stage in db.session.scalars(
        sa.select(ClueStage)
        .where(ClueStage.clue_id.in_(clue_ids), ClueStage.finished_at.is_(None))
        .order_by(ClueStage.id)
    ):
        found.stages[stage.clue_id] = stage  # the latest open one wins
    for report in db.session.scalars(
        sa.select(VerificationReport)
        .where(VerificationReport.clue_id.in_(clue_ids))
        .order_by(VerificationReport.id)
    ):
        found.reports[report.clue_id] = report
    for request in db.session.scalars(
        sa.select(ExtensionRequest)
        .where(ExtensionRequest.clue_id.in_(clue_ids))
        .order_by(ExtensionRequest.id)
    ):
        found.extensions[request.clue_id].append(request)
    if with_warnings:
        found.warnings = warnings_by_clue(clue_ids)
    return found


def warnings_by_clue(clue_ids: Iterable[int]) -> dict[int, list[ClueWarning]]:
    """High-frequency warnings of these clues, by clue."""
    found: dict[int, list[ClueWarning]] = defaultdict(list)
    ids = list(clue_ids)
    if ids:
        for warning in db.session.scalars(
            sa.select(ClueWarning).where(ClueWarning.clue_id.in_(ids)).order_by(ClueWarning.id)
        ):
            found[warning.clue_id].append(warning)
    return found


def staff_views(clues: Sequence[Clue], staff: StaffAccount) -> list[dict[str, Any]]:
    """The staff view of each clue (never the reporter); warnings only for those who screen."""
    extra = related([c.id for c in clues], with_warnings=staff.role in SCREENING_ROLES)
    return [_staff_view(clue, extra, staff) for clue in clues]


def knows_the_minute(clue: Clue, staff: StaffAccount) -> bool:
    """Whether `staff` may know to the minute when a resident acted on `clue`: not verifiers
    (in or near the reported unit), not anyone working in the reported unit or below it —
    the minute matches a queue ticket or CCTV and so points at the reporter."""
    return knows_the_minute_under(clue.unit.path, staff)


def knows_the_minute_under(reported_path: str, staff: StaffAccount) -> bool:
    """knows_the_minute for a clue about the unit at `reported_path` (for bulk reads)."""
    return staff.role is not Role.VERIFIER and not staff.unit.path.startswith(reported_path)


def filing_moment(moment: datetime, staff: StaffAccount, clue: Clue) -> datetime:
    """When a resident acted on `clue`, as this staff member may know it (the day, or the
    moment itself; see knows_the_minute)."""
    if knows_the_minute(clue, staff):
        return moment
    return local_day_start(local_date(moment))


def warnings_for(clue: Clue, warnings: list[ClueWarning], staff: StaffAccount) -> list[ClueWarning]:
    """A repeat warning links clues by their reporter: only for those who may learn who
    reported (never for staff inside the reported unit)."""
    if service.sits_in_reported_unit(clue, staff) or service.recusal_refusal(clue, staff):
        return [w for w in warnings if w.kind != "repeat"]
    return warnings


def _staff_view(clue: Clue, extra: Related, staff: StaffAccount) -> dict[str, Any]:
    stage = extra.stages.get(clue.id)
    return {
        **{name: getattr(clue, name) for name in _CLUE_FIELDS},
        "submitted_at": filing_moment(clue.submitted_at, staff, clue),
        "status_label": clue.status.label,
        "category_label": clue.category.label,
        "stage": stage.stage.value if stage else None,
        "stage_unit_id": stage.unit_id if stage else None,
        "due_beyond_calendar": clue.due_at is not None and not load_calendar().covers(clue.due_at),
        "warnings": warnings_for(clue, extra.warnings.get(clue.id, []), staff),
        "report": extra.reports.get(clue.id),
        "extensions": extra.extensions.get(clue.id, []),
    }


@dataclass(frozen=True)
class EventView:
    """One step of a clue's trail as a staff member sees it."""

    id: int
    created_at: datetime
    actor_type: str
    actor_name: str
    role: str
    action: str
    from_status: str | None
    to_status: str
    note: str
    public_note: str
    details: dict[str, Any]


def staff_events(clue: Clue, staff: StaffAccount) -> list[EventView]:
    """The clue's immutable trail; a resident's steps dated to the day where the reader may
    not know the minute."""
    events = db.session.scalars(
        sa.select(ClueEvent).where(ClueEvent.clue_id == clue.id).order_by(ClueEvent.id)
    )
    return [
        EventView(
            id=e.id,
            created_at=e.created_at
            if e.actor_type == "staff"
            else filing_moment(e.created_at, staff, clue),
            actor_type=e.actor_type,
            actor_name=e.actor_name if e.actor_type == "staff" else "",
            role=e.role,
            action=e.action,
            from_status=e.from_status,
            to_status=e.to_status,
            note=e.note,
            public_note=e.public_note,
            details=e.details,
        )
        for e in events
    ]


def offers_body(offers: list[Offer]) -> list[dict[str, Any]]:
    return [
        {"action": o.action.value, "label": o.label, "enabled": o.enabled, "reason": o.reason}
        for o in offers
    ]


def staff_detail(clue: Clue, staff: StaffAccount) -> dict[str, Any]:
    """One clue for a staff member: the staff view plus the buttons they may press."""
    body = staff_views([clue], staff)[0]
    body["available_actions"] = offers_body(available_actions(clue, staff))
    return body


@dataclass(frozen=True)
class ClueContext:
    """Everything the console's clue page shows around the clue itself."""

    events: list[EventView]
    appeal: Appeal | None
    referral: Referral | None
    merged_in: list[Clue]
    pending_extension: ExtensionRequest | None


def clue_context(clue: Clue, staff: StaffAccount) -> ClueContext:
    """The trail, the latest appeal, the referral, the clues merged into it."""
    return ClueContext(
        events=staff_events(clue, staff),
        appeal=db.session.scalar(
            sa.select(Appeal).where(Appeal.clue_id == clue.id).order_by(Appeal.id.desc())
        ),
        referral=db.session.scalar(sa.select(Referral).where(Referral.clue_id == clue.id)),
        merged_in=list(
            db.session.scalars(sa.select(Clue).where(Clue.master_id == clue.id).order_by(Clue.id))
        ),
        pending_extension=service.pending_extension(clue),
    )


def pending_extension_ids(clue_ids: Sequence[int]) -> set[int]:
    """Which of these clues have an extension request awaiting the superior."""
    if not clue_ids:
        return set()
    return set(
        db.session.scalars(
            sa.select(ExtensionRequest.clue_id).where(
                ExtensionRequest.clue_id.in_(clue_ids), service.PENDING_EXTENSION
            )
        )
    )


def latest_reports(clue_ids: Sequence[int]) -> dict[int, VerificationReport]:
    """The latest verification report of each clue."""
    return related(clue_ids, with_warnings=False).reports


# ---------------------------------------------------------------- the resident's view


def followed_clue(clue: Clue) -> Clue:
    """The clue whose progress the reporter follows: the master once merged."""
    return clue.master if clue.status is ClueStatus.MERGED and clue.master else clue


def resident_view(clue: Clue, resident_id: int, *, now: datetime | None = None) -> dict[str, Any]:
    """A resident's view: public notes only, the promised date, the outcome once closed."""
    followed = followed_clue(clue)
    events = [
        e
        for e in db.session.scalars(
            sa.select(ClueEvent)
            .where(ClueEvent.clue_id.in_({clue.id, followed.id}), ClueEvent.public_note != "")
            .order_by(ClueEvent.created_at, ClueEvent.id)
        )
        # Another reporter's own steps (their re-rating, their appeal) are theirs alone.
        if e.clue_id == clue.id or e.actor_type != "resident"
    ]
    stage = service.current_stage(followed)
    invitation = service.invitation_for(followed, resident_id)
    appealable = service.appeal_refusal(followed, invitation, now or utcnow()) is None
    closed = followed.status is ClueStatus.CLOSED
    return {
        "tracking_no": clue.tracking_no,
        "status": followed.status,
        "status_label": followed.status.label,
        "category_label": clue.category.label,
        "unit_name": clue.unit.name,
        "description": clue.description,
        "submitted_at": clue.submitted_at,
        "due_at": followed.due_at,
        "stage_label": stage.stage.label if stage else None,
        "outcome_label": followed.outcome.resident_label if closed and followed.outcome else None,
        "reply": (followed if followed is clue else clue).reporter_message
        if closed or clue.status is ClueStatus.REJECTED
        else "",
        "master_tracking_no": followed.tracking_no if followed is not clue else None,
        "timeline": [
            {
                "at": e.created_at,
                "status": e.to_status,
                "status_label": ClueStatus(e.to_status).label,
                "note": e.public_note if e.clue_id == clue.id else _shared_note(e, followed),
            }
            for e in events
        ],
        "rerating": {
            "status": invitation.status,
            "expires_at": invitation.expires_at,
            "level": invitation.level,
            "resolved": invitation.resolved,
        }
        if invitation
        else None,
        "can_appeal": appealable,
    }


def _shared_note(event: ClueEvent, master: Clue) -> str:
    """A master clue's step as a merged-in reporter reads it: the decision, without the
    words addressed to the master's own reporter (the reply, an appeal's answer)."""
    if event.action == Action.APPROVE and master.outcome is not None:
        return f"已办结，核查结论：{master.outcome.resident_label}。"
    if event.action == Action.UPHOLD:
        return "上级机关维持原核查结论。"
    return event.public_note


def residents_clues(resident_id: int) -> list[Clue]:
    """The clues a resident reported, newest first."""
    return list(
        db.session.scalars(
            sa.select(Clue)
            .join(ClueReporter, ClueReporter.clue_id == Clue.id)
            .where(ClueReporter.resident_id == resident_id)
            .order_by(Clue.id.desc())
        )
    )
