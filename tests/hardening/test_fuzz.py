"""Schemathesis against our own /openapi.json, in-process (WSGI), once per kind of caller.

Every operation in the document is called with generated requests, valid and invalid, by each
caller with their real bearer token, and also with the ids of real objects in the path so the
requests get past "not found" into the handlers. Every answer must be what the document says:
no 5xx, a documented status code and content type, a body matching the documented schema.

Resident 1 rated a station badly, reported an officer with their phone number, was answered,
and appealed. Nothing of that (the tracking number, the words they wrote, the phone) may reach
resident 2, anonymous callers, a verifier of another unit or the analyst; the phone reaches no
one but the screener, the liaison and the admin.

Bounded for CI: a few examples per operation and strategy (the same requests
every run, seeded per caller and operation), no example database on disk.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.extensions import db
from app.org.models import Role, StaffAccount
from notifications.channels.hotline import CALLBACK_PATH, signed_headers
from tests.clues.factories import Cast, make_cast
from tests.evaluations.helpers import h5_resident, use_sandbox, wechat_resident
from tests.factories import bearer, make_staff

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
EXAMPLES = 3  # per operation and strategy (valid requests, invalid requests)
EXAMPLES_WITH_REAL_IDS = 2  # per set of real ids in the path

SECRET_COMMENT = "甲群众的评价意见ZK7QW"
SECRET_DESCRIPTION = "甲群众反映户籍窗口民警索要好处费JX4PM"
SECRET_APPEAL = "甲群众申请复核的理由VB9TR"
SECRET_PHONE = "13912345678"
HOTLINE_SECRET = "fuzz-hotline-secret-0123456789abcdef"

STAFF_ROLES = {
    "screener": Role.SCREENER,
    "verifier": Role.VERIFIER,  # of station B: resident 1's clue is about station A
    "superior": Role.SUPERIOR,
    "liaison": Role.LIAISON,
    "analyst": Role.ANALYST,
    "admin": Role.ADMIN,
}
CALLERS = ["anonymous", "resident1", "resident2", *STAFF_ROLES]
# Who must never see which of resident 1's secrets.
KEPT_FROM = {
    "anonymous": "all",
    "resident2": "all",
    "verifier": "all",
    "analyst": "all",
    "superior": "phone",
}

_serial = itertools.count(1)


@dataclass
class World:
    cast: Cast
    staff: dict[str, StaffAccount]
    residents: dict[str, dict[str, str]]
    tracking_no: str  # resident 1's rating clue: closed, referred, appealed
    clue_id: int
    other_clue: tuple[str, int]  # resident 1's direct report, still submitted, with a photo
    resident2_tracking_no: str
    photo_id: int
    letter_id: int
    referral_id: int
    inbox_ids: list[int]


def build_world(app, client, wechat_sandbox) -> World:
    """The demo-sized city of tests/clues plus resident 1's whole story, through the API."""
    use_sandbox(app, wechat_sandbox)
    app.config["HOTLINE_SECRET"] = HOTLINE_SECRET
    cast = make_cast(app, client)
    resident1 = wechat_resident(client)
    resident2 = h5_resident(client)
    rated = client.post(
        "/api/v1/evaluations",
        headers=resident1,
        json={
            "qr_token": cast.code.token,
            "level": 1,
            "comment": SECRET_COMMENT,
            "clue": {
                "category": "buck_passing",
                "description": SECRET_DESCRIPTION,
                "identity": "confidential",
                "phone": SECRET_PHONE,
                "officer_id": cast.officer.id,
            },
        },
    )
    assert rated.status_code == 201, rated.json
    tracking_no = rated.json["clue"]["tracking_no"]
    clue_id = cast.clue_id(tracking_no)
    cast.close_and_refer(clue_id)
    appealed = cast.appeal(tracking_no, reason=SECRET_APPEAL, resident=resident1)
    assert appealed.status_code == 200, appealed.json
    other = cast.file(resident=resident1, description="甲群众另外反映窗口排长队无人引导")
    photo_id = cast.attach_photo(other.tracking_no, resident=resident1)
    own = cast.file(resident=resident2, description="乙群众反映办事大厅空调坏了没人修")
    staff = {
        "screener": cast.screener,
        "verifier": make_staff(app, Role.VERIFIER, cast.units["station_b"]),
        "superior": cast.superior,
        "liaison": cast.liaison,
        "analyst": cast.analyst,
        "admin": cast.admin,
    }
    letter_id = cast.supervise(f"fuzz:{next(_serial)}")
    with app.app_context():
        from clues.models import Referral
        from notifications.models import InboxItem

        items = [
            InboxItem(staff_id=account.id, kind="test", title="测试消息", dedupe_key="fuzz")
            for account in staff.values()
        ]
        db.session.add_all(items)
        db.session.commit()
        referral_id = db.session.scalars(
            sa.select(Referral.id).where(Referral.clue_id == clue_id)
        ).one()
        inbox_ids = [item.id for item in items]
    return World(
        cast=cast,
        staff=staff,
        residents={"resident1": resident1, "resident2": resident2},
        tracking_no=tracking_no,
        clue_id=clue_id,
        other_clue=(other.tracking_no, other.id),
        resident2_tracking_no=own.tracking_no,
        photo_id=photo_id,
        letter_id=letter_id,
        referral_id=referral_id,
        inbox_ids=inbox_ids,
    )


