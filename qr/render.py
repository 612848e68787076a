"""Rendering QR codes: the bare code as PNG or SVG, and the printable A5 poster.

Everything here is a pure function of its inputs (plus the font file), so results can be cached
on disk by `RenderCache` and rendered in worker processes by `qr.export`.

Speed matters because a batch export renders a poster for every code of a city, and the target
is at most twice the cost of qrcode's own plain PNG (see bench/qr_export.py):
- the poster is a 4-colour palette image, 2 bits a pixel, so there is little to compress;
- the page is cut into row bands: rows that never change are PNG-filtered and deflated once per
  process, the unit name's rows once per unit, and only the location, code and serial rows per
  poster; the pieces are byte-aligned deflate runs joined into one valid zlib stream;
- the code is painted from qrcode's module matrix with one NEAREST resize, not a rectangle a
  module; text is rasterised once per string (LRU).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import io
import json
import os
import struct
import tempfile
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import qrcode
import qrcode.constants
from PIL import Image, ImageDraw, ImageFont

from qr.fonts import FontNotFound, find_cjk_font

__all__ = [
    "A5_SIZE_PX",
    "DPI",
    "FontNotFound",
    "PosterInfo",
    "RENDERER_VERSION",
    "RenderCache",
    "poster_layout",
    "poster_png",
    "qr_matrix",
    "qr_png",
    "qr_svg",
    "resolve_font",
    "warm_up",
]

# Bump whenever any output changes (layout, colours, text, encoding): it is part of every cache key.
RENDERER_VERSION = "1"

DPI = 300
A5_SIZE_PX = (1748, 2480)  # 148 × 210 mm at 300 dpi

# Palette indices. Four colours keep the PNG at 2 bits a pixel (fast to compress, small files) and
# print cleanly: pure black for the code, one blue for the header band, one red for the call to
# action. At 300 dpi text needs no anti-aliasing, so no intermediate shades are needed.
WHITE, INK, BLUE, RED = 0, 1, 2, 3
PALETTE = bytes((255, 255, 255, 0, 0, 0, 22, 66, 140, 196, 24, 32))

CALL_TO_ACTION = "扫码评价  欢迎监督"
HEADER_LINE = "政法服务  群众评议"
HELP_LINE = "微信扫一扫，或用手机相机扫码"
PROMISE_LINE = "反映问题  件件有回音"
# Swapped or pasted-over stickers are a known scam; residents should check where they landed.
CHECK_LINE = "扫码后请核对页面上的单位名称"
SERIAL_PREFIX = "编号 "

_W, _H = A5_SIZE_PX
# 6 mm of white all round: office printers cannot print edge to edge.
_MARGIN = 71
_BAND = (_MARGIN, _MARGIN, _W - _MARGIN, 560)
_TEXT_WIDTH = _W - 2 * _MARGIN - 2 * 60
_LOCATION_BASELINE = 676
_CTA_BASELINE = 842
_QR_BOX = 1230  # square kept white for the code and its quiet zone (104 mm)
_QR_TOP = 930
_QR_LEFT = (_W - _QR_BOX) // 2
_HELP_BASELINE = _QR_TOP + _QR_BOX + 86
_PROMISE_BASELINE = _HELP_BASELINE + 78
_RULE_Y = _PROMISE_BASELINE + 30
_SERIAL_BASELINE = _H - _MARGIN - 4


@dataclass(frozen=True)
class PosterInfo:
    """What one poster shows."""

    url: str  # what the code encodes: f"{PUBLIC_BASE_URL}/q/{token}"
    unit_name: str  # e.g. "临江市公安局江城分局滨江派出所"
    location: str  # window label or officer line, may be ""
    serial: str  # short serial printed small, e.g. "PY000123"


# --- the bare code -------------------------------------------------------------------------


def qr_matrix(url: str) -> list[list[bool]]:
    """The module matrix of `url` (error correction M, smallest version, no quiet zone)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    code.add_data(url)
    code.make(fit=True)
    return code.modules  # type: ignore[return-value]


