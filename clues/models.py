"""Clues and everything that hangs off them: the reporter (kept apart), the immutable event
trail, deadline stages, extension requests, verification reports, re-ratings, appeals,
referrals to discipline inspection, photos and high-frequency warnings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import utcnow
from app.db import BigId, db, str_enum
from app.enums import LabelledEnum
from app.org.models import Officer, Unit
from clues.states import ClueStatus
from evaluations.questionnaire import SATISFIED_LEVEL, ClueCategory


class ClueSource(LabelledEnum):
    EVALUATION = "evaluation", "扫码评价"
    DIRECT = "direct", "群众直接反映"
    SURVEY = "survey", "民意测评"
    CASE_REVIEW = "case_review", "案件评查"
    PETITION = "petition", "信访"  # registered by staff from a petition
    GRID = "grid", "网格员"  # found by a grid worker going door to door


class Outcome(LabelledEnum):
    """A verification's conclusion; `resident_label` is how the reporter reads it (no 查否)."""

    SUBSTANTIATED = "substantiated", "查实", "属实"
    PARTLY_SUBSTANTIATED = "partly_substantiated", "部分属实", "部分属实"
    UNFOUNDED = "unfounded", "查否", "未查实"

    def __init__(self, value: str, label: str, resident_label: str) -> None:
        self.resident_label = resident_label


class RejectReason(LabelledEnum):
    OUT_OF_SCOPE = "out_of_scope", "不属于受理范围"
    NO_SUBSTANCE = "no_substance", "内容不具体、无法核查"
    ABUSIVE = "abusive", "含辱骂或恶意内容"
    ALREADY_HANDLED = "already_handled", "已经处理过"


class Stage(LabelledEnum):
    SCREENING = "screening", "审核"
    VERIFICATION = "verification", "核查"
    REVIEW = "review", "上级审核"
    APPEAL = "appeal", "复核申请"
    FORWARDED = "forwarded", "12345 办理"  # the forwarding unit follows the platform up


class ReporterIdentity(LabelledEnum):
    ANONYMOUS = "anonymous", "匿名"
    CONFIDENTIAL = "confidential", "实名保密"  # phone kept, encrypted, for screeners only


class ExtensionStatus(LabelledEnum):
    PENDING = "pending", "待审批"
    APPROVED = "approved", "已批准"
    DENIED = "denied", "不批准"
    LAPSED = "lapsed", "已失效"  # its stage ended before a decision


class ReportDecision(LabelledEnum):
    APPROVED = "approved", "已通过"
    RETURNED = "returned", "已退回"


class ReratingStatus(LabelledEnum):
    PENDING = "pending", "待回评"
    RATED = "rated", "已回评"
    NOT_RATED = "not_rated", "未回评"  # the window closed unanswered
    SUPERSEDED = "superseded", "已失效"  # unanswered when the clue closed again


class AppealDecision(LabelledEnum):
    REOPENED = "reopened", "重新核查"
    UPHELD = "upheld", "维持原结论"


class WarningKind(LabelledEnum):
    OFFICER_REPORTED = "officer_reported", "同一人员多人反映"
    UNIT_REPORTED = "unit_reported", "同一单位多人反映"
    REPEAT = "repeat", "同一群众多次反映同一对象"