@pytest.fixture
def world(app, client, wechat_sandbox) -> World:
    return build_world(app, client, wechat_sandbox)


def real_ids(world: World, caller: str) -> dict[str, list[Any]]:
    """Path values naming real objects: each set is tried besides the generated ones."""
    cast = world.cast
    return {
        "clue_id": [world.clue_id, world.other_clue[1]],
        "photo_id": [world.photo_id],
        "unit_id": [cast.units["station_a"].id],
        "officer_id": [cast.officer.id],
        "staff_id": [a.id for name, a in world.staff.items() if name not in (caller, "admin")][:2],
        "code_id": [cast.code.id],
        "letter_id": [world.letter_id],
        "referral_id": [world.referral_id],
        "item_id": world.inbox_ids[:2],
        # resident 2 asking for resident 1's clue by its number is the point of the exercise
        "tracking_no": [world.tracking_no, world.other_clue[0], world.resident2_tracking_no],
        "token": [cast.code.token],
        "day": ["2026-10-01"],
    }


def access_rules(app) -> dict[str, Any]:
    """Each documented operation's view: who it admits ("resident", a staff AccessRule, or
    None for everyone)."""
    rules = {}
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule)
        admits = getattr(view, "access_rule", None) or (
            "resident" if getattr(view, "resident_only", False) else None
        )
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            rules[f"{method} {path}"] = admits
    return rules


def admitted(caller: str, admits: Any) -> bool:
    if admits is None:
        return True
    if admits == "resident":
        return caller in ("resident1", "resident2")
    return caller in STAFF_ROLES and STAFF_ROLES[caller] in admits.roles


def strategies(operation, ids: dict[str, list[Any]], *, admitted: bool):
    """(strategy, examples): valid and invalid requests, and valid ones naming real objects.
    A caller the operation turns away at the door gets a couple of valid requests only."""
    yield operation.as_strategy(generation_mode=GenerationMode.POSITIVE), EXAMPLES
    if not admitted:
        return
    yield operation.as_strategy(generation_mode=GenerationMode.NEGATIVE), EXAMPLES
    names = [parameter.name for parameter in operation.path_parameters]
    if names and all(name in ids for name in names):
        for values in itertools.product(*(ids[name] for name in names)):
            strategy = operation.as_strategy(
                generation_mode=GenerationMode.POSITIVE,
                path_parameters=dict(zip(names, values, strict=True)),
            )
            yield strategy, EXAMPLES_WITH_REAL_IDS


def readable(response) -> str:
    """The response as text, looking inside ZIP containers (xlsx, poster exports)."""
    data = response.content
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "\n".join(
                archive.read(name).decode("utf-8", "replace") for name in archive.namelist()
            )
    return data.decode("utf-8", "replace") + json.dumps(dict(response.headers), ensure_ascii=False)


def secrets_kept_from(world: World, caller: str) -> list[str]:
    kept = KEPT_FROM.get(caller)
    if kept == "all":
        return [SECRET_COMMENT, SECRET_DESCRIPTION, SECRET_APPEAL, SECRET_PHONE, world.tracking_no]
    return [SECRET_PHONE] if kept == "phone" else []


