"""Poster exports as background jobs: queued at once, progress readable while they run, the
file downloadable when done, and only within the requester's scope."""

from __future__ import annotations

import time
import zipfile
from io import BytesIO

from app.org.models import Role
from tests.app.test_errors import assert_error_shape
from tests.factories import bearer, make_city, make_staff, make_unit
from tests.qr.factories import make_code
from tests.qr.test_images import decode


def _wait(client, url: str, headers: dict, *, seconds: float = 120) -> dict:
    deadline = time.monotonic() + seconds
    seen = []
    while True:
        body = client.get(url, headers=headers).json
        seen.append((body["status"], body["done"]))
        if body["status"] in ("done", "failed"):
            return {**body, "seen": seen}
        assert time.monotonic() < deadline, seen
        time.sleep(0.1)


def test_an_export_job_runs_in_the_background_and_its_file_is_downloaded(app, client, tmp_path):
    app.config["EXPORT_DIR"] = str(tmp_path / "exports")
    city = make_city(app)
    codes = [make_code(app, city["station_a"]), make_code(app, city["court_a"], label="窗口 1")]
    make_code(app, city["station_b"])  # outside the district
    admin = bearer(app, make_staff(app, Role.ADMIN, city["city"]))

    queued = client.post(
        "/api/v1/qr-codes/export-jobs",
        headers=admin,
        json={"unit_id": city["district_a"].id, "format": "zip"},
    )
    assert queued.status_code == 202
    job = queued.json
    assert (job["total"], job["download_url"]) == (2, None)
    url = f"/api/v1/qr-codes/export-jobs/{job['id']}"

    finished = _wait(client, url, admin)
    assert finished["status"] == "done" and finished["status_label"] == "已完成"
    assert (finished["done"], finished["total"]) == (2, 2) and finished["size"] > 0
    download = client.get(finished["download_url"], headers=admin)
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert download.headers["Content-Disposition"].endswith(".zip")
    with zipfile.ZipFile(BytesIO(download.data)) as archive:
        found = {text for name in archive.namelist() for text in decode(archive.read(name))}
    assert found == {f"http://pingyi.test/q/{c.token}" for c in codes}

    # Another district's administrator neither sees nor downloads it.
    other = bearer(app, make_staff(app, Role.ADMIN, city["district_b"]))
    assert_error_shape(client.get(url, headers=other), 403)
    assert_error_shape(client.get(finished["download_url"], headers=other), 403)
    assert_error_shape(client.get("/api/v1/qr-codes/export-jobs/999999", headers=admin), 404)
    # A subtree without codes is refused at once, not queued.
    bare = make_unit(app, parent=city["district_b"])
    nothing = client.post(
        "/api/v1/qr-codes/export-jobs", headers=other, json={"unit_id": bare.id, "format": "pdf"}
    )
    assert_error_shape(nothing, 404, "no_codes")


def test_a_file_not_yet_made_is_refused_with_the_progress(app, client, tmp_path):
    from app.extensions import db
    from qr.jobs import ExportJob, ExportStatus

    app.config["EXPORT_DIR"] = str(tmp_path / "exports")
    city = make_city(app)
    admin_account = make_staff(app, Role.ADMIN, city["city"])
    with app.app_context():
        job = ExportJob(
            unit_id=city["city"].id,
            format="pdf",
            requested_by=admin_account.id,
            total=10,
            done=3,
            status=ExportStatus.RUNNING,
        )
        db.session.add(job)
        db.session.commit()
        job_id = job.id
    admin = bearer(app, admin_account)
    refused = client.get(f"/api/v1/qr-codes/export-jobs/{job_id}/file", headers=admin)
    body = assert_error_shape(refused, 409, "export_not_ready")
    assert (body["details"]["done"], body["details"]["total"]) == (3, 10)
