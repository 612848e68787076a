"""QR management for admins: a unit's codes, issue, revoke, rotate, code image and poster."""

from __future__ import annotations

import io
from datetime import date, timedelta

import sqlalchemy as sa
from flask import Response, current_app, flash, request, send_file, url_for
from werkzeug.datastructures import MultiDict

from app.auth import ensure_in_scope
from app.clock import local_date
from app.errors import ApiError, DomainError, status_of
from app.extensions import db
from app.org import service as org_service
from app.org.models import Officer, Role, Unit, subtree_filter, subtree_ids
from app.schemas import MAX_ID
from console.forms import FormError, api_error_fields, describe, parse
from console.web import bp, console_view, current_staff, page, see_other
from qr import service
from qr.fonts import FontNotFound, font_identity
from qr.jobs import ExportJob, ExportStatus, file_path, queue_export, start_export
from qr.models import QRCode, QRScanCount, QRStatus
from qr.render import RENDERER_VERSION, RenderCache, poster_png, qr_svg, resolve_font
from qr.schemas import QRCodeIn, RevokeIn


def _selected_unit(raw: str | None) -> Unit:
    staff = current_staff()
    known = raw is not None and raw.isdecimal() and 0 < int(raw) <= MAX_ID
    unit = org_service.get_unit(int(raw)) if known else staff.unit
    ensure_in_scope(unit)
    return unit


def _scoped_code(code_id: int) -> QRCode:
    code = service.get_code(code_id)
    ensure_in_scope(code.unit)
    return code


def _qr_page(
    unit: Unit,
    status: int = 200,
    *,
    failed: str | None = None,
    errors: dict[str, str] | None = None,
    values: MultiDict[str, str] | None = None,
) -> Response:
    staff = current_staff()
    units = db.session.scalars(
        sa.select(Unit).where(subtree_filter(staff.unit.path)).order_by(Unit.path)
    ).all()
    codes = db.session.scalars(
        sa.select(QRCode)
        .where(QRCode.unit_id == unit.id)
        .order_by(QRCode.status != QRStatus.ACTIVE, QRCode.id.desc())
        .limit(200)
    ).all()
    officers = db.session.scalars(
        sa.select(Officer).where(Officer.unit_id == unit.id, Officer.is_active).order_by(Officer.id)
    ).all()
    return page(
        "qr.html",
        status,
        unit=unit,
        units=units,
        codes=codes,
        officers=officers,
        scans=scan_totals([c.id for c in codes], local_date() - timedelta(days=29)),
        failed=failed,
        errors=errors or {},
        error_lines=describe(errors or {}),
        values=values or MultiDict(),
    )


@bp.get("/qr")
@console_view(Role.ADMIN)
def qr_codes() -> Response:
    return _qr_page(_selected_unit(request.args.get("unit_id")))


def _back(unit_id: int) -> Response:
    return see_other(url_for("console.qr_codes", unit_id=unit_id))


@bp.post("/qr")
@console_view(Role.ADMIN)
def qr_issue() -> Response:
    """Issue a unit, window or officer code."""
    form = request.form
    unit = _selected_unit(form.get("unit_id"))
    try:
        body = parse(QRCodeIn, form)
        officer = org_service.get_officer(body.officer_id) if body.officer_id else None
        code = service.issue_code(unit=unit, officer=officer, label=body.label)
    except FormError as error:
        db.session.rollback()
        return _qr_page(
            _selected_unit(form.get("unit_id")),
            status_of(error),
            failed="issue",
            errors=error.errors,
            values=form,
        )
    except (ApiError, DomainError) as error:
        db.session.rollback()
        return _qr_page(
            _selected_unit(form.get("unit_id")),
            status_of(error),
            failed="issue",
            errors=api_error_fields(error),
            values=form,
        )
    db.session.commit()
    flash(f"已签发二维码 {code.serial}。", "ok")
    return _back(unit.id)


def _confirmed_reason(form: MultiDict[str, str]) -> str:
    """Revoking and rotating are confirmed by ticking a box and given a reason (kept on the
    code and in the audit log), checked by the API's schema."""
    errors = {} if form.get("confirm") == "1" else {"confirm": "请勾选确认"}
    reason = (form.get("reason") or "").strip()
    if not reason:
        errors["reason"] = "请填写理由"
    else:
        try:
            reason = parse(RevokeIn, MultiDict({"reason": reason})).reason
        except FormError as error:
            errors.update(error.errors)
    if errors:
        raise FormError(errors)
    return reason


def _code_refused(code_id: int, unit_id: int, error: Exception) -> Response:
    db.session.rollback()
    errors = error.errors if isinstance(error, FormError) else api_error_fields(error)  # type: ignore[arg-type]
    return _qr_page(
        _selected_unit(str(unit_id)), status_of(error), failed=f"code-{code_id}", errors=errors
    )


@bp.post("/qr/<int:code_id>/revoke")
@console_view(Role.ADMIN)
def qr_revoke(code_id: int) -> Response:
    code = _scoped_code(code_id)
    unit_id = code.unit_id
    try:
        service.revoke_code(code, reason=_confirmed_reason(request.form))
    except (FormError, ApiError, DomainError) as error:
        return _code_refused(code_id, unit_id, error)
    db.session.commit()
    flash(f"已停用二维码 {code.serial}，扫描它将指向本单位现在的二维码。", "ok")
    return _back(unit_id)


