"""Abuse limits: per resident and per network (an IPv4 address, an IPv6 /64) on ratings, H5
identities, direct reports and photo uploads. Rotating addresses inside one /64 buys nothing,
and the ratings that still get through in a burst are flagged and left out of the statistics."""

from __future__ import annotations

import io

import sqlalchemy as sa
from limits import parse_many
from PIL import Image

from app.extensions import db
from config import Config
from evaluations.models import Evaluation
from tests.app.test_errors import assert_error_shape
from tests.clues.factories import make_cast
from tests.factories import make_city
from tests.qr.factories import make_code


def ipv6(n: int, subnet: int = 2) -> dict[str, str]:
    """A client at address n of the IPv6 /64 2001:db8:1:{subnet}::/64."""
    return {"REMOTE_ADDR": f"2001:db8:1:{subnet}::{n:x}"}


def ipv4(n: int) -> dict[str, str]:
    return {"REMOTE_ADDR": f"198.51.100.{n}"}


def new_identity(client, where: dict[str, str]):
    """A fresh H5 identity minted from `where` (the response, to read a refusal)."""
    return client.post("/api/v1/auth/h5", environ_base=where)


def bearer(response) -> dict[str, str]:
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.json['token']}"}


def rate_from(client, where: dict[str, str], token: str, level: int = 1):
    """One one-star rating by a fresh H5 identity, identity and rating both from `where`."""
    return client.post(
        "/api/v1/evaluations",
        headers=bearer(new_identity(client, where)),
        json={"qr_token": token, "level": level},
        environ_base=where,
    )


def assert_rate_limited(response) -> None:
    body = assert_error_shape(response, 429, "rate_limited")
    assert 1 <= int(response.headers["Retry-After"]) <= 3600
    assert body["details"]["retry_after"] == int(response.headers["Retry-After"])


def _ratings(app) -> list[Evaluation]:
    with app.app_context():
        return db.session.scalars(sa.select(Evaluation).order_by(Evaluation.id)).all()


# ---------------------------------------------------------------- ratings


def test_rotating_addresses_inside_one_ipv6_64_share_the_rating_limit(app, client):
    app.config["RATE_LIMIT_ADDRESS"] = "10/hour"
    code = make_code(app, make_city(app)["station_a"])
    statuses = [rate_from(client, ipv6(n), code.token).status_code for n in range(1, 11)]
    assert statuses == [201] * 10
    assert_rate_limited(rate_from(client, ipv6(11), code.token))
    assert len(_ratings(app)) == 10
    # The next /64 is another subscriber.
    assert rate_from(client, ipv6(1, subnet=3), code.token).status_code == 201


def test_the_h5_form_counts_the_network_too(app, client):
    app.config["RATE_LIMIT_ADDRESS"] = "2/hour"
    code = make_code(app, make_city(app)["station_a"])
    statuses = []
    for n in range(1, 4):
        fresh = app.test_client()  # a new browser: no device cookie, a fresh identity
        page = fresh.get(f"/q/{code.token}", environ_base=ipv6(n)).get_data(as_text=True)
        csrf = page.split('name="csrf" value="')[1].split('"')[0]
        answer = fresh.post(
            f"/q/{code.token}",
            data={"csrf": csrf, "level": "5"},
            environ_base=ipv6(n),
        )
        statuses.append(answer.status_code)
    assert statuses[:2] == [201, 201]
    assert statuses[2] == 429
    assert len(_ratings(app)) == 2


def test_h5_identities_are_counted_per_network(app, client):
    app.config["RATE_LIMIT_SIGN_IN"] = "5/minute"
    assert [new_identity(client, ipv6(n)).status_code for n in range(1, 6)] == [200] * 5
    assert_rate_limited(new_identity(client, ipv6(6)))
    assert new_identity(client, ipv6(1, subnet=3)).status_code == 200
    # An IPv4 address is its own network, as before.
    assert new_identity(client, ipv4(7)).status_code == 200


def test_a_burst_from_one_ipv6_64_is_flagged_and_excluded(app, client):
    """120 one-star ratings from 120 addresses of one /64: all but the first few flagged."""
    app.config.update(RATE_LIMIT_SIGN_IN="1000/minute", BURST_CODE_PER_MINUTE=10_000)
    limit = app.config["BURST_SAME_NETWORK_LIMIT"]
    code = make_code(app, make_city(app)["station_a"])
    for n in range(1, 121):
        assert rate_from(client, ipv6(n), code.token).status_code == 201
    rows = _ratings(app)
    assert len(rows) == 120
    assert [row.is_excluded for row in rows] == [False] * limit + [True] * (120 - limit)
    assert all(row.flags == ["burst_same_network"] for row in rows[limit:])


