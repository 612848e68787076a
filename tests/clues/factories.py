"""Clue factories and the cast of a clue's life, for the clue tests."""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from app.extensions import db
from app.org import service as org_service
from app.org.models import Officer, Role, StaffAccount, Unit, UnitKind
from clues.models import Clue
from qr import service as qr_service
from tests.evaluations.helpers import h5_resident
from tests.factories import PASSWORD, bearer, detach

_casts = itertools.count(1)

# A substantiated report involving misconduct: the closed clue can be referred.
REPORT = {
    "outcome": "substantiated",
    "findings": "经调取录像核实，该民警确有推诿行为",
    "measures": "批评教育，责令书面检查",
    "persons_handled": 1,
    "involves_misconduct": True,
    "reply_to_reporter": "经核查属实，已对相关民警批评教育",
}


@dataclass(frozen=True)
class Filed:
    """A clue as both sides know it: the resident's tracking number, the staff's id."""

    tracking_no: str
    id: int


@dataclass
class Cast:
    """A city, a station with an officer and a code, and one staff member per role.

    The screener, liaison and admin sit at the city; the superior at district A (which holds
    station A); the verifier at station A; the resident has an H5 identity.
    """

    app: Flask
    client: FlaskClient
    units: dict[str, Unit]
    officer: Officer
    code: Any
    screener: StaffAccount
    verifier: StaffAccount
    superior: StaffAccount
    liaison: StaffAccount
    admin: StaffAccount
    analyst: StaffAccount
    resident: dict[str, str]

    def as_(self, who: StaffAccount) -> dict[str, str]:
        return bearer(self.app, who)

    def act(self, who: StaffAccount, clue_id: int, action: str, **body: Any):
        return self.client.post(
            f"/api/v1/clues/{clue_id}/{action}", headers=self.as_(who), json=body
        )

    def report(
        self,
        *,
        description: str = "户籍窗口民警态度生硬，推诿让我来回跑了三趟",
        category: str = "buck_passing",  # 推诿扯皮: verified by the station itself
        identity: str = "anonymous",
        phone: str | None = None,
        resident: dict[str, str] | None = None,
        officer: bool = True,
    ) -> dict[str, Any]:
        """A resident reports directly through the station's code; returns the summary."""
        clue = {
            "qr_token": self.code.token,
            "category": category,
            "description": description,
            "identity": identity,
        }
        if phone:
            clue["phone"] = phone
        if officer:
            clue["officer_id"] = self.officer.id
        response = self.client.post(
            "/api/v1/me/clues", headers=resident or self.resident, json=clue
        )
        assert response.status_code == 201, response.get_json()
        return response.json

    def clue_id(self, tracking_no: str) -> int:
        """The staff-side id of a tracking number (what a screener finds in their queue)."""
        with self.app.app_context():
            return db.session.scalars(
                sa.select(Clue.id).where(Clue.tracking_no == tracking_no)
            ).one()

    def file(self, **report: Any) -> Filed:
        """A clue reported directly by a resident, with its staff-side id."""
        tracking_no = self.report(**report)["tracking_no"]
        return Filed(tracking_no, self.clue_id(tracking_no))

    def step(
        self, who: StaffAccount, clue_id: int, action: str, *, to: str, **body: Any
    ) -> dict[str, Any]:
        """An action that must succeed and land the clue in status `to`."""
        response = self.act(who, clue_id, action, **body)
        assert response.status_code == 200, (action, response.json)
        assert response.json["status"] == to, (action, response.json)
        return response.json

    def close_and_refer(self, clue_id: int) -> None:
        """Take a submitted clue to closed (substantiated misconduct) and refer it."""
        for who, action, to, body in (
            *self.path_to_closed(),
            (self.screener, "refer", "closed", {}),
        ):
            self.step(who, clue_id, action, to=to, **body)

    def path_to_closed(
        self, report: dict[str, Any] | None = None
    ) -> list[tuple[StaffAccount, str, str, dict[str, Any]]]:
        """(who, action, resulting status, body) from submitted to closed at station A."""
        return [
            (self.screener, "accept", "accepted", {}),
            (self.screener, "assign", "assigned", {"unit_id": self.units["station_a"].id}),
            (self.verifier, "start", "verifying", {}),
            (self.verifier, "submit_report", "reviewing", report or REPORT),
            (self.superior, "approve", "closed", {}),
        ]

    def attach_photo(
        self, tracking_no: str, image: bytes | None = None, resident: dict[str, str] | None = None
    ) -> int:
        """The resident adds a photo (by default a small JPEG) to their clue; its id."""
        if image is None:
            out = io.BytesIO()
            Image.new("RGB", (32, 32), (0, 90, 200)).save(out, "JPEG")
            image = out.getvalue()
        response = self.client.post(
            f"/api/v1/me/clues/{tracking_no}/photos",
            headers=resident or self.resident,
            data={"photo": (io.BytesIO(image), "photo.jpg")},
            content_type="multipart/form-data",
        )
        assert response.status_code == 201, response.json
        return response.json["id"]

    def supervise(self, dedupe_key: str, *, clue_id: int | None = None) -> int:
        """A supervision letter to station A (about `clue_id`, if given); its id."""
        from notifications.letters import LetterSpec, issue_letters
        from notifications.models import LetterKind

        with self.app.app_context():
            (letter,) = issue_letters(
                LetterKind.SUPERVISION,
                [
                    LetterSpec(
                        dedupe_key=dedupe_key,
                        unit_id=self.units["station_a"].id,
                        title="关于逾期问题线索的督办函",
                        body="甲区派出所：\n　　请书面说明逾期原因。",
                        clue_id=clue_id,
                    )
                ],
            )
            db.session.commit()
            return letter.id

    def appeal(
        self,
        tracking_no: str,
        reason: str = "处理结果不公正，要求复核",
        resident: dict[str, str] | None = None,
    ):
        return self.client.post(
            f"/api/v1/me/clues/{tracking_no}/appeal",
            headers=resident or self.resident,
            json={"reason": reason},
        )

    def rerate(
        self, tracking_no: str, level: int, resolved: bool, resident: dict[str, str] | None = None
    ):
        return self.client.post(
            f"/api/v1/me/clues/{tracking_no}/rerating",
            headers=resident or self.resident,
            json={"level": level, "resolved": resolved},
        )

    def mine(self, tracking_no: str, resident: dict[str, str] | None = None):
        return self.client.get(f"/api/v1/me/clues/{tracking_no}", headers=resident or self.resident)

    def detail(self, clue_id: int, who: StaffAccount | None = None) -> dict[str, Any]:
        response = self.client.get(
            f"/api/v1/clues/{clue_id}", headers=self.as_(who or self.screener)
        )
        assert response.status_code == 200, response.json
        return response.json

    def events(self, clue_id: int) -> list[dict[str, Any]]:
        response = self.client.get(
            f"/api/v1/clues/{clue_id}/events", headers=self.as_(self.screener)
        )
        assert response.status_code == 200, response.json
        return response.json["items"]

    def drive(
        self,
        status: str,
        *,
        category: str | None = None,
        resident: dict[str, str] | None = None,
        report: dict[str, Any] | None = None,
        description: str | None = None,
    ) -> Filed:
        """A fresh clue taken through the API to `status` by the roles the table names."""
        category = category or ("livelihood" if status == "forwarded" else "buck_passing")
        extra = {"description": description} if description else {}
        clue = self.file(category=category, resident=resident, **extra)
        if status == "rejected":
            self.step(
                self.screener,
                clue.id,
                "reject",
                to="rejected",
                reason="no_substance",
                message="反映内容不具体，请补充时间地点后重新反映",
            )
        elif status == "merged":
            master = self.file(description="户籍窗口民警态度恶劣，多次推诿群众办事")
            self.step(self.screener, clue.id, "merge", to="merged", master_id=master.id)
        elif status == "forwarded":
            self.step(self.screener, clue.id, "forward_12345", to="forwarded")
        elif status == "withdrawn":
            response = self.client.post(
                f"/api/v1/me/clues/{clue.tracking_no}/withdraw",
                headers=resident or self.resident,
                json={"reason": "问题已经自行解决"},
            )
            assert response.json["status"] == "withdrawn", response.json
        elif status != "submitted":
            for who, action, to, body in self.path_to_closed(report):
                self.step(who, clue.id, action, to=to, **body)
                if to == status:
                    break
            if status == "appealed":
                response = self.appeal(clue.tracking_no, resident=resident)
                assert response.status_code == 200, response.json
                assert response.json["status"] == "appealed", response.json
        assert self.detail(clue.id)["status"] == status
        return clue


