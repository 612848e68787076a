"""QR code endpoints (admin): issue, list, revoke, rotate, images, posters, batch export."""

from __future__ import annotations

import io
import tempfile

import sqlalchemy as sa
from apiflask import APIBlueprint
from flask import Response, current_app, send_file

from app.auth import current_staff, ensure_in_scope, staff_required
from app.errors import ApiError
from app.extensions import db
from app.org import service as org_service
from app.org.models import Role, Unit, subtree_ids
from app.schemas import paginate
from app.wechat import WeChatError, WeChatNotConfigured
from qr import service
from qr.export import export_pdf, export_zip
from qr.fonts import FontNotFound, font_identity
from qr.jobs import ExportJob, ExportStatus, file_path, queue_export, start_export
from qr.models import QRCode, QRStatus
from qr.render import RENDERER_VERSION, RenderCache, poster_png, qr_png, qr_svg, resolve_font
from qr.schemas import (
    ExportJobIn,
    ExportJobOut,
    ExportQuery,
    ImageQuery,
    QRCodeIn,
    QRCodeList,
    QRCodeOut,
    QRCodePage,
    QRCodeQuery,
    RevokeIn,
    ScanCountQuery,
    ScanCountsOut,
)

bp = APIBlueprint("qr", __name__, url_prefix="/api/v1", tag="二维码")

_PNG = {"description": "PNG 图片", "content": {"image/png": {}}}
_ARCHIVE = {"description": "ZIP 或 PDF", "content": {"application/zip": {}, "application/pdf": {}}}


def _unit_of_code(code_id: int, **_: object) -> Unit:
    return service.get_code(code_id).unit


def _unit_of_unit(unit_id: int, **_: object) -> Unit:
    return org_service.get_unit(unit_id)


def _cache() -> RenderCache:
    return RenderCache(current_app.config["QR_CACHE_DIR"])


def _font() -> str:
    try:
        return resolve_font(current_app.config.get("QR_FONT_PATH"))
    except FontNotFound as exc:
        raise ApiError(503, "font_missing", str(exc)) from exc


@bp.post("/qr-codes")
@staff_required(Role.ADMIN)
@bp.input(QRCodeIn, arg_name="body")
@bp.output(QRCodeOut, status_code=201)
@bp.doc(responses={404: "单位或人员不存在", 409: "已有有效二维码，或单位、人员已停用"})
def issue(body: QRCodeIn):
    """签发二维码（单位码、窗口码或人员码）"""
    unit = org_service.get_unit(body.unit_id)
    ensure_in_scope(unit)
    officer = org_service.get_officer(body.officer_id) if body.officer_id else None
    code = service.issue_code(unit=unit, officer=officer, label=body.label)
    db.session.commit()
    return code


@bp.get("/qr-codes")
@staff_required(Role.ADMIN)
@bp.input(QRCodeQuery, location="query", arg_name="query")
@bp.output(QRCodePage)
@bp.doc(responses={404: "单位不存在"})
def list_codes(query: QRCodeQuery):
    """二维码列表（本人管辖范围内，可按单位子树和状态筛选）"""
    root = current_staff().unit
    if query.unit_id is not None:
        root = org_service.get_unit(query.unit_id)
        ensure_in_scope(root)
    stmt = sa.select(QRCode).where(QRCode.unit_id.in_(subtree_ids(root)))
    if query.status is not None:
        stmt = stmt.where(QRCode.status == query.status)
    return paginate(stmt.order_by(QRCode.id), query, QRCodeOut)


@bp.get("/qr-codes/<int:code_id>")
@staff_required(Role.ADMIN, scope=_unit_of_code)
@bp.output(QRCodeOut)
def get(code_id: int):
    """二维码详情"""
    return service.get_code(code_id)


@bp.post("/qr-codes/<int:code_id>/revoke")
@staff_required(Role.ADMIN, scope=_unit_of_code)
@bp.input(RevokeIn, arg_name="body")
@bp.output(QRCodeOut)
@bp.doc(responses={409: "二维码已停用"})
def revoke(code_id: int, body: RevokeIn):
    """停用二维码：再扫描得到 410，并指向单位现在的二维码"""
    code = service.revoke_code(service.get_code(code_id), reason=body.reason)
    db.session.commit()
    return code


