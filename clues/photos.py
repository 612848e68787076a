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
from app.clock import local_date, local_day_start
from app.errors import ApiError, Conflict, Gone, Invalid, NotFound, TooLarge, Unsupported
from app.extensions import db
from app.org.models import Role
from app.ratelimit import bearer_key, configured, limiter, network_key
from app.schemas import Schema
from clues import service
from clues.models import CluePhoto, ClueReporter
from clues.states import ClueStatus
from evaluations.identity import current_resident, resident_id_from_token, resident_required

MAX_PHOTOS = 6
# Photos one resident may store in a (Beijing) day, whatever the rate limiter's state.
PHOTOS_PER_DAY = 20
LONG_SIDE = 2048
# Pixels we are willing to decode for one upload: (2 × LONG_SIDE)², about 16.8 MP. A JPEG
# decodes already scaled (below) and never to more than that; for the other formats it holds
# any camera's or screen's image, and one upload peaks near 130 MiB instead of the ~450 MiB a
# 40 MP RGB PNG of 100 KB cost. A decompression bomb is refused from its header, undecoded.
MAX_PIXELS = (2 * LONG_SIDE) ** 2
# MPO: a JPEG carrying further images (phones add a depth or HDR gain map); the first is kept.
ACCEPTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP"}
# Modes Pillow resamples as they are, without a premultiplied copy of the whole image.
RESAMPLED_AS_IS = {"RGB", "L", "CMYK", "YCbCr"}


def _check_upload(probe: Image.Image) -> None:
    """Refuse what we do not take, or would cost too much to decode, from the header alone."""
    if probe.format not in ACCEPTED_FORMATS:
        raise Unsupported(
            "只接受 JPEG、PNG、WebP、GIF、BMP 图片",
            code="unsupported_image",
            details={"format": probe.format},
        )
    width, height = probe.size
    # A JPEG decodes straight to 1/2, 1/4 or 1/8 of its size (the DCT scales for free), never
    # below what is kept: a 50 MP phone photo costs what a 12 MP one does.
    scale = min(1.0, LONG_SIDE / max(width, height, 1))
    probe.draft("RGB", (max(1, round(width * scale)), max(1, round(height * scale))))
    if probe.width * probe.height > MAX_PIXELS:
        raise TooLarge(
            "图片像素过多", code="image_too_large", details={"width": width, "height": height}
        )


def _decode_small(probe: Image.Image) -> Image.Image:
    """The upload's pixels, upright, at most LONG_SIDE on the long side, in RGB.

    Scaled down before anything else copies it: the full-size image is held once (twice for
    a mode converted first, and then the original is let go at once)."""
    image = probe
    if image.mode in ("1", "LA"):
        image = image.convert("L")  # one byte a pixel; alpha is dropped as it always was
    elif image.mode not in RESAMPLED_AS_IS:
        image = image.convert("RGB")  # RGBA, palette, 16-bit: as RGB, alpha dropped
    if image is not probe:
        probe.close()
    image.thumbnail((LONG_SIDE, LONG_SIDE))
    image = ImageOps.exif_transpose(image)  # keep the photo upright, then drop EXIF
    return image.convert("RGB")


def reencode(data: bytes) -> tuple[bytes, int, int]:
    """Decode an upload under a pixel budget and re-encode it as a clean JPEG."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            _check_upload(probe)
            image = _decode_small(probe)
    except Image.DecompressionBombError as exc:  # Pillow's own, larger limit, at open()
        raise TooLarge("图片像素过多", code="image_too_large") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        # ValueError: a PNG text chunk that inflates past Pillow's limit (a zTXt bomb).
        raise Invalid(
            {"photo": "无法识别的图片文件"}, "无法识别的图片文件", code="invalid_image"
        ) from exc
    # Pixels only: a new image has no `info`, so no channel of the upload's metadata (EXIF,
    # XMP, ICC profile, JPEG COM, PNG text chunks, GIF comment) can ride along into the save.
    clean = Image.new("RGB", image.size)
    clean.paste(image)
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue(), clean.width, clean.height


def _photos_today(resident_id: int) -> int:
    """Photos stored today on the resident's clues (only a clue's reporter adds photos)."""
    return db.session.scalar(
        sa.select(sa.func.count(CluePhoto.id))
        .join(ClueReporter, ClueReporter.clue_id == CluePhoto.clue_id)
        .where(
            ClueReporter.resident_id == resident_id,
            CluePhoto.created_at >= local_day_start(local_date()),
        )
    )


def add_photo(*, tracking_no: str, resident_id: int, data: bytes) -> CluePhoto:
    """Attach a photo to the resident's own open clue, within the per-clue and daily counts."""
    clue = service.resident_clue(tracking_no, resident_id)
    if clue.status in (ClueStatus.CLOSED, ClueStatus.REJECTED, ClueStatus.MERGED):
        raise Conflict("线索已办结，不能再补充照片", code="clue_closed")
    count = db.session.scalar(sa.select(sa.func.count()).where(CluePhoto.clue_id == clue.id))
    if count >= MAX_PHOTOS:
        raise Conflict(f"每条线索最多 {MAX_PHOTOS} 张照片", code="too_many_photos")
    # Counted before the image is decoded: past the quota an upload costs no CPU.
    if _photos_today(resident_id) >= PHOTOS_PER_DAY:
        raise Conflict(
            f"每天最多上传 {PHOTOS_PER_DAY} 张照片，请明天再试",
            code="photo_quota",
            details={"limit": PHOTOS_PER_DAY},
        )
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
# Checked before the body is read: a refused upload is never decoded.
@limiter.limit(configured("RATE_LIMIT_PHOTO_NETWORK"), key_func=network_key, scope="photo-network")
@limiter.limit(
    configured("RATE_LIMIT_PHOTO_RESIDENT"),
    key_func=bearer_key(resident_id_from_token),
    scope="photo-resident",
)
@resident_required
@bp.output(PhotoOut, status_code=201)
@bp.doc(
    responses={
        404: "没有这条线索",
        409: "线索已办结、照片已满 6 张，或今天的照片已满 20 张",
        429: "上传过于频繁",
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


def photo_content(photo: CluePhoto) -> bytes:
    """The photo's JPEG; Gone once erased at the end of its retention period (the row, its
    size and its SHA-256 in a referral's dossier stay)."""
    if not photo.content:
        raise Gone("照片已过保存期限，已按规定删除", details={"photo_id": photo.id})
    return photo.content


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
        io.BytesIO(photo_content(photo)),
        mimetype="image/jpeg",
        download_name=f"clue-{clue_id}-{photo_id}.jpg",
    )
