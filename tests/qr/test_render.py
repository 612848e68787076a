"""QR rendering: every output decodes to exactly its URL, posters really draw Chinese text."""

from __future__ import annotations

import io
import os
import secrets
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zlib
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image, ImageChops, ImageFont

import qr.render as render
from qr.fonts import FontNotFound, find_cjk_font
from qr.render import (
    PosterInfo,
    RenderCache,
    poster_layout,
    poster_png,
    qr_matrix,
    qr_png,
    qr_svg,
    resolve_font,
)

CTA = "扫码评价"
NOTDEF = "\U0010fffd"  # a noncharacter: every font draws its .notdef (tofu) glyph for it
LATIN_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def require_tool(name: str, package: str) -> str:
    """Path of a command-line tool; skip without it, or fail when PINGYI_REQUIRE_SERVICES=1."""
    path = shutil.which(name)
    if path:
        return path
    if os.environ.get("PINGYI_REQUIRE_SERVICES") == "1":
        pytest.fail(
            f"缺少命令 {name}（Debian 软件包 {package}），CI 要求所有工具可用", pytrace=False
        )
    pytest.skip(f"缺少命令 {name}（请安装 Debian 软件包 {package}）")


def new_url() -> str:
    return f"http://pingyi.test/q/{secrets.token_urlsafe(16)}"  # 22-character token


def decode(image: Image.Image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image)]


def info(**changes: str) -> PosterInfo:
    fields = {
        "url": new_url(),
        "unit_name": "临江市公安局江城分局滨江派出所",
        "location": "户籍窗口 2 号",
        "serial": "PY000123",
    }
    return PosterInfo(**{**fields, **changes})


@pytest.fixture(autouse=True)
def _fresh_font_lookup():
    find_cjk_font.cache_clear()
    yield
    find_cjk_font.cache_clear()


def cjk_font_or_skip() -> str:
    """The CJK font posters use; skip without one, or fail when PINGYI_REQUIRE_SERVICES=1."""
    try:
        return resolve_font(os.environ.get("QR_FONT_PATH"))
    except FontNotFound as exc:
        if os.environ.get("PINGYI_REQUIRE_SERVICES") == "1":
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(f"没有中文字体：{exc}")


@pytest.fixture(scope="module")
def font() -> str:
    return cjk_font_or_skip()


# --- bare code -------------------------------------------------------------------------------


@pytest.mark.parametrize(("box_size", "border"), [(10, 4), (3, 4), (8, 6)])
def test_qr_png_decodes_with_quiet_zone(box_size: int, border: int) -> None:
    url = new_url()
    image = Image.open(io.BytesIO(qr_png(url, box_size=box_size, border=border)))
    modules = len(qr_matrix(url))
    assert image.size == ((modules + 2 * border) * box_size,) * 2
    results = zxingcpp.read_barcodes(image)
    assert [r.text for r in results] == [url]
    assert results[0].ec_level in {"M", "Q", "H"}
    grey = image.convert("L")
    quiet = border * box_size
    side = image.width
    for box in (
        (0, 0, side, quiet),
        (0, side - quiet, side, side),
        (0, 0, quiet, side),
        (side - quiet, 0, side, side),
    ):
        assert grey.crop(box).getextrema() == (255, 255), "quiet zone must stay white"


