"""The QR image, poster, mini-program code and export endpoints, decoded with a real reader."""

from __future__ import annotations

import io
import subprocess
import zipfile

import zxingcpp
from PIL import Image

from app.org.models import Role
from tests.app.test_errors import assert_error_shape
from tests.evaluations.helpers import use_sandbox
from tests.factories import bearer, make_city, make_officer, make_staff
from tests.qr.factories import make_code
from tests.qr.test_render import require_tool


def decode(data: bytes) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(data)))]


def _admin(app, city):
    return bearer(app, make_staff(app, Role.ADMIN, city["city"]))


def test_png_svg_and_poster_decode_to_the_code_url(app, client, tmp_path):
    city = make_city(app)
    officer = make_officer(
        app, city["station_a"], name="李明", staff_no="031001", position="户籍民警"
    )
    code = make_code(app, city["station_a"], officer=officer, label="户籍窗口 2 号")
    headers = _admin(app, city)
    url = f"http://pingyi.test/q/{code.token}"
    png = client.get(f"/api/v1/qr-codes/{code.id}/image?format=png", headers=headers)
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert decode(png.data) == [url]
    svg = client.get(f"/api/v1/qr-codes/{code.id}/image?format=svg", headers=headers)
    assert svg.mimetype == "image/svg+xml"
    rsvg = require_tool("rsvg-convert", "librsvg2-bin")
    raster = subprocess.run(
        [rsvg, "--zoom", "4"], input=svg.data, capture_output=True, check=True
    ).stdout
    assert decode(raster) == [url]
    poster = client.get(f"/api/v1/qr-codes/{code.id}/poster", headers=headers)
    assert poster.status_code == 200
    image = Image.open(io.BytesIO(poster.data))
    assert image.size == (1748, 2480)
    assert decode(poster.data) == [url]


def test_renderings_follow_changes(app, client):
    city = make_city(app)
    code = make_code(app, city["station_a"])
    headers = _admin(app, city)
    before = client.get(f"/api/v1/qr-codes/{code.id}/poster", headers=headers).data
    again = client.get(f"/api/v1/qr-codes/{code.id}/poster", headers=headers).data
    assert before == again
    client.patch(
        f"/api/v1/units/{city['station_a'].id}", headers=headers, json={"name": "甲区城关派出所"}
    )
    renamed = client.get(f"/api/v1/qr-codes/{code.id}/poster", headers=headers).data
    assert renamed != before
    rotated = client.post(f"/api/v1/qr-codes/{code.id}/rotate", headers=headers).json
    new_png = client.get(f"/api/v1/qr-codes/{rotated['id']}/image", headers=headers).data
    assert decode(new_png) == [rotated["url"]]


def test_export_zip_and_pdf_of_a_subtree(app, client, tmp_path):
    city = make_city(app)
    codes = [
        make_code(app, city["station_a"]),
        make_code(app, city["station_a"], label="窗口 1"),
        make_code(app, city["court_a"]),
    ]
    outside = make_code(app, city["station_b"])
    headers = _admin(app, city)
    urls = {f"http://pingyi.test/q/{c.token}" for c in codes}
    response = client.get(
        f"/api/v1/qr-codes/export?unit_id={city['district_a'].id}&format=zip", headers=headers
    )
    assert response.status_code == 200 and response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        found = {text for name in archive.namelist() for text in decode(archive.read(name))}
    assert found == urls and f"http://pingyi.test/q/{outside.token}" not in found
    pdf = client.get(
        f"/api/v1/qr-codes/export?unit_id={city['district_a'].id}&format=pdf", headers=headers
    )
    assert pdf.mimetype == "application/pdf"
    (tmp_path / "codes.pdf").write_bytes(pdf.data)
    pdftoppm = require_tool("pdftoppm", "poppler-utils")
    subprocess.run(
        [pdftoppm, "-r", "100", "-png", str(tmp_path / "codes.pdf"), str(tmp_path / "page")],
        check=True,
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 3
    assert {text for page in pages for text in decode(page.read_bytes())} == urls
    empty = client.get(
        f"/api/v1/qr-codes/export?unit_id={city['station_b'].id}&format=zip",
        headers=bearer(app, make_staff(app, Role.ADMIN, city["district_b"])),
    )
    assert empty.status_code == 200
    client.post(f"/api/v1/qr-codes/{outside.id}/revoke", headers=headers, json={})
    assert_error_shape(
        client.get(
            f"/api/v1/qr-codes/export?unit_id={city['station_b'].id}&format=zip", headers=headers
        ),
        404,
        "no_codes",
    )


def test_missing_font_is_a_clear_503(app, client):
    city = make_city(app)
    code = make_code(app, city["station_a"])
    app.config["QR_FONT_PATH"] = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    body = assert_error_shape(
        client.get(f"/api/v1/qr-codes/{code.id}/poster", headers=_admin(app, city)),
        503,
        "font_missing",
    )
    assert "字体" in body["message"]


def test_mini_program_code_is_fetched_once_and_kept(app, client, wechat_sandbox):
    city = make_city(app)
    code = make_code(app, city["station_a"])
    headers = _admin(app, city)
    assert_error_shape(
        client.get(f"/api/v1/qr-codes/{code.id}/wxacode", headers=headers),
        409,
        "wechat_not_configured",
    )
    use_sandbox(app, wechat_sandbox)
    first = client.get(f"/api/v1/qr-codes/{code.id}/wxacode", headers=headers)
    assert first.status_code == 200 and first.mimetype == "image/png"
    assert code.token in decode(first.data)[0]
    second = client.get(f"/api/v1/qr-codes/{code.id}/wxacode", headers=headers)
    assert second.data == first.data
    assert len(wechat_sandbox.calls("/wxa/getwxacodeunlimit")) == 1
    other = make_code(app, city["station_b"])
    wechat_sandbox.fail(45009, api="/wxa/getwxacodeunlimit")
    body = assert_error_shape(
        client.get(f"/api/v1/qr-codes/{other.id}/wxacode", headers=headers), 502, "wechat_error"
    )
    assert body["details"]["errcode"] == 45009 and "频繁" in body["message"]