@bp.post("/qr-codes/<int:code_id>/rotate")
@staff_required(Role.ADMIN, scope=_unit_of_code)
@bp.output(QRCodeOut, status_code=201)
@bp.doc(responses={409: "二维码已停用"})
def rotate(code_id: int):
    """轮换一个二维码：停用旧码并签发新码，返回新码"""
    replacement = service.rotate_code(service.get_code(code_id))
    db.session.commit()
    return replacement


@bp.post("/units/<int:unit_id>/qr-codes/rotate")
@staff_required(Role.ADMIN, scope=_unit_of_unit)
@bp.output(QRCodeList, status_code=201)
def rotate_unit(unit_id: int):
    """轮换单位自身的全部有效二维码（一步完成），返回新码"""
    replacements = service.rotate_unit_codes(org_service.get_unit(unit_id))
    db.session.commit()
    return {"items": replacements}


@bp.get("/qr-codes/<int:code_id>/image")
@staff_required(Role.ADMIN, scope=_unit_of_code)
@bp.input(ImageQuery, location="query", arg_name="query")
@bp.doc(
    responses={
        200: {"description": "PNG 或 SVG 图片", "content": {"image/png": {}, "image/svg+xml": {}}}
    }
)
def image(code_id: int, query: ImageQuery):
    """二维码图片（PNG 或 SVG，只有码本身）"""
    code = service.get_code(code_id)
    url = code.url
    if query.format == "svg":
        data = _cache().get_or_render("svg", (url,), lambda: qr_svg(url))
        return _file(data, "image/svg+xml", f"{code.serial}.svg")
    data = _cache().get_or_render("png", (url,), lambda: qr_png(url))
    return _file(data, "image/png", f"{code.serial}.png")


@bp.get("/qr-codes/<int:code_id>/poster")
@staff_required(Role.ADMIN, scope=_unit_of_code)
@bp.doc(responses={200: _PNG, 503: "服务器缺少中文字体"})
def poster(code_id: int):
    """可打印的 A5 海报（300 dpi PNG）"""
    code = service.get_code(code_id)
    info = service.poster_info(code)
    font = _font()
    data = _cache().get_or_render(
        "poster",
        (info, font_identity(font), RENDERER_VERSION),
        lambda: poster_png(info, font_path=font),
    )
    return _file(data, "image/png", f"{code.serial}-poster.png")


@bp.get("/qr-codes/<int:code_id>/wxacode")
@staff_required(Role.ADMIN, scope=_unit_of_code)
@bp.doc(responses={200: _PNG, 409: "未配置微信小程序", 502: "微信接口出错"})
def wxacode(code_id: int):
    """小程序码（需配置微信；首次从微信获取后保存）"""
    code = service.get_code(code_id)
    if not code.is_active:
        raise ApiError(409, "qr_revoked", "该二维码已停用")
    try:
        data = service.wxacode_png(code)
    except WeChatNotConfigured as exc:
        raise ApiError(409, "wechat_not_configured", "未配置微信小程序（WECHAT_APPID）") from exc
    except WeChatError as exc:
        raise ApiError(
            502, "wechat_error", f"获取小程序码失败：{exc.message_zh}", {"errcode": exc.errcode}
        ) from exc
    db.session.commit()
    return _file(data, "image/png", f"{code.serial}-wxacode.png")


@bp.get("/qr-codes/<int:code_id>/scans")
@staff_required(Role.ADMIN, scope=_unit_of_code)
@bp.input(ScanCountQuery, location="query", arg_name="query")
@bp.output(ScanCountsOut)
def scans(code_id: int, query: ScanCountQuery):
    """每日扫码次数（不记录扫码人）"""
    days = service.scan_counts(service.get_code(code_id), since=query.since, until=query.until)
    return {"total": sum(d.count for d in days), "days": days}


