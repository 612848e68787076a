"""Photos attached to clues: decoded with a pixel budget, re-encoded as plain JPEG (no EXIF,
no GPS, nothing hidden after the image data), hashed for the referral dossier."""

from __future__ import annotations

import hashlib
import io
from datetime import datetime

import sqlalchemy as sa
from apiflask import APIBlueprint
from flask import request, send_file
from PIL import Image, ImageOps, UnidentifiedImageError

from app.auth import current_staff, staff_required
from app.errors import ApiError, Conflict, Invalid, NotFound, TooLarge, Unsupported
from app.extensions import db
from app.org.models import Role
from app.schemas import Schema
from clues import service
from clues.models import CluePhoto
from clues.states import ClueStatus
from evaluations.identity import current_resident, resident_required

MAX_PHOTOS = 6
MAX_PIXELS = 40_000_000  # a decompression bomb is refused before it is decoded
LONG_SIDE = 2048
# MPO: a JPEG carrying further images (phones add a depth or HDR gain map); the first is kept.
ACCEPTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP"}


def reencode(data: bytes) -> tuple[bytes, int, int]:
    """Decode an upload under a pixel budget and re-encode it as a clean JPEG."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in ACCEPTED_FORMATS:
                raise Unsupported(
                    "只接受 JPEG、PNG、WebP、GIF、BMP 图片",
                    code="unsupported_image",
                    details={"format": probe.format},
                )
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise TooLarge(
                    "图片像素过多",
                    code="image_too_large",
                    details={"width": width, "height": height},
                )
            image = ImageOps.exif_transpose(probe)  # keep the photo upright, then drop EXIF
            image = image.convert("RGB")
    except Image.DecompressionBombError as exc:  # Pillow's own, larger limit, at open()
        raise TooLarge("图片像素过多", code="image_too_large") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        # ValueError: a PNG text chunk that inflates past Pillow's limit (a zTXt bomb).
        raise Invalid(
            {"photo": "无法识别的图片文件"}, "无法识别的图片文件", code="invalid_image"
        ) from exc
    image.thumbnail((LONG_SIDE, LONG_SIDE))
    # Pixels only: a new image has no `info`, so no channel of the upload's metadata (EXIF,
    # XMP, ICC profile, JPEG COM, PNG text chunks, GIF comment) can ride along into the save.
    clean = Image.new("RGB", image.size)
    clean.paste(image)
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue(), clean.width, clean.height


def add_photo(*, tracking_no: str, resident_id: int, data: bytes) -> CluePhoto:
    clue = service.resident_clue(tracking_no, resident_id)
    if clue.status in (ClueStatus.CLOSED, ClueStatus.REJECTED, ClueStatus.MERGED):
        raise Conflict("线索已办结，不能再补充照片", code="clue_closed")
    count = db.session.scalar(sa.select(sa.func.count()).where(CluePhoto.clue_id == clue.id))
    if count >= MAX_PHOTOS:
        raise Conflict(f"每条线索最多 {MAX_PHOTOS} 张照片", code="too_many_photos")
    content, width, height = reencode(data)
    photo = CluePhoto(
        clue_id=clue.id,
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        width=width,
        height=height,
    )
    db.session.add(photo)
    db.session.flush()
    return photo


bp = APIBlueprint("clue_photos", __name__, url_prefix="/api/v1", tag="问题线索")


class PhotoOut(Schema):
    id: int
    sha256: str
    width: int
    height: int
    created_at: datetime


class PhotoList(Schema):
    items: list[PhotoOut]


def _visible_clue(clue_id: int, **_: object) -> None:
    service.ensure_visible(current_staff(), service.get_clue(clue_id))


@bp.post("/me/clues/<tracking_no>/photos")
@resident_required
@bp.output(PhotoOut, status_code=201)
@bp.doc(
    responses={
        404: "没有这条线索",
        409: "线索已办结，或照片已满 6 张",
        413: "图片过大",
        415: "不支持的图片格式",
        422: "无法识别的图片",
    }
)
def upload(tracking_no: str):
    """为自己反映的问题补充照片（multipart 字段 photo；重新编码，去除位置等元数据）"""
    upload = request.files.get("photo")
    if upload is None:
        raise ApiError(
            422,
            "validation_error",
            "请用 multipart/form-data 的 photo 字段上传图片",
            {"location": "files", "fields": {"photo": ["必填"]}},
        )
    photo = add_photo(
        tracking_no=tracking_no, resident_id=current_resident().id, data=upload.read()
    )
    db.session.commit()
    return photo


@bp.get("/clues/<int:clue_id>/photos")
@staff_required(
    Role.SCREENER, Role.VERIFIER, Role.SUPERIOR, Role.LIAISON, Role.ADMIN, scope=_visible_clue
)
@bp.output(PhotoList)
def list_photos(clue_id: int):
    """线索照片列表"""
    return {
        "items": db.session.scalars(
            sa.select(CluePhoto).where(CluePhoto.clue_id == clue_id).order_by(CluePhoto.id)
        ).all()
    }


@bp.get("/clues/<int:clue_id>/photos/<int:photo_id>")
@staff_required(
    Role.SCREENER, Role.VERIFIER, Role.SUPERIOR, Role.LIAISON, Role.ADMIN, scope=_visible_clue
)
@bp.doc(responses={200: {"description": "JPEG", "content": {"image/jpeg": {}}}})
def get_photo(clue_id: int, photo_id: int):
    """线索照片"""
    photo = db.session.get(CluePhoto, photo_id)
    if photo is None or photo.clue_id != clue_id:
        raise NotFound("照片不存在")
    return send_file(
        io.BytesIO(photo.content),
        mimetype="image/jpeg",
        download_name=f"clue-{clue_id}-{photo_id}.jpg",
    )