def test_ipv4_addresses_stay_apart_for_limits_and_bursts(app, client):
    app.config["RATE_LIMIT_ADDRESS"] = "2/hour"
    code = make_code(app, make_city(app)["station_a"])
    statuses = [rate_from(client, ipv4(n), code.token).status_code for n in range(1, 9)]
    assert statuses == [201] * 8  # eight addresses, eight networks
    assert not any(row.is_excluded for row in _ratings(app))
    assert rate_from(client, ipv4(1), code.token).status_code == 201
    assert_rate_limited(rate_from(client, ipv4(1), code.token))


# ---------------------------------------------------------------- direct reports


def report(cast, resident: dict[str, str], where: dict[str, str] | None = None):
    return cast.client.post(
        "/api/v1/me/clues",
        headers=resident,
        json={
            "qr_token": cast.code.token,
            "category": "buck_passing",
            "description": "户籍窗口民警推诿，让我来回跑了三趟",
            "identity": "anonymous",
        },
        environ_base=where or ipv4(9),
    )


def test_one_resident_files_a_few_direct_reports_an_hour(app, client):
    app.config["RATE_LIMIT_CLUE_RESIDENT"] = "3/hour"
    cast = make_cast(app, client)
    statuses = [report(cast, cast.resident, ipv6(n)).status_code for n in range(1, 4)]
    assert statuses == [201] * 3
    assert_rate_limited(report(cast, cast.resident, ipv6(4, subnet=7)))
    other = bearer(new_identity(client, ipv4(20)))
    assert report(cast, other).status_code == 201


def test_fresh_identities_in_one_ipv6_64_share_the_direct_report_limit(app, client):
    app.config["RATE_LIMIT_CLUE_NETWORK"] = "4/hour"
    cast = make_cast(app, client)
    statuses = [
        report(cast, bearer(new_identity(client, ipv6(n))), ipv6(n)).status_code
        for n in range(1, 6)
    ]
    assert statuses == [201] * 4 + [429]
    elsewhere = ipv6(1, subnet=3)
    assert report(cast, bearer(new_identity(client, elsewhere)), elsewhere).status_code == 201


def test_direct_reports_and_photos_are_limited_out_of_the_box():
    for name in (
        "RATE_LIMIT_CLUE_RESIDENT",
        "RATE_LIMIT_CLUE_NETWORK",
        "RATE_LIMIT_PHOTO_RESIDENT",
        "RATE_LIMIT_PHOTO_NETWORK",
    ):
        assert parse_many(getattr(Config, name)), name


# ---------------------------------------------------------------- photos


def small_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), "green").save(out, "JPEG")
    return out.getvalue()


def upload(cast, tracking_no: str, resident: dict[str, str], where: dict[str, str], data=None):
    return cast.client.post(
        f"/api/v1/me/clues/{tracking_no}/photos",
        headers=resident,
        data={"photo": (io.BytesIO(data or small_jpeg()), "photo.jpg")},
        content_type="multipart/form-data",
        environ_base=where,
    )


def test_photo_uploads_are_limited_per_resident_refused_ones_included(app, client):
    app.config["RATE_LIMIT_PHOTO_RESIDENT"] = "3/hour"
    cast = make_cast(app, client)
    clue = cast.file()
    assert upload(cast, clue.tracking_no, cast.resident, ipv6(1)).status_code == 201
    # A picture that is not one still costs a try.
    assert upload(cast, clue.tracking_no, cast.resident, ipv6(2), b"not a picture").status_code
    assert upload(cast, clue.tracking_no, cast.resident, ipv6(3)).status_code == 201
    assert_rate_limited(upload(cast, clue.tracking_no, cast.resident, ipv4(30)))
    listed = client.get(f"/api/v1/clues/{clue.id}/photos", headers=cast.as_(cast.screener))
    assert len(listed.json["items"]) == 2


def test_photo_uploads_are_limited_per_network(app, client):
    app.config["RATE_LIMIT_PHOTO_NETWORK"] = "2/hour"
    cast = make_cast(app, client)
    # Three residents, each with a clue of their own, uploading from one /64.
    residents = [bearer(new_identity(client, ipv4(50 + n))) for n in range(3)]
    filed = [cast.file(resident=resident) for resident in residents]
    statuses = [
        upload(cast, clue.tracking_no, resident, ipv6(n + 1)).status_code
        for n, (clue, resident) in enumerate(zip(filed, residents, strict=True))
    ]
    assert statuses == [201, 201, 429]
