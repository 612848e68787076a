"""Finding a font that can draw Chinese: the configured file, else fontconfig's best match."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess

log = logging.getLogger(__name__)

# Families that read well on a poster and embed anywhere; earlier is better.
_PREFERRED_FAMILIES = (
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Droid Sans Fallback",
)


class FontNotFound(RuntimeError):
    """No font that can draw Chinese is available; the message says how to fix it."""


def _missing_message(configured: str | None) -> str:
    where = f"配置的字体文件 {configured} 不存在，且" if configured else ""
    return (
        f"{where}系统中找不到可以显示中文的字体，无法生成二维码海报。"
        "请安装中文字体（Debian/Ubuntu：apt-get install fonts-wqy-microhei），"
        "或把 QR_FONT_PATH 设置为一个中文 TrueType 字体文件（.ttf/.ttc）的路径。"
    )


def _fontconfig_candidates() -> list[tuple[str, str, str]]:
    """(file, family, fontformat) of every font fontconfig says covers Chinese."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        out = subprocess.run(
            [fc_list, ":lang=zh", "file", "family", "fontformat"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in out.splitlines():
        path, _, rest = line.partition(": ")
        path = path.rstrip(":").strip()
        if not path or not os.path.isfile(path):
            continue
        family, fontformat = rest, ""
        if ":fontformat=" in rest:
            family, _, fontformat = rest.partition(":fontformat=")
        found.append((path, family, fontformat.strip()))
    return found


def _rank(candidate: tuple[str, str, str]) -> tuple[int, int, int, str]:
    path, family, fontformat = candidate
    # TrueType outlines first: reportlab embeds only those, and they rasterise crisply; CFF
    # (Noto CJK) still works in Pillow and fpdf2, so it is a fallback rather than excluded.
    outline = 0 if fontformat == "TrueType" else 1
    names = [name.strip() for name in family.split(",")]
    preferred = min(
        (_PREFERRED_FAMILIES.index(n) for n in names if n in _PREFERRED_FAMILIES),
        default=len(_PREFERRED_FAMILIES),
    )
    # Monospaced and serif faces make a poorer poster than a sans face.
    style = 1 if any(w in family for w in ("Mono", "Serif", "Ming", "Song")) else 0
    return (outline, preferred, style, path)


@functools.lru_cache(maxsize=8)
def find_cjk_font(configured: str | None = None) -> str:
    """Path of a font that draws Chinese: `configured` if it exists, else fontconfig's best."""
    if configured:
        if os.path.isfile(configured):
            return configured
        log.warning("QR_FONT_PATH=%s does not exist; asking fontconfig instead", configured)
    candidates = _fontconfig_candidates()
    if not candidates:
        raise FontNotFound(_missing_message(configured))
    return min(candidates, key=_rank)[0]


def font_identity(path: str) -> tuple[str, int, int]:
    """(path, size, mtime) of a font file, for cache keys that must change when the font does."""
    st = os.stat(path)
    return (os.path.realpath(path), st.st_size, st.st_mtime_ns)
