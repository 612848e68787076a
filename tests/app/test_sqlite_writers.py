"""SQLite with concurrent writers: read-then-write transactions wait, never "database is locked"."""

from __future__ import annotations

import threading

import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.org.models import Unit
from tests.conftest import base_config, migrate_database


def test_concurrent_read_then_write_transactions(tmp_path):
    url = f"sqlite:///{tmp_path / 'writers.sqlite3'}"
    migrate_database(url)
    app = create_app({**base_config(url), "SQLITE_BUSY_TIMEOUT_MS": 20_000})
    with app.app_context():
        from app.org import service
        from app.org.models import UnitKind

        root = service.create_unit(code="R", name="根", kind=UnitKind.COMMITTEE, parent=None)
        db.session.commit()
        root_id = root.id

    errors: list[BaseException] = []
    threads_count, rounds = 8, 15

    def writer(n: int) -> None:
        try:
            for i in range(rounds):
                with app.app_context():
                    # Read, then write in the same transaction: the pattern that fails with
                    # deferred transactions when another writer commits in between.
                    unit = db.session.get(Unit, root_id)
                    unit.address = f"{n}-{i}"
                    db.session.add(
                        Unit(
                            code=f"T{n}-{i}",
                            name="并发",
                            kind=unit.kind,
                            parent_id=root_id,
                            path=f"/{root_id}/x/",
                        )
                    )
                    db.session.commit()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(Unit))
        assert count == 1 + threads_count * rounds
        assert db.session.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        db.engine.dispose()