def _code_image(matrix: list[list[bool]], module_px: int, border: int) -> Image.Image:
    """The code as a palette image (index 1 = dark), `border` white modules round it."""
    n = len(matrix)
    blank = b"\x00" * border
    rows = [blank + bytes(row) + blank for row in matrix]  # bytes([True]) == b"\x01"
    quiet = b"\x00" * (n + 2 * border)
    data = quiet * border + b"".join(rows) + quiet * border
    side = n + 2 * border
    small = Image.frombytes("P", (side, side), data)
    if module_px == 1:
        return small
    return small.resize((side * module_px, side * module_px), Image.Resampling.NEAREST)


def qr_png(url: str, *, box_size: int = 10, border: int = 4) -> bytes:
    """The bare code as a black-and-white PNG (error correction M, `border` modules quiet zone)."""
    if box_size < 1 or border < 0:
        raise ValueError("box_size must be ≥ 1 and border ≥ 0")
    image = _code_image(qr_matrix(url), box_size, border)
    image.putpalette(PALETTE[:6])
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=6, dpi=(DPI, DPI))
    return out.getvalue()


def qr_svg(url: str, *, border: int = 4) -> bytes:
    """The bare code as a standalone SVG, 1 mm a module, dark runs merged into one path."""
    matrix = qr_matrix(url)
    side = len(matrix) + 2 * border
    parts = []
    for y, row in enumerate(matrix):
        x = 0
        n = len(row)
        while x < n:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < n and row[x]:
                x += 1
            parts.append(f"M{start + border} {y + border}h{x - start}v1h-{x - start}z")
    svg = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{side}mm" '
        f'height="{side}mm" viewBox="0 0 {side} {side}" shape-rendering="crispEdges">'
        f'<rect width="{side}" height="{side}" fill="#ffffff"/>'
        f'<path fill="#000000" d="{"".join(parts)}"/></svg>\n'
    )
    return svg.encode()


# --- fonts and text ------------------------------------------------------------------------

# FreeType faces are not thread-safe, and web workers render in threads: one lock for all text.
_FREETYPE = threading.Lock()
_NOTDEF_PROBE = "\U0010fffd"  # a noncharacter: every font maps it to the .notdef glyph
_CJK_PROBE = "扫码评价欢迎监督政法"


@functools.lru_cache(maxsize=8)
def _face_index(path: str) -> int:
    """Which face of a collection to use: the Simplified Chinese, proportional one."""
    if not path.lower().endswith((".ttc", ".otc")):
        return 0
    names = []
    for index in range(32):
        try:
            names.append(ImageFont.truetype(path, 12, index=index).getname()[0] or "")
        except OSError:
            break
    for wanted in (lambda n: " SC" in n, lambda n: "Mono" not in n):
        for index, name in enumerate(names):
            if wanted(name):
                return index
    return 0


def _is_notdef(font: ImageFont.FreeTypeFont, char: str) -> bool:
    with _FREETYPE:
        notdef = font.getmask(_NOTDEF_PROBE)
        glyph = font.getmask(char)
    return glyph.size == notdef.size and bytes(glyph) == bytes(notdef)


@functools.lru_cache(maxsize=64)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    try:
        font = ImageFont.truetype(path, size, index=_face_index(path))
    except OSError as exc:
        raise FontNotFound(
            f"无法读取字体文件 {path}（{exc}）。请安装 fonts-wqy-microhei，"
            "或把 QR_FONT_PATH 设置为中文 TrueType 字体文件的路径。"
        ) from exc
    return font


@functools.lru_cache(maxsize=8)
def _checked_font_path(path: str) -> str:
    """`path` after checking that the font really has Chinese glyphs (no tofu boxes)."""
    font = _font(path, 48)
    if any(_is_notdef(font, ch) for ch in _CJK_PROBE):
        raise FontNotFound(
            f"字体文件 {path} 不含中文字形，海报会显示成方框。请安装 "
            "fonts-wqy-microhei，或把 QR_FONT_PATH 设置为中文字体文件的路径。"
        )
    return path


