"""Plain factories: each runs in its own app context through the real services and commits.

They return loaded, detached objects so tests can read their attributes; requests made with
the test client then see exactly what a real client would.
"""

from __future__ import annotations

import itertools
from typing import TypeVar

from flask import Flask

from app.auth import staff_token
from app.extensions import db
from app.org import service
from app.org.models import Officer, Role, StaffAccount, Unit, UnitKind

PASSWORD = "Passw0rd2026"
_counter = itertools.count(1)
T = TypeVar("T")


def detach(obj: T) -> T:
    db.session.refresh(obj)
    db.session.expunge(obj)
    return obj


def make_unit(
    app: Flask,
    *,
    parent: Unit | None = None,
    code: str | None = None,
    name: str | None = None,
    kind: UnitKind = UnitKind.POLICE,
) -> Unit:
    n = next(_counter)
    with app.app_context():
        unit = service.create_unit(
            code=code or f"U{n:04d}",
            name=name or f"测试单位{n}",
            kind=kind,
            parent=db.session.get(Unit, parent.id) if parent else None,
            region="测试区",
            address=f"测试路{n}号",
        )
        db.session.commit()
        return detach(unit)


def make_officer(
    app: Flask,
    unit: Unit,
    *,
    name: str = "张三",
    staff_no: str | None = None,
    position: str = "民警",
) -> Officer:
    with app.app_context():
        officer = service.create_officer(
            unit=db.session.get(Unit, unit.id),
            name=name,
            staff_no=staff_no or f"{next(_counter):06d}",
            position=position,
        )
        db.session.commit()
        return detach(officer)


def make_staff(
    app: Flask,
    role: Role,
    unit: Unit,
    *,
    username: str | None = None,
    password: str = PASSWORD,
    officer: Officer | None = None,
) -> StaffAccount:
    """An account of `role` at `unit`, which must be a place the placement rules allow."""
    with app.app_context():
        account = service.create_staff(
            username=username or f"{role.value}{next(_counter)}",
            password=password,
            display_name=f"{role.label}测试",
            role=role,
            unit=db.session.get(Unit, unit.id),
            officer=db.session.get(Officer, officer.id) if officer else None,
        )
        db.session.commit()
        return detach(account)


def bearer(app: Flask, account: StaffAccount) -> dict[str, str]:
    """Authorization header for `account` as it is now in the database."""
    with app.app_context():
        current = db.session.get(StaffAccount, account.id)
        return {"Authorization": f"Bearer {staff_token(current)}"}


def make_city(app: Flask) -> dict[str, Unit]:
    """A small tree: city → two districts → a station under each, with a court in district A."""
    city = make_unit(app, kind=UnitKind.COMMITTEE, name="测试市委政法委")
    district_a = make_unit(app, parent=city, kind=UnitKind.COMMITTEE, name="甲区委政法委")
    district_b = make_unit(app, parent=city, kind=UnitKind.COMMITTEE, name="乙区委政法委")
    station_a = make_unit(app, parent=district_a, name="甲区派出所")
    court_a = make_unit(app, parent=district_a, kind=UnitKind.COURT, name="甲区人民法院")
    station_b = make_unit(app, parent=district_b, name="乙区派出所")
    return {
        "city": city,
        "district_a": district_a,
        "district_b": district_b,
        "station_a": station_a,
        "court_a": court_a,
        "station_b": station_b,
    }
