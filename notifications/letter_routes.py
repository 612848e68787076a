"""Letter endpoints: staff read the letters to units in their subtree and every notice,
download them as PDF, and the addressed unit answers a 督办函 in writing, once."""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from apiflask import APIBlueprint
from flask import send_file
from pydantic import Field
from sqlalchemy.orm import selectinload

from app.auth import current_staff, ensure_in_scope, staff_required
from app.errors import Unavailable
from app.extensions import db
from app.org import service as org_service
from app.org.models import Role, StaffAccount, subtree_ids
from app.schemas import Id, Page, PageQuery, Schema
from clues.models import Clue
from clues.schemas import UnitRef
from notifications.letters import (
    ANSWERABLE,
    get_letter,
    letters_visible_to,
    respond_to_letter,
    visible_letter,
)
from notifications.models import Letter, LetterKind
from notifications.pdf import FontNotFound, render_letter_pdf

bp = APIBlueprint("letters", __name__, url_prefix="/api/v1", tag="函件与通报")

RESPONDING_ROLES = (Role.VERIFIER, Role.SUPERIOR)


# ---------------------------------------------------------------- schemas


class LetterQuery(PageQuery):
    kind: LetterKind | None = Field(
        None, description="reminder 提醒函；supervision 督办函；escalation 提级督办函；notice 通报"
    )
    unit_id: Id | None = Field(None, description="只看发给该单位及其下级单位的函件（不含通报）")
    year: int | None = Field(None, ge=2000, le=2100, description="文号年份")


class StaffRef(Schema):
    id: int
    display_name: str


class LetterSummaryOut(Schema):
    id: int
    kind: LetterKind
    kind_label: str
    serial: str = Field(description="文号，如 评督〔2026〕12号")
    title: str
    unit: UnitRef | None = Field(description="受文单位；通报为 null（发各单位）")
    clue_id: int | None
    tracking_no: str | None = Field(description="涉及线索的编号")
    issued_at: datetime
    response_due_at: datetime | None = Field(description="督办函的回复期限")
    responded_at: datetime | None
    escalated_at: datetime | None
    needs_response: bool = Field(description="督办函或提级督办函且尚未回复")


class LetterOut(LetterSummaryOut):
    year: int
    number: int
    body: str = Field(description="正文（纯文本，段首全角空格缩进）")
    content: dict[str, Any] = Field(description="通报的排名表、红榜、约谈名单")
    period_start: date | None
    period_end: date | None
    response: str
    responded_by: StaffRef | None


class LetterPage(Page):
    items: list[LetterSummaryOut]


class ResponseIn(Schema):
    response: str = Field(
        min_length=1, max_length=5000, description="书面回复：逾期原因、已采取的措施和办理计划"
    )


def _summary(letter: Letter, tracking_no: str | None) -> dict[str, Any]:
    return {
        **{
            name: getattr(letter, name)
            for name in (
                "id",
                "kind",
                "serial",
                "title",
                "unit",
                "clue_id",
                "issued_at",
                "response_due_at",
                "responded_at",
                "escalated_at",
            )
        },
        "kind_label": letter.kind.label,
        "tracking_no": tracking_no,
        "needs_response": letter.kind in ANSWERABLE and letter.responded_at is None,
    }


def _detail(letter: Letter) -> dict[str, Any]:
    tracking_no = (
        db.session.scalar(sa.select(Clue.tracking_no).where(Clue.id == letter.clue_id))
        if letter.clue_id is not None
        else None
    )
    responder = (
        db.session.get(StaffAccount, letter.responded_by)
        if letter.responded_by is not None
        else None
    )
    return {
        **_summary(letter, tracking_no),
        **{
            name: getattr(letter, name)
            for name in (
                "year",
                "number",
                "body",
                "content",
                "period_start",
                "period_end",
                "response",
            )
        },
        "responded_by": responder,
    }


def _unit_of_letter(letter_id: int, **_: object) -> None:
    """Scope of /letters/{id}: the addressed unit's subtree (notices are for everyone), less
    letters about a clue accusing the caller."""
    visible_letter(letter_id, current_staff())


# ---------------------------------------------------------------- endpoints


@bp.get("/letters")
@staff_required()
@bp.input(LetterQuery, location="query", arg_name="query")
@bp.output(LetterPage)
@bp.doc(responses={404: "单位不存在"})
def list_letters(query: LetterQuery):
    """函件列表：发给本人管辖范围内单位的提醒函、督办函，以及全部通报（按时间倒序）"""
    staff = current_staff()
    stmt = sa.select(Letter).options(selectinload(Letter.unit)).where(letters_visible_to(staff))
    if query.unit_id is not None:
        unit = org_service.get_unit(query.unit_id)
        ensure_in_scope(unit)
        stmt = stmt.where(Letter.unit_id.in_(subtree_ids(unit)))
    if query.kind is not None:
        stmt = stmt.where(Letter.kind == query.kind)
    if query.year is not None:
        stmt = stmt.where(Letter.year == query.year)
    page = db.paginate(
        stmt.order_by(Letter.issued_at.desc(), Letter.id.desc()),
        page=query.page,
        per_page=query.per_page,
        error_out=False,
    )
    clue_ids = {letter.clue_id for letter in page.items if letter.clue_id is not None}
    tracking = (
        dict(
            db.session.execute(
                sa.select(Clue.id, Clue.tracking_no).where(Clue.id.in_(clue_ids))
            ).all()
        )
        if clue_ids
        else {}
    )
    return {
        "items": [_summary(letter, tracking.get(letter.clue_id)) for letter in page.items],
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
    }


@bp.get("/letters/<int:letter_id>")
@staff_required(scope=_unit_of_letter)
@bp.output(LetterOut)
@bp.doc(responses={404: "函件不存在"})
def get_letter_view(letter_id: int):
    """函件详情（正文、涉及线索、回复情况）"""
    return _detail(get_letter(letter_id))


@bp.get("/letters/<int:letter_id>/pdf")
@staff_required(scope=_unit_of_letter)
@bp.doc(
    responses={
        200: {
            "description": "A4 公文格式的 PDF（文字可选中、可检索），文件名为文号",
            "content": {"application/pdf": {}},
        },
        404: "函件不存在",
        503: "服务器缺少中文字体",
    }
)
def letter_pdf(letter_id: int):
    """下载函件 PDF"""
    letter = get_letter(letter_id)
    try:
        data = render_letter_pdf(letter)
    except FontNotFound as exc:
        raise Unavailable(str(exc), code="font_missing") from exc
    # Answers change what the PDF shows, so clients revalidate instead of keeping a copy.
    return send_file(
        io.BytesIO(data),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=f"{letter.serial}.pdf",
        max_age=0,
    )


@bp.post("/letters/<int:letter_id>/response")
@staff_required(*RESPONDING_ROLES, scope=_unit_of_letter)
@bp.input(ResponseIn, arg_name="body")
@bp.output(LetterOut)
@bp.doc(responses={404: "函件不存在", 409: "不是督办函，或已回复过"})
def respond(letter_id: int, body: ResponseIn):
    """受文单位书面回复督办函（核查人员或上级审核人员，只能回复一次）"""
    letter = respond_to_letter(get_letter(letter_id), staff=current_staff(), response=body.response)
    db.session.commit()
    return _detail(letter)
