"""Poster exports as background jobs: a request queues the job and answers at once; the job
renders in the process pool of qr.export, streams to a file under the instance folder,
records its progress as it goes, and the file is downloaded when done.

Memory stays flat in the number of codes: the posters stream through the pool's small window
straight into the file. A job runs in a thread of the process that queued it (started after
the commit); a job whose process died mid-run stops sending heartbeats and reads as failed,
so the user can queue it again. `flask jobs run export_jobs` runs anything still queued.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.db import BigId, db, str_enum
from app.enums import LabelledEnum
from app.jobs import job
from app.org.models import StaffAccount, Unit
from qr.export import export_pdf, export_zip

log = logging.getLogger(__name__)

# A running job writes its progress at least this often; silent for STALE_AFTER: it died.
HEARTBEAT_SECONDS = 1.0
STALE_AFTER = timedelta(minutes=2)


class ExportStatus(LabelledEnum):
    QUEUED = "queued", "排队中"
    RUNNING = "running", "正在生成"
    DONE = "done", "已完成"
    FAILED = "failed", "生成失败"


class ExportJob(db.Model):
    """One batch export of posters of a unit subtree (ZIP of PNGs or one PDF)."""

    __tablename__ = "export_jobs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"))
    format: Mapped[str] = mapped_column(sa.String(8))
    status: Mapped[ExportStatus] = mapped_column(
        str_enum(ExportStatus, "export_status"), default=ExportStatus.QUEUED
    )
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    requested_by: Mapped[int] = mapped_column(sa.ForeignKey("staff_accounts.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    file_name: Mapped[str] = mapped_column(sa.String(200), default="")
    size: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(sa.Text, default="")

    @property
    def is_stale(self) -> bool:
        """Running, but its process has stopped reporting (died or was restarted)."""
        beat = self.heartbeat_at or self.started_at or self.created_at
        return self.status is ExportStatus.RUNNING and utcnow() - beat > STALE_AFTER

    @property
    def shown_status(self) -> ExportStatus:
        return ExportStatus.FAILED if self.is_stale else self.status


def export_dir(app: Flask | None = None) -> Path:
    app = app or current_app
    return Path(app.config.get("EXPORT_DIR") or os.path.join(app.instance_path, "exports"))


def file_path(export: ExportJob) -> Path:
    return export_dir() / f"export-{export.id}.{export.format}"


def queue_export(*, unit: Unit, fmt: str, staff: StaffAccount, total: int) -> ExportJob:
    """A queued export of `unit`'s subtree (flushed; the caller commits, then starts it)."""
    export = ExportJob(
        unit_id=unit.id,
        format=fmt,
        requested_by=staff.id,
        total=total,
        file_name=f"qr-{unit.code}.{fmt}",
    )
    db.session.add(export)
    db.session.flush()
    return export


def start_export(export_id: int) -> threading.Thread:
    """Run the export in a thread of this process, in its own app context."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def work() -> None:
        with app.app_context():
            try:
                run_export(export_id)
            finally:
                db.session.remove()

    thread = threading.Thread(target=work, name=f"export-{export_id}", daemon=True)
    thread.start()
    return thread


def _claim(export_id: int) -> bool:
    """Queued → running, for one runner only (an atomic conditional update)."""
    now = utcnow()
    claimed = db.session.execute(
        sa.update(ExportJob)
        .where(ExportJob.id == export_id, ExportJob.status == ExportStatus.QUEUED)
        .values(status=ExportStatus.RUNNING, started_at=now, heartbeat_at=now)
    ).rowcount
    db.session.commit()
    return claimed == 1


def _record(export_id: int, **values: object) -> None:
    db.session.execute(sa.update(ExportJob).where(ExportJob.id == export_id).values(**values))
    db.session.commit()


def run_export(export_id: int) -> bool:
    """Render a queued export to its file, recording progress; False if already taken."""
    from qr.render import resolve_font
    from qr.service import subtree_poster_infos

    if not _claim(export_id):
        return False
    export = db.session.get(ExportJob, export_id)
    target = file_path(export)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        infos = subtree_poster_infos(db.session.get(Unit, export.unit_id))
        font = resolve_font(current_app.config.get("QR_FONT_PATH"))
        fmt = export.format
        _record(export_id, total=len(infos))  # also ends the read transaction
        last = time.monotonic()

        def progress(done: int) -> None:
            nonlocal last
            if done == len(infos) or time.monotonic() - last >= HEARTBEAT_SECONDS:
                _record(export_id, done=done, heartbeat_at=utcnow())
                last = time.monotonic()

        exporter = export_zip if fmt == "zip" else export_pdf
        workers = current_app.config.get("EXPORT_WORKERS")  # None: every core
        count = exporter(infos, target, workers=workers, progress=progress, font_path=font)
        _record(
            export_id,
            status=ExportStatus.DONE,
            done=count,
            size=target.stat().st_size,
            finished_at=utcnow(),
        )
        return True
    except Exception as exc:
        db.session.rollback()
        log.exception("export %s failed", export_id)
        _record(
            export_id,
            status=ExportStatus.FAILED,
            error=str(exc)[:500] or type(exc).__name__,
            finished_at=utcnow(),
        )
        return True


@job("export_jobs", "运行排队中的二维码海报导出")
def run_queued_exports() -> dict[str, int]:
    """Every export still queued (their process ended before starting them), oldest first."""
    queued = db.session.scalars(
        sa.select(ExportJob.id)
        .where(ExportJob.status == ExportStatus.QUEUED)
        .order_by(ExportJob.id)
    ).all()
    db.session.commit()
    return {"ran": sum(run_export(export_id) for export_id in queued)}