def test_qr_svg_is_standalone_xml_and_decodes_when_rasterised(tmp_path: Path) -> None:
    rsvg = require_tool("rsvg-convert", "librsvg2-bin")
    url = new_url()
    svg = qr_svg(url)
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    source = tmp_path / "code.svg"
    source.write_bytes(svg)
    target = tmp_path / "code.png"
    subprocess.run(
        [rsvg, "--width", "400", "--height", "400", "--output", str(target), str(source)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert decode(Image.open(target)) == [url]


# --- poster ----------------------------------------------------------------------------------


def test_poster_is_a5_at_300_dpi_and_decodes(font: str) -> None:
    poster = info()
    data = poster_png(poster, font_path=font)
    image = Image.open(io.BytesIO(data))
    assert image.size == (1748, 2480)
    assert round(image.info["dpi"][0]) == 300
    image.load()  # chunk CRCs and the zlib stream are checked while decoding
    assert decode(image) == [poster.url]


def test_poster_png_stream_is_well_formed(font: str) -> None:
    data = poster_png(info(), font_path=font)
    pos, idat = 8, b""
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        crc = int.from_bytes(data[pos + 8 + length : pos + 12 + length], "big")
        assert zlib.crc32(kind + body) == crc, kind
        if kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)  # raises on a bad adler32 or a broken deflate stream
    assert len(raw) == 2480 * (1748 // 4 + 1)


def test_poster_code_is_large_with_quiet_zone(font: str) -> None:
    poster = info()
    image = Image.open(io.BytesIO(poster_png(poster, font_path=font))).convert("L")
    (result,) = zxingcpp.read_barcodes(image)
    corners = result.position
    width_px = corners.top_right.x - corners.top_left.x
    modules = len(qr_matrix(poster.url))
    module_px = (width_px + 1) / modules
    left, top, right, bottom = poster_layout()["code"]
    assert (right - left) / 300 * 25.4 >= 90, "code with quiet zone at least 9 cm wide"
    assert width_px / 300 * 25.4 >= 75, "modules alone at least 7.5 cm wide"
    # Everything between the code and the edge of its white square is white: the quiet zone.
    x0, y0 = corners.top_left.x, corners.top_left.y
    x1, y1 = corners.bottom_right.x, corners.bottom_right.y
    assert x0 - left >= 4 * module_px - 1 and right - x1 >= 4 * module_px - 1
    assert y0 - top >= 4 * module_px - 1 and bottom - y1 >= 4 * module_px - 1
    for box in (
        (left, top, right, y0 - 1),
        (left, y1 + 2, right, bottom),
        (left, top, x0 - 1, bottom),
        (x1 + 2, top, right, bottom),
    ):
        assert image.crop(box).getextrema() == (255, 255)


def test_posters_differ_only_by_their_inputs(font: str) -> None:
    first = info(unit_name="临江市中级人民法院", location="立案窗口 1 号")
    again = PosterInfo(first.url, first.unit_name, first.location, first.serial)
    assert poster_png(first, font_path=font) == poster_png(again, font_path=font)
    other = PosterInfo(first.url, "临江市人民检察院", first.location, first.serial)
    assert poster_png(other, font_path=font) != poster_png(first, font_path=font)


@pytest.mark.parametrize(
    "unit_name",
    [
        "司法所",
        "临江市江城区人民法院滨江人民法庭",
        "临江市公安局江城分局出入境管理大队滨江服务站户政服务中心",
    ],
)
def test_long_and_short_names_and_locations_still_decode(font: str, unit_name: str) -> None:
    poster = info(
        unit_name=unit_name,
        location="户籍窗口 2 号 · 辅警 王小明 编号 J0310012 · 值班时间 周一至周五",
    )
    assert decode(Image.open(io.BytesIO(poster_png(poster, font_path=font)))) == [poster.url]


@pytest.mark.parametrize(
    "unit_name",
    [
        "司法所",
        "临江市公安局江城分局滨江派出所",
        "临江市公安局江城分局出入境管理大队滨江服务站户政服务中心",
        "临江市公安局江城分局出入境管理大队滨江服务站户政服务中心第三接待室值班组联络点",
        "临江市" * 30,
    ],
)
def test_unit_name_stays_inside_its_rows(font: str, unit_name: str) -> None:
    # The name's rows are compressed separately from the rest of the page, so ink outside them
    # would be silently lost: draw on the whole page and check where the ink went.
    chrome = render._chrome(font)
    page = chrome.copy()
    render._draw_unit_name(page, font, unit_name, 0)
    left, top, right, bottom = ImageChops.difference(
        page.convert("L"), chrome.convert("L")
    ).getbbox()
    first, last = render._NAME_ROWS
    assert first <= top and bottom <= last
    band = poster_layout()["band"]
    assert band[0] < left and right < band[2]


def test_font_has_real_chinese_glyphs_not_tofu(font: str) -> None:
    face = ImageFont.truetype(font, 64)
    tofu = face.getmask(NOTDEF)
    for char in CTA + "欢迎监督":
        glyph = face.getmask(char)
        assert glyph.getbbox() is not None, f"{char} 画出来是空白"
        assert (glyph.size, bytes(glyph)) != (tofu.size, bytes(tofu)), f"{char} 画成了方框"


def test_tofu_check_catches_a_font_without_chinese(font: str) -> None:
    if not os.path.isfile(LATIN_FONT):
        pytest.skip("没有 DejaVu 字体（Debian 软件包 fonts-dejavu-core）")
    face = ImageFont.truetype(LATIN_FONT, 64)
    tofu = face.getmask(NOTDEF)
    assert (face.getmask("扫").size, bytes(face.getmask("扫"))) == (tofu.size, bytes(tofu))
    with pytest.raises(FontNotFound, match="不含中文字形"):
        poster_png(info(), font_path=LATIN_FONT)


def test_poster_text_reads_back_as_chinese(font: str, tmp_path: Path) -> None:
    tesseract = require_tool("tesseract", "tesseract-ocr tesseract-ocr-chi-sim")
    langs = subprocess.run(
        [tesseract, "--list-langs"], capture_output=True, text=True, timeout=60
    ).stdout.split()
    if "chi_sim" not in langs:
        require_tool("tesseract-chi_sim", "tesseract-ocr-chi-sim")
    poster = info(unit_name="临江市公安局江城分局滨江派出所")
    image = Image.open(io.BytesIO(poster_png(poster, font_path=font))).convert("L")
    layout = poster_layout()

    def ocr(box: tuple[int, int, int, int], name: str) -> str:
        path = tmp_path / f"{name}.png"
        image.crop(box).save(path)
        out = subprocess.run(
            [tesseract, str(path), "-", "-l", "chi_sim", "--psm", "6"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
        return "".join(out.split())

    assert "扫码评价欢迎监督" in ocr(layout["call_to_action"], "cta")
    assert "滨江派出所" in ocr(layout["band"], "band")


def test_missing_font_raises_with_a_chinese_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no fc-list: fontconfig is unavailable
    missing = str(tmp_path / "没有这个字体.ttf")
    with pytest.raises(FontNotFound) as caught:
        poster_png(info(), font_path=missing)
    message = str(caught.value)
    assert "fonts-wqy-microhei" in message and "QR_FONT_PATH" in message
    assert "中文字体" in message and missing in message
    with pytest.raises(FontNotFound):
        find_cjk_font(missing)


def test_find_cjk_font_prefers_configured_then_truetype(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    configured = tmp_path / "mine.ttf"
    configured.write_bytes(b"x")
    assert find_cjk_font(str(configured)) == str(configured)
    noto = str(tmp_path / "NotoSansCJK-Regular.ttc")
    wqy = str(tmp_path / "wqy-microhei.ttc")
    monkeypatch.setattr(
        "qr.fonts._fontconfig_candidates",
        lambda: [
            (noto, "Noto Sans CJK SC,Noto Sans CJK SC Regular", "CFF"),
            (wqy, "WenQuanYi Micro Hei Mono,文泉驿等宽微米黑", "TrueType"),
            (wqy, "WenQuanYi Micro Hei,文泉驿微米黑", "TrueType"),
        ],
    )
    assert find_cjk_font(None) == wqy
    assert find_cjk_font(str(tmp_path / "gone.ttf")) == wqy


def test_fontconfig_finds_the_installed_font(font: str) -> None:
    require_tool("fc-list", "fontconfig")
    found = find_cjk_font(None)
    assert os.path.isfile(found)
    assert resolve_font(None) == found


# --- cache -----------------------------------------------------------------------------------


def test_cache_renders_once_per_distinct_input(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path)
    calls: list[PosterInfo] = []

    def renderer(poster: PosterInfo):
        def run() -> bytes:
            calls.append(poster)
            return f"{poster.unit_name}|{poster.url}".encode()

        return run

    poster = info()
    first = cache.get_or_render("poster", (poster, "/fonts/a.ttc"), renderer(poster))
    again = cache.get_or_render("poster", (poster, "/fonts/a.ttc"), renderer(poster))
    assert first == again and len(calls) == 1

    renamed = PosterInfo(
        poster.url, "临江市公安局江城分局城东派出所", poster.location, poster.serial
    )
    assert cache.get_or_render("poster", (renamed, "/fonts/a.ttc"), renderer(renamed)) != first
    cache.get_or_render("poster", (poster, "/fonts/b.ttc"), renderer(poster))
    cache.get_or_render("png", (poster, "/fonts/a.ttc"), renderer(poster))
    assert len(calls) == 4


def test_cache_key_includes_renderer_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = RenderCache(tmp_path)
    before = cache.key("png", ("u",))
    monkeypatch.setattr(render, "RENDERER_VERSION", render.RENDERER_VERSION + "-next")
    assert cache.key("png", ("u",)) != before
    assert cache.key("png", ("u",)) != cache.key("png", (("u",),))  # structure counts too
    with pytest.raises(TypeError):
        cache.key("png", (object(),))


def _payload(i: int) -> bytes:
    return bytes([i]) * 300_000


def _hammer(directory: str) -> list[int]:
    cache = RenderCache(directory)
    seen = []
    for round_ in range(40):
        key = round_ % 4
        data = cache.get_or_render("blob", ("same", key), lambda k=key: _payload(k))
        seen.append(data == _payload(key))
    return seen


@pytest.mark.parametrize("executor", [ProcessPoolExecutor, ThreadPoolExecutor])
def test_cache_is_safe_with_concurrent_writers(tmp_path: Path, executor: type) -> None:
    with executor(max_workers=4) as pool:
        results = list(pool.map(_hammer, [str(tmp_path)] * 4))
    assert all(all(r) for r in results)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 4, "one file per key, no temp files left behind"
    cache = RenderCache(tmp_path)
    for key in range(4):
        assert cache.path("blob", ("same", key)).read_bytes() == _payload(key)


def test_cache_rerenders_a_torn_empty_file(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path)
    target = cache.path("png", ("x",))
    target.parent.mkdir(parents=True)
    target.write_bytes(b"")
    assert cache.get_or_render("png", ("x",), lambda: b"fresh") == b"fresh"
    assert target.read_bytes() == b"fresh"


def test_adler32_combine_matches_zlib() -> None:
    data = os.urandom(200_000)
    for cut in (0, 1, 65520, 65521, 123_457, 200_000):
        a, b = data[:cut], data[cut:]
        combined = render._adler32_combine(zlib.adler32(a), zlib.adler32(b), len(b))
        assert combined == zlib.adler32(data)