def credentials(app, world: World, caller: str) -> dict[str, str]:
    """The caller's Authorization header, valid now (fuzzing may have signed them out, reset
    their password or changed their role: each operation starts from the caller as built)."""
    if caller == "anonymous":
        return {}
    if caller in world.residents:
        return world.residents[caller]
    account = world.staff[caller]
    with app.app_context():
        current = db.session.get(StaffAccount, account.id)
        current.role, current.unit_id, current.is_active = (
            STAFF_ROLES[caller],
            account.unit_id,
            True,
        )
        db.session.commit()
    return bearer(app, account)


def describe(case, response, problem: str) -> str:
    body = case.body if isinstance(case.body, dict | list | str | int | float | None) else "…"
    return (
        f"{case.operation.label} → {response.status_code}: {problem}\n"
        f"    {response.request.method} {response.request.url[:300]}\n"
        f"    path={case.path_parameters} query={case.query} "
        f"body={json.dumps(body, ensure_ascii=False, default=str)[:200]}\n"
        f"    answer={response.content[:200].decode('utf-8', 'replace')}"
    )


def run(strategy, examples: int, name: str, examine) -> None:
    """`examine` a few generated cases: the same ones every run (seeded by `name`), with no
    example database left on disk."""

    @seed(zlib.crc32(name.encode()))
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def each(case):
        examine(case)

    try:
        each()
    except Unsatisfiable:  # nothing to make invalid: no parameters and no body
        pass


def checks_for(case) -> list:
    """All the checks, except one that cannot judge a query of dicts or lists: those go out as
    repeated `name=value` pairs of valid strings (the server reads the first), so the invalid
    value schemathesis meant to send never reaches us and "invalid request accepted" is false.
    """
    if any(isinstance(value, dict | list) for value in case.query.values()):
        return [check for check in CHECKS if check is not negative_data_rejection]
    return CHECKS


def raw_body(case) -> bytes:
    if isinstance(case.body, NotSet):
        return b""
    if isinstance(case.body, bytes):
        return case.body
    return json.dumps(case.body, ensure_ascii=False).encode()


def signed(app, case, headers: dict[str, str]) -> dict[str, Any]:
    """The 12345 platform signs its callbacks: sign the generated body, so that it reaches
    the body's validation and the handler instead of stopping at the signature."""
    if case.path != CALLBACK_PATH:
        return {"headers": headers}
    body = raw_body(case)
    with app.app_context():
        signature = signed_headers(HOTLINE_SECRET, body, event_id="fuzz")
    return {"headers": {**headers, **signature}, "data": body}


@pytest.mark.parametrize("caller", CALLERS)
def test_every_answer_is_documented_and_keeps_resident_one_private(app, world, caller):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    ids = real_ids(world, caller)
    rules = access_rules(app)
    secrets = secrets_kept_from(world, caller)
    problems: list[str] = []
    statuses: dict[str, set[int]] = {}
    headers: dict[str, str] = {}

    def examine(case) -> None:
        request = signed(app, case, headers)
        response = case.call(**request)
        statuses.setdefault(case.operation.label, set()).add(response.status_code)
        try:
            case.validate_response(response, checks=checks_for(case), headers=request["headers"])
        except FailureGroup as group:
            titles = "; ".join(sorted({failure.title for failure in group.exceptions}))
            problems.append(describe(case, response, titles))
        sent = json.dumps(
            [case.path_parameters, case.query, case.body], ensure_ascii=False, default=str
        )
        leaked = [s for s in secrets if s in readable(response) and s not in sent]
        if leaked:
            problems.append(describe(case, response, f"泄露了群众甲的信息 {leaked}"))

    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        headers = credentials(app, world, caller)
        door = admitted(caller, rules[operation.label])
        for number, (strategy, examples) in enumerate(strategies(operation, ids, admitted=door)):
            run(strategy, examples, f"{caller} {operation.label} {number}", examine)

    assert {op.label for op in operations} == set(statuses), "有接口一次也没有调用到"
    assert len(operations) >= 90, "接口文档里的接口少了"
    if caller == "admin":  # the signed callbacks got past the signature
        assert statuses[f"POST {CALLBACK_PATH}"] - {401}, statuses[f"POST {CALLBACK_PATH}"]
    assert not problems, f"{len(problems)} 个问题：\n" + "\n".join(problems)