@functools.lru_cache(maxsize=512)
def _text_mask(
    path: str, size: int, text: str, stroke: int = 0, cutoff: int = 100
) -> tuple[Image.Image, tuple[int, int]]:
    """`text` rasterised once as a 1-bit mask, cropped to its ink (anchored at left baseline)."""
    font = _font(path, size)
    with _FREETYPE:
        left, top, right, bottom = font.getbbox(text, anchor="ls", stroke_width=stroke)
        mask = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
        ImageDraw.Draw(mask).text(
            (-left, -top),
            text,
            font=font,
            fill=255,
            anchor="ls",
            stroke_width=stroke,
            stroke_fill=255,
        )
    # A threshold under half coverage keeps thin strokes of small text solid; a lower one makes
    # a heavier weight (the font has only a regular weight) without the cost of a stroker.
    return mask.point(lambda v: 255 if v >= cutoff else 0, mode="1"), (left, top)


def _draw_centered(
    image: Image.Image,
    path: str,
    size: int,
    text: str,
    baseline: int,
    colour: int,
    *,
    stroke: int = 0,
    cutoff: int = 100,
) -> None:
    """Draw `text` centred (by its ink) on the page width, on the given baseline."""
    mask, (_, top) = _text_mask(path, size, text, stroke, cutoff)
    image.paste(colour, ((_W - mask.width) // 2, baseline + top), mask)


@functools.lru_cache(maxsize=1024)
def _width_per_px(path: str, text: str) -> float:
    """Advance width of `text` per pixel of font size, measured once at a reference size."""
    font = _font(path, 100)
    with _FREETYPE:
        return font.getlength(text) / 100


def _fit_size(path: str, text: str, largest: int, smallest: int, width: int) -> int | None:
    """The largest even size in [smallest, largest] at which `text` fits `width`, if any."""
    per_px = _width_per_px(path, text)
    if per_px <= 0:
        return largest
    # Advances scale linearly with the size, give or take a pixel of rounding per glyph: keep a
    # pixel per character in hand instead of measuring again at every candidate size.
    size = min(largest, int((width - len(text)) / per_px) // 2 * 2)
    return size if size >= smallest else None


# Organisation names read best when broken after one of these (…公安局 / 江城分局 / 滨江派出所).
_NAME_BREAKS = (
    "局",
    "院",
    "委",
    "厅",
    "庭",
    "所",
    "队",
    "站",
    "中心",
    "部",
    "处",
    "科",
    "室",
    "县",
    "区",
    "市",
)


def _split_name(text: str, lines: int) -> list[str]:
    """Split a unit name into `lines` balanced lines, preferring organisational boundaries."""
    if lines == 1 or len(text) < lines:
        return [text]
    best: tuple[float, list[str]] | None = None
    n = len(text)
    cuts_options: list[list[int]] = (
        [[i] for i in range(1, n)]
        if lines == 2
        else [[i, j] for i in range(1, n - 1) for j in range(i + 1, n)]
    )
    for cuts in cuts_options:
        pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, n], strict=True)]
        longest = max(len(p) for p in pieces)
        # A cut inside a word costs as much as four characters of imbalance.
        score = longest + sum(0 if p.endswith(_NAME_BREAKS) else 4 for p in pieces[:-1])
        if best is None or score < best[0]:
            best = (score, pieces)
    assert best is not None
    return best[1]


def _layout_name(path: str, name: str) -> tuple[int, list[str]]:
    """Font size and lines for the unit name inside the header band."""
    for lines, largest, smallest in ((1, 112, 88), (2, 100, 72), (3, 80, 56)):
        pieces = _split_name(name, lines)
        size = min((_fit_size(path, p, largest, smallest, _TEXT_WIDTH) or 0) for p in pieces)
        if size:
            return size, pieces
    pieces = _split_name(name, 3)
    size = min(_fit_size(path, p, 56, 12, _TEXT_WIDTH) or 12 for p in pieces)
    return size, pieces