class Clue(db.Model):
    __tablename__ = "clues"
    __table_args__ = (
        sa.Index("ix_clues_unit_status", "unit_id", "status"),
        sa.Index("ix_clues_assigned_unit_status", "assigned_unit_id", "status"),
        sa.Index("ix_clues_status_due", "status", "due_at"),
        # Statistics follow the cohort of clues received in a period.
        sa.Index("ix_clues_submitted_at", "submitted_at"),
        # The staff lists find a Chinese phrase anywhere in the complaint (LIKE '%…%'):
        # a trigram index on PostgreSQL (pg_trgm); elsewhere an ordinary index that costs
        # little and keeps one schema for both engines.
        sa.Index(
            "ix_clues_description_trgm",
            "description",
            postgresql_using="gin",
            postgresql_ops={"description": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tracking_no: Mapped[str] = mapped_column(sa.String(20), unique=True)
    source: Mapped[ClueSource] = mapped_column(str_enum(ClueSource, "clue_source"))
    status: Mapped[ClueStatus] = mapped_column(
        str_enum(ClueStatus, "clue_status"), default=ClueStatus.SUBMITTED
    )
    category: Mapped[ClueCategory] = mapped_column(str_enum(ClueCategory, "clue_category"))
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"))
    officer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("officers.id"), index=True)
    description: Mapped[str] = mapped_column(sa.Text)
    evaluation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("evaluations.id"))
    # Screening
    reject_reason: Mapped[RejectReason | None] = mapped_column(
        str_enum(RejectReason, "reject_reason")
    )
    reporter_message: Mapped[str] = mapped_column(sa.Text, default="")  # shown to the reporter
    # Why a misconduct clue is verified by the reported unit itself (or below); "" otherwise.
    self_verification_reason: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    master_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clues.id"), index=True)
    # Assignment and deadline of the current stage
    assigned_unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"))
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_accounts.id"))
    due_at: Mapped[datetime | None]
    # Outcome of the approved verification
    outcome: Mapped[Outcome | None] = mapped_column(str_enum(Outcome, "outcome"))
    persons_handled: Mapped[int] = mapped_column(default=0)
    involves_misconduct: Mapped[bool] = mapped_column(default=False)
    # Re-rating and appeal windows open at closure
    rerating_due_at: Mapped[datetime | None]
    # One stamp per status (<status>_at)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    accepted_at: Mapped[datetime | None]
    assigned_at: Mapped[datetime | None]
    verifying_at: Mapped[datetime | None]
    reviewing_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    appealed_at: Mapped[datetime | None]
    rejected_at: Mapped[datetime | None]
    merged_at: Mapped[datetime | None]
    forwarded_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    # The 12345 platform's own case number, from its answer to the forward (or its callback).
    hotline_case_no: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    unit: Mapped[Unit] = relationship(foreign_keys=[unit_id], lazy="joined")
    officer: Mapped[Officer | None] = relationship(lazy="joined")
    assigned_unit: Mapped[Unit | None] = relationship(foreign_keys=[assigned_unit_id])
    master: Mapped[Clue | None] = relationship(remote_side=[id])

    @property
    def is_overdue(self) -> bool:
        return self.due_at is not None and self.due_at < utcnow()


class ClueReporter(db.Model):
    """Who reported a clue, kept apart from the clue and read only through the audited
    reporter endpoint. The phone number is encrypted."""

    __tablename__ = "clue_reporters"

    clue_id: Mapped[int] = mapped_column(sa.ForeignKey("clues.id"), primary_key=True)
    resident_id: Mapped[int | None] = mapped_column(sa.ForeignKey("residents.id"), index=True)
    identity: Mapped[ReporterIdentity] = mapped_column(
        str_enum(ReporterIdentity, "reporter_identity")
    )
    phone_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    # The reporter ticked the separate consent: the phone may carry SMS (the tracking link).
    sms_consent: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClueEvent(db.Model):
    """An immutable entry of a clue's trail (the database refuses updates and deletes)."""

    __tablename__ = "clue_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    clue_id: Mapped[int] = mapped_column(sa.ForeignKey("clues.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_type: Mapped[str] = mapped_column(sa.String(16))
    actor_id: Mapped[int | None]
    actor_name: Mapped[str] = mapped_column(sa.String(64), default="")
    role: Mapped[str] = mapped_column(sa.String(16), default="")
    action: Mapped[str] = mapped_column(sa.String(32))
    from_status: Mapped[ClueStatus | None] = mapped_column(str_enum(ClueStatus, "from_status"))
    to_status: Mapped[ClueStatus] = mapped_column(str_enum(ClueStatus, "to_status"))
    note: Mapped[str] = mapped_column(sa.Text, default="")  # internal, staff only
    public_note: Mapped[str] = mapped_column(sa.Text, default="")  # shown to the reporter
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ClueStage(db.Model):
    """One run of a deadline-bound stage; on_time is decided when it finishes."""

    __tablename__ = "clue_stages"
    __table_args__ = (sa.Index("ix_clue_stages_open_due", "finished_at", "due_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    clue_id: Mapped[int] = mapped_column(sa.ForeignKey("clues.id"), index=True)
    stage: Mapped[Stage] = mapped_column(str_enum(Stage, "clue_stage"))
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"))  # who must act
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    on_time: Mapped[bool | None]
    extended_days: Mapped[int] = mapped_column(default=0)


class ExtensionRequest(db.Model):
    __tablename__ = "clue_extensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    clue_id: Mapped[int] = mapped_column(sa.ForeignKey("clues.id"), index=True)
    stage_id: Mapped[int] = mapped_column(sa.ForeignKey("clue_stages.id"))
    requested_by: Mapped[int] = mapped_column(sa.ForeignKey("staff_accounts.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    days: Mapped[int]
    reason: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[ExtensionStatus] = mapped_column(
        str_enum(ExtensionStatus, "extension_status"), default=ExtensionStatus.PENDING
    )
    decided_by: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_accounts.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str] = mapped_column(sa.Text, default="")


class VerificationReport(db.Model):
    __tablename__ = "clue_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    clue_id: Mapped[int] = mapped_column(sa.ForeignKey("clues.id"), index=True)
    submitted_by: Mapped[int] = mapped_column(sa.ForeignKey("staff_accounts.id"))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[Outcome] = mapped_column(str_enum(Outcome, "outcome"))
    findings: Mapped[str] = mapped_column(sa.Text)
    measures: Mapped[str] = mapped_column(sa.Text, default="")
    persons_handled: Mapped[int] = mapped_column(default=0)
    involves_misconduct: Mapped[bool] = mapped_column(default=False)
    reply_to_reporter: Mapped[str] = mapped_column(sa.Text, default="")
    decision: Mapped[ReportDecision | None] = mapped_column(
        str_enum(ReportDecision, "report_decision")
    )
    decided_by: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_accounts.id"))
    decided_at: Mapped[datetime | None]
    return_reason: Mapped[str] = mapped_column(sa.Text, default="")


class ReratingInvitation(db.Model):
    """The reporter's invitation to re-rate a closed clue (one per reporter and closure)."""

    __tablename__ = "clue_rerating_invitations"
    __table_args__ = (
        sa.UniqueConstraint("clue_id", "resident_id", "round"),
        sa.Index("ix_clue_rerating_invitations_rated_at", "rated_at"),  # statistics by period
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    clue_id: Mapped[int] = mapped_column(sa.ForeignKey("clues.id"), index=True)
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("residents.id"), index=True)
    round: Mapped[int] = mapped_column(default=1)  # the closure this invitation is for
    invited_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    status: Mapped[ReratingStatus] = mapped_column(
        str_enum(ReratingStatus, "rerating_status"), default=ReratingStatus.PENDING
    )
    reminded_at: Mapped[datetime | None]
    level: Mapped[int | None]
    resolved: Mapped[bool | None]
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    rated_at: Mapped[datetime | None]

    @hybrid_property
    def is_satisfied(self) -> bool:
        """满意且已解决: level 4 or 5 and the resident says the problem was solved."""
        return bool(self.level and self.level >= SATISFIED_LEVEL and self.resolved)

    @is_satisfied.inplace.expression
    @classmethod
    def _is_satisfied_expression(cls) -> sa.ColumnElement[bool]:
        return sa.and_(cls.level >= SATISFIED_LEVEL, cls.resolved.is_(True))


class Appeal(db.Model):
    __tablename__ = "clue_appeals"

    id: Mapped[int] = mapped_column(primary_key=True)
    clue_id: Mapped[int] = mapped_column(sa.ForeignKey("clues.id"), index=True)
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("residents.id"))
    reason: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decision: Mapped[AppealDecision | None] = mapped_column(
        str_enum(AppealDecision, "appeal_decision")
    )
    decided_by: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_accounts.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str] = mapped_column(sa.Text, default="")


class ReferralStatus(LabelledEnum):
    PENDING = "pending", "待签收"
    RECEIVED = "received", "已签收"
    CONCLUDED = "concluded", "已办结"


class Referral(db.Model):
    """A substantiated misconduct case referred to the discipline-inspection liaison, with a
    sealed dossier (the case history and the SHA-256 of every piece of evidence)."""

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    clue_id: Mapped[int] = mapped_column(sa.ForeignKey("clues.id"), unique=True)
    status: Mapped[ReferralStatus] = mapped_column(
        str_enum(ReferralStatus, "referral_status"), default=ReferralStatus.PENDING
    )
    dossier: Mapped[dict[str, Any]]
    dossier_sha256: Mapped[str] = mapped_column(sa.String(64))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    referred_by: Mapped[int] = mapped_column(sa.ForeignKey("staff_accounts.id"))
    referred_at: Mapped[datetime] = mapped_column(default=utcnow)
    received_by: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_accounts.id"))
    received_at: Mapped[datetime | None]
    # Deadlines of the liaison's two steps (working days, swept like every stage).
    receive_due_at: Mapped[datetime | None]
    conclude_due_at: Mapped[datetime | None]
    concluded_by: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_accounts.id"))
    concluded_at: Mapped[datetime | None]
    persons_handled: Mapped[int | None]
    measures: Mapped[str] = mapped_column(sa.Text, default="")

    clue: Mapped[Clue] = relationship()


class CluePhoto(db.Model):
    """A photo attached to a clue, re-encoded (no EXIF, no hidden payload) before storage."""

    __tablename__ = "clue_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    clue_id: Mapped[int] = mapped_column(sa.ForeignKey("clues.id"), index=True)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    content_type: Mapped[str] = mapped_column(sa.String(32), default="image/jpeg")
    content: Mapped[bytes] = mapped_column(sa.LargeBinary)
    width: Mapped[int]
    height: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClueWarning(db.Model):
    """A high-frequency warning raised when a clue arrived (kept for the letters)."""

    __tablename__ = "clue_warnings"

    id: Mapped[int] = mapped_column(primary_key=True)
    clue_id: Mapped[int] = mapped_column(sa.ForeignKey("clues.id"), index=True)
    kind: Mapped[WarningKind] = mapped_column(str_enum(WarningKind, "warning_kind"))
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), index=True)
    officer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("officers.id"))
    count: Mapped[int]
    window_days: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    letter_id: Mapped[int | None]  # the reminder letter that answered it (issue 6)


class TrackingCounter(db.Model):
    """Tracking numbers are XQ<yyyymmdd>-<n>: n counts per local day."""

    __tablename__ = "clue_tracking_counters"

    day: Mapped[date] = mapped_column(primary_key=True)
    last: Mapped[int] = mapped_column(default=0)