@bp.get("/qr-codes/export")
@staff_required(Role.ADMIN)
@bp.input(ExportQuery, location="query", arg_name="query")
@bp.doc(
    responses={
        200: {
            "description": "ZIP 或 PDF",
            "content": {"application/zip": {}, "application/pdf": {}},
        },
        404: "单位不存在，或没有有效的二维码",
        503: "服务器缺少中文字体",
    }
)
def export(query: ExportQuery):
    """批量导出单位子树内全部有效二维码海报（ZIP 或每页一张的 PDF）"""
    unit = org_service.get_unit(query.unit_id)
    ensure_in_scope(unit)
    infos = service.subtree_poster_infos(unit)
    if not infos:
        raise ApiError(404, "no_codes", "该单位及下级单位没有有效的二维码")
    font = _font()
    db.session.rollback()  # nothing to write; release the connection during the long render
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    if query.format == "zip":
        export_zip(infos, spool, font_path=font)
        mimetype = "application/zip"
    else:
        export_pdf(infos, spool, font_path=font)
        mimetype = "application/pdf"
    spool.seek(0)
    return send_file(
        spool, mimetype=mimetype, as_attachment=True, download_name=f"qr-{unit.code}.{query.format}"
    )


def _export_body(export: ExportJob) -> dict:
    status = export.shown_status
    done = status is ExportStatus.DONE
    return {
        "id": export.id,
        "unit_id": export.unit_id,
        "format": export.format,
        "status": status.value,
        "status_label": status.label,
        "total": export.total,
        "done": export.done,
        "created_at": export.created_at,
        "started_at": export.started_at,
        "finished_at": export.finished_at,
        "file_name": export.file_name,
        "size": export.size,
        "error": "生成中断，请重新导出" if export.is_stale else export.error,
        "download_url": f"/api/v1/qr-codes/export-jobs/{export.id}/file" if done else None,
    }


def _export_job(export_id: int) -> ExportJob:
    export = db.session.get(ExportJob, export_id)
    if export is None:
        raise ApiError(404, "not_found", "导出任务不存在", {"id": export_id})
    ensure_in_scope(db.session.get(Unit, export.unit_id))
    return export


@bp.post("/qr-codes/export-jobs")
@staff_required(Role.ADMIN)
@bp.input(ExportJobIn, arg_name="body")
@bp.output(ExportJobOut, status_code=202)
@bp.doc(responses={404: "单位不存在，或没有有效的二维码", 503: "服务器缺少中文字体"})
def queue_export_job(body: ExportJobIn):
    """批量导出海报（后台任务）：立即返回任务，按 GET 查看进度，完成后下载文件"""
    unit = org_service.get_unit(body.unit_id)
    ensure_in_scope(unit)
    _font()  # refuse now, not after the queue
    total = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(QRCode)
        .where(QRCode.status == QRStatus.ACTIVE, QRCode.unit_id.in_(subtree_ids(unit)))
    )
    if not total:
        raise ApiError(404, "no_codes", "该单位及下级单位没有有效的二维码")
    export = queue_export(unit=unit, fmt=body.format, staff=current_staff(), total=total)
    db.session.commit()
    start_export(export.id)
    return _export_body(export)


@bp.get("/qr-codes/export-jobs/<int:export_id>")
@staff_required(Role.ADMIN)
@bp.output(ExportJobOut)
@bp.doc(responses={404: "导出任务不存在"})
def export_job(export_id: int):
    """导出任务的状态和进度（done / total）"""
    return _export_body(_export_job(export_id))


@bp.get("/qr-codes/export-jobs/<int:export_id>/file")
@staff_required(Role.ADMIN)
@bp.doc(
    responses={
        200: {
            "description": "ZIP 或 PDF",
            "content": {"application/zip": {}, "application/pdf": {}},
        },
        404: "导出任务不存在",
        409: "尚未完成",
    }
)
def export_job_file(export_id: int):
    """下载已完成的导出文件"""
    export = _export_job(export_id)
    path = file_path(export)
    if export.status is not ExportStatus.DONE or not path.exists():
        raise ApiError(
            409,
            "export_not_ready",
            "导出尚未完成，请稍后再下载",
            {"status": export.shown_status.value, "done": export.done, "total": export.total},
        )
    mimetype = "application/zip" if export.format == "zip" else "application/pdf"
    return send_file(path, mimetype=mimetype, as_attachment=True, download_name=export.file_name)


def _file(data: bytes, mimetype: str, name: str) -> Response:
    return send_file(io.BytesIO(data), mimetype=mimetype, download_name=name, max_age=0)