def _draw_corner_marks(draw: ImageDraw.ImageDraw) -> None:
    """Blue viewfinder brackets just outside the white square, so the quiet zone stays clean."""
    gap, arm, thick = 22, 120, 14
    x0, y0 = _QR_LEFT - gap, _QR_TOP - gap
    x1, y1 = _QR_LEFT + _QR_BOX + gap, _QR_TOP + _QR_BOX + gap
    for cx, cy, dx, dy in ((x0, y0, 1, 1), (x1, y0, -1, 1), (x0, y1, 1, -1), (x1, y1, -1, -1)):
        draw.rectangle(_box(cx, cy, cx + dx * arm, cy + dy * thick), fill=BLUE)
        draw.rectangle(_box(cx, cy, cx + dx * thick, cy + dy * arm), fill=BLUE)


def _box(x0: int, y0: int, x1: int, y1: int) -> tuple[int, int, int, int]:
    return (min(x0, x1), min(y0, y1), max(x0, x1) - 1, max(y0, y1) - 1)


def _new_page() -> Image.Image:
    image = Image.new("P", A5_SIZE_PX, WHITE)
    image.putpalette(PALETTE)
    return image


@functools.lru_cache(maxsize=4)
def _chrome(path: str) -> Image.Image:
    """The parts of the poster that never change: band, call to action, frame, help text."""
    image = _new_page()
    draw = ImageDraw.Draw(image)
    draw.rectangle(_box(*_BAND), fill=BLUE)
    _draw_centered(image, path, 54, HEADER_LINE, _BAND[1] + 112, WHITE)
    draw.rectangle(_box(_W // 2 - 70, _BAND[1] + 146, _W // 2 + 70, _BAND[1] + 152), fill=WHITE)
    _draw_centered(image, path, 140, CALL_TO_ACTION, _CTA_BASELINE, RED, stroke=3)
    _draw_corner_marks(draw)
    _draw_centered(image, path, 64, HELP_LINE, _HELP_BASELINE, INK)
    _draw_centered(image, path, 52, PROMISE_LINE, _PROMISE_BASELINE, BLUE)
    draw.rectangle(_box(_MARGIN, _RULE_Y, _W - _MARGIN, _RULE_Y + 5), fill=BLUE)
    mask, (_, top) = _text_mask(path, 38, CHECK_LINE)
    image.paste(INK, (_W - _MARGIN - mask.width, _SERIAL_BASELINE + top), mask)
    return image


def _draw_unit_name(image: Image.Image, path: str, unit_name: str, top: int) -> None:
    """Draw the unit name into `image`, a strip of the page starting at row `top`."""
    size, lines = _layout_name(path, unit_name)
    line_height = round(size * 1.3)
    area_top, area_bottom = _BAND[1] + 170, _BAND[3] - 30
    first = area_top + (area_bottom - area_top - line_height * len(lines)) // 2 + round(size * 0.95)
    for i, line in enumerate(lines):
        _draw_centered(image, path, size, line, first + i * line_height - top, WHITE, cutoff=8)


# The page is cut into row bands. Most rows never change and are filtered and compressed once per
# process; the unit name's rows once per unit; only the location, code and serial rows once per
# poster. Their deflate bytes are then concatenated into one PNG stream.
_NAME_ROWS = (_BAND[1] + 156, _BAND[3] - 4)
_LOCATION_ROWS = (_LOCATION_BASELINE - 90, _LOCATION_BASELINE + 30)
_CODE_ROWS = (_QR_TOP, _QR_TOP + _QR_BOX)
_SERIAL_ROWS = (_SERIAL_BASELINE - 45, _SERIAL_BASELINE + 15)
_VARYING_ROWS = (_NAME_ROWS, _LOCATION_ROWS, _CODE_ROWS, _SERIAL_ROWS)
_STRIDE = _W // 4  # bytes a row at 2 bits a pixel (1748 is a multiple of 4)


@dataclass(frozen=True)
class _Deflated:
    """Filtered rows compressed as a self-contained, byte-aligned run of deflate blocks."""

    data: bytes
    adler: int
    length: int  # of the uncompressed (filtered) rows


def _deflate_rows(image: Image.Image) -> _Deflated:
    """PNG-filter and compress every row of a 2-bit palette image.

    A row equal to the one above uses the Up filter (all zero bytes, which deflate handles
    fastest); any other row uses no filter. The first row never refers to rows outside this
    piece, and a fresh compressor ending in a sync flush makes the bytes safe to concatenate
    with other pieces into one zlib stream.
    """
    raw = image.tobytes("raw", "P;2")
    up = b"\x02" + bytes(_STRIDE)
    out: list[bytes] = []
    previous = None
    for start in range(0, len(raw), _STRIDE):
        row = raw[start : start + _STRIDE]
        if row == previous:
            out.append(up)
        else:
            out.append(b"\x00")
            out.append(row)
            previous = row
    filtered = b"".join(out)
    compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
    data = compressor.compress(filtered) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return _Deflated(data, zlib.adler32(filtered), len(filtered))


def _adler32_combine(adler1: int, adler2: int, len2: int) -> int:
    """adler32(a + b) from adler32(a), adler32(b) and len(b) (zlib's adler32_combine)."""
    base = 65521
    rem = len2 % base
    sum1 = adler1 & 0xFFFF
    sum2 = (rem * sum1) % base
    sum1 += (adler2 & 0xFFFF) + base - 1
    sum2 += (adler1 >> 16) + (adler2 >> 16) + base - rem
    sum1 %= base
    sum2 %= base
    return sum1 | (sum2 << 16)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body))
        + kind
        + body
        + struct.pack(">I", zlib.crc32(body, zlib.crc32(kind)))
    )


