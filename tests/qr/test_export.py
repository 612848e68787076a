"""Batch export: ZIP and PDF decode page by page, pages are exactly A5, work is parallel."""

from __future__ import annotations

import io
import os
import re
import subprocess
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import zxingcpp
from flask import Flask
from PIL import Image

import qr.cli
import qr.service
from qr.export import export_pdf, export_zip, iter_posters
from qr.fonts import FontNotFound, find_cjk_font
from qr.render import PosterInfo
from tests.qr.test_render import cjk_font_or_skip, new_url, require_tool

A5_POINTS = (148 / 25.4 * 72, 210 / 25.4 * 72)  # 419.53 × 595.28


@pytest.fixture(scope="module")
def font() -> str:
    return cjk_font_or_skip()


def make_infos(count: int) -> list[PosterInfo]:
    units = [
        "临江市公安局江城分局滨江派出所",
        "临江市江城区人民法院",
        "临江市江城区司法局城东司法所",
    ]
    return [
        PosterInfo(
            url=new_url(),
            unit_name=units[i % len(units)],
            location=f"户籍窗口 {i + 1} 号" if i % 2 else f"民警 李明 警号 03100{i}",
            serial=f"PY{i + 1:06d}",
        )
        for i in range(count)
    ]


def decode(image: Image.Image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image)]


def test_zip_has_one_decodable_poster_per_code_in_order(font: str) -> None:
    infos = make_infos(6)
    done: list[int] = []
    out = io.BytesIO()
    assert export_zip(infos, out, workers=2, progress=done.append, font_path=font) == 6
    assert done == [1, 2, 3, 4, 5, 6]
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == [f"{i.serial}.png" for i in infos]
        for poster in infos:
            image = Image.open(io.BytesIO(archive.read(f"{poster.serial}.png")))
            assert image.size == (1748, 2480)
            assert decode(image) == [poster.url]


def test_pdf_pages_are_a5_and_each_decodes(font: str, tmp_path: Path) -> None:
    pdfinfo = require_tool("pdfinfo", "poppler-utils")
    pdftoppm = require_tool("pdftoppm", "poppler-utils")
    infos = make_infos(5)
    target = tmp_path / "posters.pdf"
    done: list[int] = []
    assert export_pdf(infos, target, workers=2, progress=done.append, font_path=font) == 5
    assert done[-1] == 5
    assert not list(tmp_path.glob("*.part")), "the temp file was renamed into place"

    summary = subprocess.run(
        [pdfinfo, str(target)], capture_output=True, text=True, timeout=60, check=True
    )
    assert summary.stderr == "", summary.stderr  # poppler reports any syntax or xref damage
    assert re.search(r"^Pages:\s+5$", summary.stdout, re.M)
    boxes = subprocess.run(
        [pdfinfo, "-box", "-f", "1", "-l", "5", str(target)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    media = re.findall(r"Page\s+\d+\s+MediaBox:\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", boxes)
    assert len(media) == 5
    for x0, y0, x1, y1 in media:
        assert (float(x0), float(y0)) == (0.0, 0.0)
        assert float(x1) == pytest.approx(A5_POINTS[0], abs=0.05)
        assert float(y1) == pytest.approx(A5_POINTS[1], abs=0.05)

    rendered = subprocess.run(
        [pdftoppm, "-r", "100", "-gray", "-png", str(target), str(tmp_path / "page")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert rendered.stderr == "", rendered.stderr
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 5
    for page, poster in zip(pages, infos, strict=True):
        image = Image.open(page)
        assert image.size == (583, 827)  # A5 at 100 dpi
        assert decode(image) == [poster.url]


def test_pdf_to_a_stream(font: str) -> None:
    out = io.BytesIO()
    assert export_pdf(make_infos(2), out, workers=1, font_path=font) == 2
    data = out.getvalue()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert data.count(b"/Type /Page ") == 2


def test_export_uses_several_processes(font: str) -> None:
    infos = make_infos(16)
    posters = list(iter_posters(infos, workers=2, font_path=font))
    assert [p.info for p in posters] == infos, "results come back in input order"
    pids = {p.pid for p in posters}
    assert len(pids) == 2 and os.getpid() not in pids
    assert decode(Image.open(io.BytesIO(posters[-1].png))) == [infos[-1].url]


def test_one_worker_renders_in_process(font: str) -> None:
    posters = list(iter_posters(make_infos(3), workers=1, font_path=font))
    assert {p.pid for p in posters} == {os.getpid()}


def test_missing_font_fails_before_writing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no fc-list
    find_cjk_font.cache_clear()
    target = tmp_path / "out.zip"
    with pytest.raises(FontNotFound, match="fonts-wqy-microhei"):
        export_zip(make_infos(2), target, workers=2, font_path=str(tmp_path / "none.ttf"))
    find_cjk_font.cache_clear()
    assert list(tmp_path.iterdir()) == [], "no output and no temp file left"


# --- CLI -------------------------------------------------------------------------------------


@pytest.fixture
def cli_app(monkeypatch: pytest.MonkeyPatch, font: str) -> Flask:
    # The command's database calls are replaced: these tests cover the command, not the queries.
    unit = SimpleNamespace(name="临江市公安局江城分局", code="JC-GA")
    infos = make_infos(4)
    monkeypatch.setattr(
        qr.cli, "find_unit_by_code", lambda code: unit if code == unit.code else None
    )
    monkeypatch.setattr(qr.service, "subtree_poster_infos", lambda u: infos if u is unit else [])
    monkeypatch.setattr(
        qr.cli, "db", SimpleNamespace(session=SimpleNamespace(rollback=lambda: None))
    )
    app = Flask(__name__)
    app.config["QR_FONT_PATH"] = font
    app.cli.add_command(qr.cli.qr_cli)
    app.extensions["test_infos"] = infos
    return app


def test_cli_exports_a_pdf(cli_app: Flask, tmp_path: Path) -> None:
    target = tmp_path / "codes.pdf"
    result = cli_app.test_cli_runner().invoke(
        args=[
            "qr",
            "export",
            "--unit-code",
            "JC-GA",
            "--format",
            "pdf",
            "--out",
            str(target),
            "--workers",
            "2",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "4 张海报" in result.output and str(target) in result.output
    assert target.read_bytes().startswith(b"%PDF-")


def test_cli_exports_a_zip(cli_app: Flask, tmp_path: Path) -> None:
    target = tmp_path / "codes.zip"
    result = cli_app.test_cli_runner().invoke(
        args=["qr", "export", "--unit-code", "JC-GA", "--format", "zip", "--out", str(target)]
    )
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(target) as archive:
        assert len(archive.namelist()) == 4


def test_cli_rejects_an_unknown_unit(cli_app: Flask, tmp_path: Path) -> None:
    result = cli_app.test_cli_runner().invoke(
        args=["qr", "export", "--unit-code", "NOPE", "--out", str(tmp_path / "x.pdf")]
    )
    assert result.exit_code == 1
    assert "单位不存在：NOPE" in result.output
    assert not (tmp_path / "x.pdf").exists()