@bp.post("/qr/<int:code_id>/rotate")
@console_view(Role.ADMIN)
def qr_rotate(code_id: int) -> Response:
    code = _scoped_code(code_id)
    unit_id = code.unit_id
    try:
        replacement = service.rotate_code(code, reason=_confirmed_reason(request.form))
    except (FormError, ApiError, DomainError) as error:
        return _code_refused(code_id, unit_id, error)
    db.session.commit()
    flash(f"已轮换：{code.serial} 停用，新码 {replacement.serial}，请打印新海报替换。", "ok")
    return _back(unit_id)


@bp.post("/qr/export-jobs")
@console_view(Role.ADMIN)
def qr_export_queue() -> Response:
    """Queue the posters of the chosen unit's subtree as one PDF or ZIP (the API's export job)
    and go to its page, which shows the progress."""
    unit = _selected_unit(request.form.get("unit_id"))
    fmt = "zip" if request.form.get("format") == "zip" else "pdf"
    _font_path()  # refuse now, not after the queue
    total = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(QRCode)
        .where(QRCode.status == QRStatus.ACTIVE, QRCode.unit_id.in_(subtree_ids(unit)))
    )
    if not total:
        raise ApiError(404, "no_codes", "该单位及下级单位没有有效的二维码")
    export = queue_export(unit=unit, fmt=fmt, staff=current_staff(), total=total)
    db.session.commit()
    start_export(export.id)
    return see_other(url_for("console.qr_export_job", export_id=export.id))


def _scoped_export(export_id: int) -> ExportJob:
    export = db.session.get(ExportJob, export_id)
    if export is None:
        raise ApiError(404, "not_found", "导出任务不存在")
    ensure_in_scope(db.session.get(Unit, export.unit_id))
    return export


@bp.get("/qr/export-jobs/<int:export_id>")
@console_view(Role.ADMIN)
def qr_export_job(export_id: int) -> Response:
    """The job's progress (the page reloads itself every few seconds while it runs)."""
    export = _scoped_export(export_id)
    status = export.shown_status
    return page(
        "qr_export.html",
        export=export,
        state=status,
        unit=db.session.get(Unit, export.unit_id),
        running=status in (ExportStatus.QUEUED, ExportStatus.RUNNING),
        done=status is ExportStatus.DONE,
    )


@bp.get("/qr/export-jobs/<int:export_id>/file")
@console_view(Role.ADMIN)
def qr_export_file(export_id: int) -> Response:
    export = _scoped_export(export_id)
    path = file_path(export)
    if export.status is not ExportStatus.DONE or not path.exists():
        raise ApiError(409, "export_not_ready", "导出尚未完成，请稍后再下载")
    return send_file(
        path,
        mimetype="application/zip" if export.format == "zip" else "application/pdf",
        as_attachment=True,
        download_name=export.file_name,
        max_age=0,
    )


def _font_path() -> str:
    try:
        return resolve_font(current_app.config.get("QR_FONT_PATH"))
    except FontNotFound as exc:
        raise ApiError(503, "font_missing", str(exc)) from exc


def scan_totals(code_ids: list[int], since: date) -> dict[int, tuple[int, int]]:
    """(scans since `since`, scans ever) of each code."""
    if not code_ids:
        return {}
    recent = sa.func.sum(sa.case((QRScanCount.day >= since, QRScanCount.count), else_=0))
    rows = db.session.execute(
        sa.select(QRScanCount.qr_code_id, recent, sa.func.sum(QRScanCount.count))
        .where(QRScanCount.qr_code_id.in_(code_ids))
        .group_by(QRScanCount.qr_code_id)
    ).all()
    return {code_id: (int(a or 0), int(b or 0)) for code_id, a, b in rows}


def _cache() -> RenderCache:
    return RenderCache(current_app.config["QR_CACHE_DIR"])


@bp.get("/qr/<int:code_id>/code.svg")
@console_view(Role.ADMIN)
def qr_image(code_id: int) -> Response:
    code = _scoped_code(code_id)
    url = code.url
    data = _cache().get_or_render("svg", (url,), lambda: qr_svg(url))
    response = send_file(
        io.BytesIO(data), mimetype="image/svg+xml", download_name=f"{code.serial}.svg", max_age=0
    )
    return response


@bp.get("/qr/<int:code_id>/poster.png")
@console_view(Role.ADMIN)
def qr_poster(code_id: int) -> Response:
    """The printable A5 poster, the same image as the API's."""
    code = _scoped_code(code_id)
    info = service.poster_info(code)
    try:
        font = resolve_font(current_app.config.get("QR_FONT_PATH"))
    except FontNotFound as exc:
        raise ApiError(503, "font_missing", str(exc)) from exc
    data = _cache().get_or_render(
        "poster",
        (info, font_identity(font), RENDERER_VERSION),
        lambda: poster_png(info, font_path=font),
    )
    response = send_file(
        io.BytesIO(data),
        mimetype="image/png",
        as_attachment=True,
        download_name=f"{code.serial}-poster.png",
        max_age=0,
    )
    return response