def _png_from_pieces(pieces: list[_Deflated]) -> bytes:
    """A 2-bit palette PNG of the whole page from its compressed row pieces, in order."""
    adler, length = 1, 0
    for piece in pieces:
        adler = _adler32_combine(adler, piece.adler, piece.length)
        length += piece.length
    if length != _H * (_STRIDE + 1):
        raise AssertionError("poster rows do not cover the page")
    # zlib header for a 32 KiB window, then the pieces, an empty final block and the checksum.
    stream = b"".join(
        [b"\x78\x01", *(p.data for p in pieces), b"\x03\x00", struct.pack(">I", adler)]
    )
    dots_per_metre = round(DPI / 0.0254)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _png_chunk(b"IHDR", struct.pack(">IIBBBBB", _W, _H, 2, 3, 0, 0, 0)),
            _png_chunk(b"PLTE", PALETTE),
            _png_chunk(b"pHYs", struct.pack(">IIB", dots_per_metre, dots_per_metre, 1)),
            _png_chunk(b"IDAT", stream),
            _png_chunk(b"IEND", b""),
        ]
    )


@functools.lru_cache(maxsize=4)
def _fixed_pieces(path: str) -> tuple[_Deflated, ...]:
    """The compressed rows around the varying bands: the same on every poster."""
    chrome = _chrome(path)
    pieces = []
    top = 0
    for first, last in _VARYING_ROWS:
        pieces.append(_deflate_rows(chrome.crop((0, top, _W, first))))
        top = last
    pieces.append(_deflate_rows(chrome.crop((0, top, _W, _H))))
    return tuple(pieces)


@functools.lru_cache(maxsize=4)
def _band_backgrounds(path: str) -> tuple[Image.Image, ...]:
    """What is under each varying band before the poster's own content is drawn."""
    chrome = _chrome(path)
    return tuple(chrome.crop((0, first, _W, last)) for first, last in _VARYING_ROWS)


@functools.lru_cache(maxsize=256)
def _name_piece(path: str, unit_name: str) -> _Deflated:
    """The compressed rows of the unit name, once per unit."""
    strip = _band_backgrounds(path)[0].copy()
    _draw_unit_name(strip, path, unit_name, _NAME_ROWS[0])
    return _deflate_rows(strip)


def poster_layout() -> dict[str, tuple[int, int, int, int]]:
    """Named boxes (left, top, right, bottom, in pixels) of the poster, for tests and tooling."""
    return {
        "page": (0, 0, _W, _H),
        "band": _BAND,
        "call_to_action": (_MARGIN, _CTA_BASELINE - 140, _W - _MARGIN, _CTA_BASELINE + 40),
        "code": (_QR_LEFT, _QR_TOP, _QR_LEFT + _QR_BOX, _QR_TOP + _QR_BOX),
    }


