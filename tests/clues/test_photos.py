"""Photos a reporter adds to their clue: re-encoded as plain JPEG without EXIF (no GPS, no
camera), hashed for the dossier, bounded in pixels and number, and shown only to staff who
handle the clue."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from datetime import timedelta

import pytest
from PIL import ExifTags, Image

from app import clock
from app.org.models import Role
from tests.clues.factories import Cast, Filed, make_cast
from tests.evaluations.helpers import h5_resident
from tests.factories import make_staff

GPS = ExifTags.IFD.GPSInfo


def jpeg_with_gps(size: tuple[int, int] = (640, 480), orientation: int | None = None) -> bytes:
    """A phone photo: camera make and model, and where it was taken."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Apple"
    exif[ExifTags.Base.Model] = "iPhone 15 Pro"
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(GPS)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (29.0, 50.0, 30.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (114.0, 19.0, 20.25)
    out = io.BytesIO()
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, size[0] // 2, size[1] // 4))  # upright: blue on top-left
    image.save(out, "JPEG", exif=exif)
    data = out.getvalue()
    with Image.open(io.BytesIO(data)) as check:  # the original really carries all of it
        assert check.getexif()[ExifTags.Base.Model] == "iPhone 15 Pro"
        assert check.getexif().get_ifd(GPS)[ExifTags.GPS.GPSLatitudeRef] == "N"
    return data


def png_claiming(width: int, height: int) -> bytes:
    """A real PNG of `width`×`height` black 1-bit pixels: megabytes of zeros that compress to
    a file of a few kilobytes (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    compressor = zlib.compressobj(9)
    row = b"\0" * (1 + (width + 7) // 8)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )


def upload(
    cast: Cast,
    tracking_no: str,
    data: bytes,
    *,
    name: str = "photo.jpg",
    resident: dict[str, str] | None = None,
):
    return cast.client.post(
        f"/api/v1/me/clues/{tracking_no}/photos",
        headers=resident or cast.resident,
        data={"photo": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def _photo(cast: Cast, clue: Filed, photo_id: int, who=None):
    return cast.client.get(
        f"/api/v1/clues/{clue.id}/photos/{photo_id}", headers=cast.as_(who or cast.screener)
    )


def test_a_photo_comes_back_without_exif_at_the_same_size(app, client):
    cast = make_cast(app, client)
    clue = cast.file()
    original = jpeg_with_gps()
    added = upload(cast, clue.tracking_no, original)
    assert added.status_code == 201, added.json
    assert (added.json["width"], added.json["height"]) == (640, 480)

    served = _photo(cast, clue, added.json["id"])
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    content = served.get_data()
    assert content != original
    with Image.open(io.BytesIO(content)) as image:
        assert image.format == "JPEG" and image.size == (640, 480)
        assert dict(image.getexif()) == {}
        assert "exif" not in image.info
    assert b"iPhone" not in content and b"Apple" not in content
    assert hashlib.sha256(content).hexdigest() == added.json["sha256"]
    listed = client.get(f"/api/v1/clues/{clue.id}/photos", headers=cast.as_(cast.screener)).json[
        "items"
    ]
    assert [(p["id"], p["sha256"]) for p in listed] == [(added.json["id"], added.json["sha256"])]


def _with_every_metadata_channel(kind: str) -> bytes:
    """An image carrying identifying text in each channel its format has."""
    from PIL import PngImagePlugin

    secret = "张三 13800138000 滨江派出所后门"
    image = Image.new("RGB", (320, 240), (10, 120, 40))
    out = io.BytesIO()
    if kind == "jpeg-comment":
        image.save(out, "JPEG", comment=secret.encode(), icc_profile=b"ICC" + secret.encode())
    elif kind == "jpeg-xmp":
        image.save(out, "JPEG", xmp=f"<x:xmpmeta>{secret}</x:xmpmeta>".encode())
    elif kind == "png-text":
        info = PngImagePlugin.PngInfo()
        info.add_text("Author", secret)
        info.add_itxt("Description", secret)
        image.save(out, "PNG", pnginfo=info)
    else:  # gif-comment
        image.convert("P").save(out, "GIF", comment=secret.encode())
    data = out.getvalue()
    assert secret.encode() in data or secret.encode("utf-8") in data or kind == "png-text"
    return data


@pytest.mark.parametrize("kind", ["jpeg-comment", "jpeg-xmp", "png-text", "gif-comment"])
def test_no_metadata_channel_survives_the_re_encoding(app, client, kind):
    cast = make_cast(app, client)
    clue = cast.file()
    added = upload(cast, clue.tracking_no, _with_every_metadata_channel(kind))
    assert added.status_code == 201, added.json
    content = _photo(cast, clue, added.json["id"]).get_data()
    for marker in ("张三", "13800138000", "滨江"):
        assert marker.encode() not in content, kind
    with Image.open(io.BytesIO(content)) as image:
        assert not {"comment", "icc_profile", "xmp", "exif"} & set(image.info), image.info


def test_a_photo_taken_sideways_is_turned_upright_before_exif_goes(app, client):
    cast = make_cast(app, client)
    clue = cast.file()
    added = upload(cast, clue.tracking_no, jpeg_with_gps((400, 200), orientation=6))
    assert (added.json["width"], added.json["height"]) == (200, 400)
    with Image.open(io.BytesIO(_photo(cast, clue, added.json["id"]).get_data())) as image:
        assert image.size == (200, 400) and dict(image.getexif()) == {}


@pytest.mark.parametrize(
    ("size", "kept"),
    [
        pytest.param((3000, 1500), (2048, 1024), id="wide"),
        pytest.param((1000, 4096), (500, 2048), id="tall"),
        pytest.param((2048, 2048), (2048, 2048), id="at-the-limit"),
    ],
)
def test_a_large_photo_is_scaled_to_2048_on_its_long_side(app, client, size, kept):
    cast = make_cast(app, client)
    clue = cast.file()
    out = io.BytesIO()
    Image.new("RGB", size, "white").save(out, "PNG")
    added = upload(cast, clue.tracking_no, out.getvalue(), name="scan.png")
    assert added.status_code == 201, added.json
    assert (added.json["width"], added.json["height"]) == kept
    with Image.open(io.BytesIO(_photo(cast, clue, added.json["id"]).get_data())) as image:
        assert image.format == "JPEG" and image.size == kept


@pytest.mark.parametrize(
    ("width", "height"),
    [
        pytest.param(20000, 20000, id="400-megapixels"),
        pytest.param(10000, 5000, id="50-megapixels"),
    ],
)
def test_a_decompression_bomb_is_refused_from_its_header(app, client, width, height):
    cast = make_cast(app, client)
    clue = cast.file()
    bomb = png_claiming(width, height)
    assert len(bomb) < 200_000
    response = upload(cast, clue.tracking_no, bomb, name="bomb.png")
    assert response.status_code == 413, response.json
    assert response.json["error"] == "image_too_large"
    assert response.json["message"] == "图片像素过多"
    assert (
        client.get(f"/api/v1/clues/{clue.id}/photos", headers=cast.as_(cast.screener)).json["items"]
        == []
    )


@pytest.mark.parametrize(
    ("data", "name"),
    [
        pytest.param(b"%PDF-1.4 not an image at all", "photo.jpg", id="pdf-named-jpg"),
        pytest.param(b"", "empty.jpg", id="empty"),
        pytest.param(jpeg_with_gps()[:200], "cut.jpg", id="truncated-jpeg"),
    ],
)
def test_something_that_is_not_an_image_is_refused(app, client, data, name):
    cast = make_cast(app, client)
    clue = cast.file()
    response = upload(cast, clue.tracking_no, data, name=name)
    assert response.status_code == 422, response.json
    assert response.json["error"] == "invalid_image"
    assert response.json["message"] == "无法识别的图片文件"


def test_the_photo_field_is_required(app, client):
    cast = make_cast(app, client)
    clue = cast.file()
    response = client.post(
        f"/api/v1/me/clues/{clue.tracking_no}/photos",
        headers=cast.resident,
        data={"file": (io.BytesIO(b"x"), "a.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert response.json["details"]["fields"] == {"photo": ["必填"]}


def test_at_most_six_photos_per_clue(app, client):
    cast = make_cast(app, client)
    clue = cast.file()
    small = io.BytesIO()
    Image.new("RGB", (32, 32), "green").save(small, "JPEG")
    for _ in range(6):
        assert upload(cast, clue.tracking_no, small.getvalue()).status_code == 201
    seventh = upload(cast, clue.tracking_no, small.getvalue())
    assert (seventh.status_code, seventh.json["error"]) == (409, "too_many_photos")
    assert seventh.json["message"] == "每条线索最多 6 张照片"


def test_no_photos_after_the_clue_is_closed(app, client):
    cast = make_cast(app, client)
    clue = cast.drive("closed")
    response = upload(cast, clue.tracking_no, jpeg_with_gps())
    assert (response.status_code, response.json["error"]) == (409, "clue_closed")


def test_only_the_reporter_adds_photos_to_their_clue(app, client):
    cast = make_cast(app, client)
    clue = cast.file()
    stranger = upload(cast, clue.tracking_no, jpeg_with_gps(), resident=h5_resident(client))
    assert (stranger.status_code, stranger.json["error"]) == (404, "not_found")
    staff = client.post(
        f"/api/v1/me/clues/{clue.tracking_no}/photos",
        headers=cast.as_(cast.screener),
        data={"photo": (io.BytesIO(jpeg_with_gps()), "a.jpg")},
        content_type="multipart/form-data",
    )
    assert staff.status_code == 401


def test_staff_outside_the_clues_scope_cannot_see_its_photos(app, client):
    cast = make_cast(app, client)
    clue = cast.drive("verifying")
    photo_id = upload(cast, clue.tracking_no, jpeg_with_gps()).json["id"]
    outsiders = {
        "verifier-of-another-station": make_staff(app, Role.VERIFIER, cast.units["station_b"]),
        "screener-of-another-district": make_staff(app, Role.SCREENER, cast.units["district_b"]),
        "superior-of-another-district": make_staff(app, Role.SUPERIOR, cast.units["district_b"]),
        "liaison-without-a-referral": cast.liaison,
        "analyst": cast.analyst,
    }
    for name, who in outsiders.items():
        for path in (
            f"/api/v1/clues/{clue.id}/photos",
            f"/api/v1/clues/{clue.id}/photos/{photo_id}",
        ):
            response = client.get(path, headers=cast.as_(who))
            assert response.status_code == 403, (name, path, response.json)
            assert response.json["error"] in ("out_of_scope", "forbidden")
    for who in (cast.screener, cast.verifier, cast.superior, cast.admin):
        assert _photo(cast, clue, photo_id, who).status_code == 200
    # A photo id from another clue is not reachable through this one.
    other = cast.file()
    assert _photo(cast, other, photo_id).status_code == 404


# ---------------------------------------------------------------- what one upload may cost


def test_a_resident_stores_at_most_twenty_photos_a_day(app, client):
    cast = make_cast(app, client)
    small = io.BytesIO()
    Image.new("RGB", (32, 32), "green").save(small, "JPEG")
    now = clock.utcnow()
    clock.set_now(now)
    try:
        clues = [cast.file() for _ in range(4)]
        for n in range(20):
            added = upload(cast, clues[n // 6].tracking_no, small.getvalue())
            assert added.status_code == 201, (n, added.json)
        refused = upload(cast, clues[3].tracking_no, small.getvalue())
        assert (refused.status_code, refused.json["error"]) == (409, "photo_quota")
        assert refused.json["message"] == "每天最多上传 20 张照片，请明天再试"
        listed = client.get(f"/api/v1/clues/{clues[3].id}/photos", headers=cast.as_(cast.screener))
        assert len(listed.json["items"]) == 2
        # Another resident's photos are their own count.
        other = h5_resident(client)
        theirs = cast.file(resident=other).tracking_no
        assert upload(cast, theirs, small.getvalue(), resident=other).status_code == 201
        # The next Beijing day counts afresh.
        tomorrow = clock.local_date(now) + timedelta(days=1)
        clock.set_now(clock.local_day_start(tomorrow) + timedelta(minutes=1))
        assert upload(cast, clues[3].tracking_no, small.getvalue()).status_code == 201
    finally:
        clock.set_now(None)


def test_a_png_over_the_pixel_budget_is_refused_undecoded(app, client):
    """5000 × 4000 is 20 MP: one such PNG decoded costs ~200 MiB, so it is refused."""
    cast = make_cast(app, client)
    clue = cast.file()
    response = upload(cast, clue.tracking_no, png_claiming(5000, 4000), name="big.png")
    assert (response.status_code, response.json["error"]) == (413, "image_too_large")
    assert response.json["details"] == {"width": 5000, "height": 4000}


def test_a_large_camera_jpeg_is_decoded_scaled_and_accepted(app, client):
    """A 20 MP JPEG is over the pixel budget but decodes at half size, so it is taken."""
    cast = make_cast(app, client)
    clue = cast.file()
    out = io.BytesIO()
    Image.new("RGB", (5000, 4000), (90, 120, 200)).save(out, "JPEG", quality=60)
    added = upload(cast, clue.tracking_no, out.getvalue())
    assert added.status_code == 201, added.json
    assert (added.json["width"], added.json["height"]) == (2048, 1638)


def test_a_transparent_png_taken_sideways_is_upright_and_opaque(app, client):
    cast = make_cast(app, client)
    clue = cast.file()
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    out = io.BytesIO()
    Image.new("RGBA", (3000, 1500), (200, 30, 30, 128)).save(out, "PNG", exif=exif)
    added = upload(cast, clue.tracking_no, out.getvalue(), name="screen.png")
    assert added.status_code == 201, added.json
    assert (added.json["width"], added.json["height"]) == (1024, 2048)
    with Image.open(io.BytesIO(_photo(cast, clue, added.json["id"]).get_data())) as image:
        assert image.mode == "RGB" and dict(image.getexif()) == {}