def make_cast(app: Flask, client: FlaskClient) -> Cast:
    """The cast, registered through the real services in one transaction (it is in every
    clue test, so it is built in one commit rather than one per row)."""
    n = next(_casts)
    with app.app_context():

        def unit(name: str, kind: UnitKind, parent: Unit | None = None) -> Unit:
            return org_service.create_unit(
                code=f"CAST{n}-{len(units)}",
                name=name,
                kind=kind,
                parent=parent,
                region="测试区",
                address="测试路1号",
            )

        units: dict[str, Unit] = {}
        units["city"] = unit("测试市委政法委", UnitKind.COMMITTEE)
        units["district_a"] = unit("甲区委政法委", UnitKind.COMMITTEE, units["city"])
        units["district_b"] = unit("乙区委政法委", UnitKind.COMMITTEE, units["city"])
        units["station_a"] = unit("甲区派出所", UnitKind.POLICE, units["district_a"])
        units["court_a"] = unit("甲区人民法院", UnitKind.COURT, units["district_a"])
        units["station_b"] = unit("乙区派出所", UnitKind.POLICE, units["district_b"])
        officer = org_service.create_officer(
            unit=units["station_a"], name="李明", staff_no=f"03{n:04d}", position="户籍民警"
        )
        code = qr_service.issue_code(unit=units["station_a"])
        home = {
            Role.SCREENER: "city",
            Role.VERIFIER: "station_a",
            Role.SUPERIOR: "district_a",
            Role.LIAISON: "city",
            Role.ADMIN: "city",
            Role.ANALYST: "city",
        }
        staff = {
            role: org_service.create_staff(
                username=f"cast{n}-{role.value}",
                password=PASSWORD,
                display_name=f"{role.label}测试",
                role=role,
                unit=units[where],
            )
            for role, where in home.items()
        }
        db.session.commit()
        for row in [*units.values(), officer, code, *staff.values()]:
            detach(row)
    return Cast(
        app=app,
        client=client,
        units=units,
        officer=officer,
        code=code,
        screener=staff[Role.SCREENER],
        verifier=staff[Role.VERIFIER],
        superior=staff[Role.SUPERIOR],
        liaison=staff[Role.LIAISON],
        admin=staff[Role.ADMIN],
        analyst=staff[Role.ANALYST],
        resident=h5_resident(client),
    )