def _module_px(modules: int) -> int:
    return _QR_BOX // (modules + 8)  # 4 modules of quiet zone either side always fit


def resolve_font(font_path: str | None = None) -> str:
    """The font file posters use (configured or found), checked to have Chinese glyphs."""
    return _checked_font_path(find_cjk_font(font_path))


def warm_up(font_path: str | None = None) -> str:
    """Load the font and draw the static parts of the poster now; returns the font path."""
    path = resolve_font(font_path)
    _fixed_pieces(path)
    return path


def poster_png(info: PosterInfo, *, font_path: str | None = None) -> bytes:
    """The A5 portrait poster at 300 dpi (1748×2480 px) as a 4-colour PNG."""
    path = resolve_font(font_path)
    _, location_band, code_band, serial_band = (b.copy() for b in _band_backgrounds(path))

    if info.location:
        location = info.location
        while _fit_size(path, location, 76, 40, _TEXT_WIDTH) is None and len(location) > 2:
            location = location[:-2] + "…"  # absurdly long labels are cut, never overflow
        size = _fit_size(path, location, 76, 40, _TEXT_WIDTH) or 40
        _draw_centered(
            location_band, path, size, location, _LOCATION_BASELINE - _LOCATION_ROWS[0], INK
        )

    matrix = qr_matrix(info.url)
    code = _code_image(matrix, _module_px(len(matrix)), 0)
    offset = (_QR_BOX - code.width) // 2
    code_band.paste(code, (_QR_LEFT + offset, offset))

    mask, (left, top) = _text_mask(path, 38, SERIAL_PREFIX + info.serial)
    serial_band.paste(INK, (_MARGIN + left, _SERIAL_BASELINE - _SERIAL_ROWS[0] + top), mask)

    fixed = _fixed_pieces(path)
    varying = (
        _name_piece(path, info.unit_name),
        _deflate_rows(location_band),
        _deflate_rows(code_band),
        _deflate_rows(serial_band),
    )
    pieces = [fixed[0]]
    for piece, after in zip(varying, fixed[1:], strict=True):
        pieces += (piece, after)
    return _png_from_pieces(pieces)


# --- the on-disk cache ---------------------------------------------------------------------


def _canonical(value: object) -> object:
    """A JSON-able, unambiguous form of a key part; unknown types are refused, never repr'd."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    if isinstance(value, Path):
        return {"path": str(value)}
    if isinstance(value, tuple | list):
        return [_canonical(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            "type": type(value).__qualname__,
            "fields": {
                f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)
            },
        }
    raise TypeError(f"cannot use {type(value).__name__} in a render cache key")


class RenderCache:
    """Rendered files on disk, keyed by a hash of the kind, RENDERER_VERSION and every input."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def key(self, kind: str, key_parts: tuple) -> str:
        """The sha256 key of one rendering."""
        blob = json.dumps(
            [kind, RENDERER_VERSION, _canonical(key_parts)],
            ensure_ascii=False,
            separators=(",", ":"),
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()

    def path(self, kind: str, key_parts: tuple) -> Path:
        """Where the rendering for these inputs is (or would be) stored."""
        digest = self.key(kind, key_parts)
        safe_kind = "".join(c if c.isalnum() or c in "-_" else "_" for c in kind) or "_"
        return self.directory / safe_kind / digest[:2] / digest

    def get_or_render(self, kind: str, key_parts: tuple, render: Callable[[], bytes]) -> bytes:
        """The stored rendering for these inputs, rendering and storing it on a miss."""
        target = self.path(kind, key_parts)
        try:
            data = target.read_bytes()
        except FileNotFoundError:
            data = b""
        if data:  # an empty file can only be a torn write after a crash: render again
            return data
        data = render()
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write a private temp file in the same directory and rename it over the target:
        # readers see the old state or the whole file, and concurrent writers of the same key
        # write identical bytes, so whichever rename lands last is equally right.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return data
