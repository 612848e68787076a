"""Benchmark: the batch poster export as a background job (qr.jobs), 10,000 codes.

A scratch SQLite database with a city of 50 units and N active codes (inserted in bulk), then
the export job run as the web process runs it (a thread of this process driving the render
pool), once with one render process and once with every core. While it runs the job's own
progress row is polled and printed, and the resident memory of the job's process and of its
render processes is sampled (from /proc), so the peak is printed beside the number of codes:
flat memory means the peak does not grow with N.

Targets: progress visible while it runs; peak memory flat in the number of codes; posters/s
scaling with cores.

Run: scripts/bench export_job [--count 10000] [--small 2000] [--format pdf|zip]
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path

import sqlalchemy as sa
from common import BENCH_SECRET, ROOT, scratch_database

sys.path.insert(0, str(ROOT))


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


class MemorySampler(threading.Thread):
    """Peak RSS of this process and of its descendants (the render pool), every 0.2 s."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.own_peak = self.worker_peak = self.total_peak = 0

    def run(self) -> None:
        me = os.getpid()
        while not self.stop.is_set():
            own = _rss_kib(me)
            workers = []
            frontier = _children(me)
            while frontier:
                pid = frontier.pop()
                workers.append(_rss_kib(pid))
                frontier += _children(pid)
            self.own_peak = max(self.own_peak, own)
            self.worker_peak = max([self.worker_peak, *workers])
            self.total_peak = max(self.total_peak, own + sum(workers))
            self.stop.wait(0.2)


def seed(app, count: int) -> int:
    """A city, 50 units under it, `count` active codes spread over them; the city's id."""
    from app.extensions import db
    from app.org.models import Role, UnitKind
    from app.org.service import create_staff, create_unit
    from qr.models import QRCode

    with app.app_context():
        city = create_unit(
            code="EC", name="导出基准市委政法委", kind=UnitKind.COMMITTEE, parent=None
        )
        units = [
            create_unit(code=f"EU{n}", name=f"导出基准派出所{n}", kind=UnitKind.POLICE, parent=city)
            for n in range(50)
        ]
        admin = create_staff(
            username="export-admin",
            password="Bench2026x",
            display_name="管理员",
            role=Role.ADMIN,
            unit=city,
        )
        db.session.commit()
        rows = [
            {
                "token": secrets.token_urlsafe(18),
                "unit_id": units[n % len(units)].id,
                "label": f"窗口 {n // len(units) + 1} 号",
                "status": "active",
                "revoked_reason": "",
            }
            for n in range(count)
        ]
        db.session.execute(sa.insert(QRCode.__table__), rows)
        db.session.commit()
        return city.id, admin.id


def run_job(app, city_id: int, admin_id: int, fmt: str, workers: int | None) -> dict:
    from app.extensions import db
    from app.org.models import StaffAccount, Unit
    from qr.jobs import ExportJob, ExportStatus, queue_export, start_export

    app.config["EXPORT_WORKERS"] = workers
    with app.app_context():
        total = db.session.scalar(sa.select(sa.func.count()).select_from(sa.table("qr_codes")))
        export = queue_export(
            unit=db.session.get(Unit, city_id),
            fmt=fmt,
            staff=db.session.get(StaffAccount, admin_id),
            total=total,
        )
        db.session.commit()
        export_id = export.id
        sampler = MemorySampler()
        sampler.start()
        started = time.perf_counter()
        thread = start_export(export_id)
        last_print = 0.0
        while True:
            db.session.expire_all()
            job = db.session.get(ExportJob, export_id)
            elapsed = time.perf_counter() - started
            finished = job.status in (ExportStatus.DONE, ExportStatus.FAILED)
            if elapsed - last_print >= 5 or finished:
                rate = job.done / elapsed if elapsed else 0
                print(
                    f"    {elapsed:6.1f} s  {job.status.label:<4}  {job.done:>6}/{job.total} "
                    f"({rate:5.1f} posters/s)",
                    flush=True,
                )
                last_print = elapsed
            summary = {"status": job.status.value, "error": job.error, "count": job.done}
            summary["size"] = job.size
            # Ended before sleeping: SQLite transactions here take the write lock up front.
            db.session.commit()
            if finished:
                break
            time.sleep(0.5)
        thread.join()
        elapsed = time.perf_counter() - started
        sampler.stop.set()
        sampler.join()
        return {
            **summary,
            "seconds": elapsed,
            "rate": summary["count"] / elapsed,
            "size_mb": summary["size"] / 1e6,
            "own_peak_mb": sampler.own_peak / 1024,
            "worker_peak_mb": sampler.worker_peak / 1024,
            "total_peak_mb": sampler.total_peak / 1024,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=2_000, help="a smaller run, for memory")
    parser.add_argument("--format", choices=["pdf", "zip"], default="pdf")
    args = parser.parse_args()
    from app import create_app
    from tests.conftest import base_config

    cores = os.cpu_count() or 1
    load = os.getloadavg()[0]
    print(f"poster export as a job, {args.format}, {cores} cores, load average {load:.2f}\n")
    results = []
    for count, workers in ((args.small, cores), (args.count, 1), (args.count, cores)):
        with scratch_database("sqlite") as url, tempfile.TemporaryDirectory() as out:
            app = create_app({**base_config(url), "SECRET_KEY": BENCH_SECRET, "EXPORT_DIR": out})
            city_id, admin_id = seed(app, count)
            print(f"  {count:,} codes, {workers} render process(es):")
            result = run_job(app, city_id, admin_id, args.format, workers)
            results.append((count, workers, result))
            print(
                f"    {result['status']}: {result['count']:,} posters in {result['seconds']:.1f} s"
                f" = {result['rate']:.1f} posters/s; file {result['size_mb']:.0f} MB; peak RSS: "
                f"job process {result['own_peak_mb']:.0f} MB, largest render process "
                f"{result['worker_peak_mb']:.0f} MB, all together {result['total_peak_mb']:.0f} MB"
                f"{(' ERROR ' + result['error']) if result['error'] else ''}\n",
                flush=True,
            )
    small, one, many = (r[2] for r in results)
    print(
        f"scaling: {many['rate']:.1f} posters/s with {cores} processes vs {one['rate']:.1f} with 1 "
        f"= {many['rate'] / one['rate']:.2f}× (load average before the runs {load:.2f}: "
        "near 1 or above, other work shared the cores)"
    )
    print(
        f"memory: peak of everything {small['total_peak_mb']:.0f} MB at {args.small:,} codes, "
        f"{many['total_peak_mb']:.0f} MB at {args.count:,} (same processes): "
        f"{'flat' if many['total_peak_mb'] <= small['total_peak_mb'] * 1.25 else 'GROWS'}"
    )


if __name__ == "__main__":
    main()
