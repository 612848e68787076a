"""The document's examples are true: each request example, sent to a seeded app by a caller
allowed to send it, succeeds, and the answer has the response example's shape (at every level
the keys the schema declares, and the same JSON types where neither side is null).

How each operation is reached (its path's objects and its caller) comes from the access
matrix's cases (tests/app/test_access_matrix.py) for staff operations, from its resident cases,
and from CASES below for the public and the other resident operations. Ids in a request example
(fields ending in `_id`) and values that must be unique in the world (`username`, `code`, …)
take the seeded world's values; everything else is sent as the example says.

To draft the example of a new operation from a real answer, run this test with
PINGYI_RECORD_ANSWERS=/tmp/answers.jsonl.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.apidoc import operation_key, operations
from app.jobs import run_job
from app.org.models import Role
from tests.app.test_access_matrix import CASES as STAFF_CASES
from tests.app.test_access_matrix import (
    ENDPOINTS,
    MY_CLUE_CASES,
    World,
    world,  # noqa: F401  (the seeded world: a city, staff, codes, clues in every state)
)
from tests.evaluations.helpers import h5_resident, wechat_resident
from tests.factories import PASSWORD, bearer, make_staff
from tests.qr.factories import make_code

JSON = "application/json"
# Request fields that name the seeded world's objects or must be unique in it.
WORLD_FIELDS = {"username", "code", "staff_no", "label", "qr_token", "tracking_no", "event_id"}
# Operations that take the world's objects away (a revoked code, a deactivated unit, a closed
# session) run after the others.
_windows = itertools.count(1)
LAST = [re.compile(r"^POST .*/rotate$"), re.compile(r"^(DELETE .*|POST .*/(revoke|deactivate))$")]


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None = None  # the world's own values for WORLD_FIELDS
    options: dict[str, Any] = field(default_factory=dict)  # a multipart upload's data
    # How the final body is sent when not as plain JSON (a signed callback)
    sign: Callable[[dict[str, Any]], dict[str, Any]] | None = None


def _cast(w: World):
    from tests.clues.factories import make_cast

    return make_cast(w.app, w.app.test_client())


def _my_clue(w: World, status: str, suffix: str = "") -> Call:
    cast = _cast(w)
    clue = cast.drive(status)
    return Call(f"/api/v1/me/clues/{clue.tracking_no}{suffix}", cast.resident)


def _tracking_link(w: World) -> Call:
    from app.extensions import db
    from clues.tracking import ClueTracking

    clue = _cast(w).drive("submitted")
    with w.app.app_context():
        return Call(f"/api/v1/track/{db.session.get(ClueTracking, clue.id).secret}", {})


def _signed_in(w: World) -> Call:
    account = make_staff(w.app, Role.ADMIN, w.units["city"])
    return Call("/api/v1/staff/session", {}, {"username": account.username, "password": PASSWORD})


def _wechat(w: World, path: str) -> Call:
    return Call(path, wechat_resident(w.app.test_client(), "replay"), {"code": "replay~again"})


def _fresh_code(w: World) -> str:
    """A code of its own (a window code), so no other operation's revocation reaches it."""
    return make_code(w.app, w.units["station_a"], label=f"窗口 {next(_windows)}").token


def _rating(w: World, path: str) -> Call:
    return Call(path, h5_resident(w.app.test_client()), {"qr_token": _fresh_code(w)})


def _as(w: World, role: Role, path: str, body: dict[str, Any] | None = None) -> Call:
    caller = make_staff(w.app, role, w.units["district_a"])
    return Call(path, bearer(w.app, caller), body)


def _clue(w: World, status: str, suffix: str, role: Role = Role.SCREENER) -> Call:
    from tests.app.test_access_matrix import clue_in

    return _as(w, role, f"/api/v1/clues/{clue_in(w, 'station_a', status)}{suffix}")


def _bad_rating(w: World) -> Call:
    """A 非常不满意 rating without a clue: its unit's rectification to record."""
    import sqlalchemy as sa

    from app.extensions import db
    from clues.practice_models import BadRatingRectification

    resident = h5_resident(w.app.test_client())
    rating = {"qr_token": _fresh_code(w), "level": 1}
    answer = w.app.test_client().post("/api/v1/evaluations", headers=resident, json=rating)
    assert answer.status_code == 201, answer.json
    with w.app.app_context():
        run_job("bad_rating_intake")
        row = db.session.scalars(
            sa.select(BadRatingRectification.id).order_by(BadRatingRectification.id.desc())
        ).first()
    return _as(w, Role.VERIFIER, f"/api/v1/bad-ratings/{row}/rectify")


def _interview(w: World) -> Call:
    call = _as(w, Role.SUPERIOR, "/api/v1/interviews")
    body = {
        "unit_id": w.units["station_a"].id,
        "held_on": "2026-03-10",
        "interviewer": "市委政法委副书记",
        "interviewee": "派出所所长",
        "commitments": "一个月内清理超期线索",
    }
    answer = w.app.test_client().post(call.path, headers=call.headers, json=body)
    assert answer.status_code == 201, answer.json
    return Call(f"/api/v1/interviews/{answer.json['id']}/follow-up", call.headers)


def _reassign(w: World) -> Call:
    """A clue assigned to station A, reassigned to the court in the same district."""
    call = _clue(w, "assigned", "/reassign")
    call.body = {"unit_id": w.units["court_a"].id}
    return call


def _revoke(w: World) -> Call:
    """A code of its own: the access matrix's case revokes the code another case rotates."""
    code = make_code(w.app, w.units["station_a"], label=f"窗口 {next(_windows)}")
    return _as(w, Role.ADMIN, f"/api/v1/qr-codes/{code.id}/revoke")


def _public(w: World) -> Call:
    w.app.config["PUBLIC_DISCLOSURE"] = True
    return Call("/api/v1/public/ranking", {})


def _hotline(w: World) -> Call:
    """The 12345 platform reports the result of a clue forwarded to it, signed."""
    from notifications.channels.hotline import signed_headers

    filed = _cast(w).drive("forwarded", category="livelihood")
    w.app.config["HOTLINE_SECRET"] = secret = "replay-hotline-secret"
    event_id = f"pingyi-forward-{filed.tracking_no}"

    def signed(body: dict[str, Any]) -> dict[str, Any]:
        raw = json.dumps(body, ensure_ascii=False).encode()
        with w.app.app_context():
            headers = signed_headers(secret, raw, event_id=event_id)
        return {"data": raw, "headers": headers}

    own = {"tracking_no": filed.tracking_no, "event_id": event_id}
    return Call("/integrations/12345/callback", {}, own, sign=signed)


# The public operations, the resident operations the access matrix has no case for, and
# staff operations it does not cover yet.
CASES: dict[str, Callable[[World], Call]] = {
    "GET /api/v1/public/ranking": _public,
    "GET /api/v1/calendar/status": lambda w: _as(w, Role.ANALYST, "/api/v1/calendar/status"),
    "POST /api/v1/calendar/schedules": lambda w: _as(w, Role.ADMIN, "/api/v1/calendar/schedules"),
    "POST /integrations/12345/callback": _hotline,
    "GET /api/v1/bad-ratings": lambda w: _as(w, Role.SUPERIOR, "/api/v1/bad-ratings"),
    "POST /api/v1/bad-ratings/<int:rectification_id>/rectify": _bad_rating,
    "POST /api/v1/qr-codes/<int:code_id>/revoke": _revoke,
    "GET /api/v1/briefs/daily": lambda w: _as(w, Role.ANALYST, "/api/v1/briefs/daily"),
    "GET /api/v1/stats/annual": lambda w: _as(w, Role.ANALYST, "/api/v1/stats/annual?year=2026"),
    "GET /api/v1/stats/topics": lambda w: _as(w, Role.ANALYST, "/api/v1/stats/topics"),
    "GET /api/v1/interviews": lambda w: _as(w, Role.SUPERIOR, "/api/v1/interviews"),
    "POST /api/v1/interviews": lambda w: _as(
        w, Role.SUPERIOR, "/api/v1/interviews", {"unit_id": w.units["station_a"].id}
    ),
    "POST /api/v1/interviews/<int:interview_id>/follow-up": _interview,
    "GET /api/v1/clues/<int:clue_id>/callbacks": lambda w: _clue(w, "closed", "/callbacks"),
    "POST /api/v1/clues/<int:clue_id>/callbacks": lambda w: _clue(w, "closed", "/callbacks"),
    "PUT /api/v1/clues/<int:clue_id>/public-summary": lambda w: _clue(
        w, "closed", "/public-summary"
    ),
    "POST /api/v1/clues/<int:clue_id>/reassign": _reassign,
    "POST /api/v1/clues/<int:clue_id>/send_back": lambda w: _clue(
        w, "assigned", "/send_back", Role.VERIFIER
    ),
    "GET /healthz": lambda w: Call("/healthz", {}),
    "GET /api/v1/errors": lambda w: Call("/api/v1/errors", {}),
    "POST /api/v1/auth/h5": lambda w: Call("/api/v1/auth/h5", {}),
    "POST /api/v1/auth/wechat": lambda w: Call("/api/v1/auth/wechat", {}, {"code": "replay~1"}),
    "POST /api/v1/staff/session": _signed_in,
    "GET /api/v1/scan/<token>": lambda w: Call(f"/api/v1/scan/{_fresh_code(w)}", {}),
    "POST /api/v1/evaluations": lambda w: _rating(w, "/api/v1/evaluations"),
    "POST /api/v1/me/clues": lambda w: _rating(w, "/api/v1/me/clues"),
    "GET /api/v1/me/clues": lambda w: Call("/api/v1/me/clues", _my_clue(w, "submitted").headers),
    "GET /api/v1/me/subscriptions": lambda w: _wechat(w, "/api/v1/me/subscriptions"),
    "POST /api/v1/me/subscriptions": lambda w: _wechat(w, "/api/v1/me/subscriptions"),
    "POST /api/v1/me/clues/<tracking_no>/withdraw": lambda w: _my_clue(w, "submitted", "/withdraw"),
    "GET /api/v1/track/<secret>": _tracking_link,
}


def _rules(app) -> dict[tuple[str, str], str]:
    """(method, document path) → "METHOD rule", as the access matrix names operations."""
    rules = {}
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            rules[(method.lower(), path)] = f"{method} {rule.rule}"
    return rules


def _staff_call(w: World, key: str) -> Call:
    case, rule = STAFF_CASES[key], ENDPOINTS[key]
    role = next(r for r in Role if r in rule.roles)
    caller = make_staff(w.app, role, w.units["district_a"])
    path = case.path_in(w, caller) if case.per_caller else case.path_in(w)
    return Call(path, bearer(w.app, caller), case.body(w) if case.body else None)


def _resident_call(w: World, key: str) -> Call:
    status, request_args, _ = MY_CLUE_CASES[key]
    call = _my_clue(w, status, key.split("<tracking_no>", 1)[1])
    options = request_args()
    if "data" in options:  # an upload: sent as the case sends it
        call.options = options
    return call


def _call_for(w: World, key: str) -> Call | None:
    if key in CASES:
        return CASES[key](w)
    if key in STAFF_CASES:
        return _staff_call(w, key)
    if key in MY_CLUE_CASES:
        return _resident_call(w, key)
    return None


def _body(example: dict[str, Any], own: dict[str, Any] | None) -> dict[str, Any]:
    """The example with the world's ids and unique values in place of its own."""
    own = own or {}
    body = {k: v for k, v in example.items() if not k.endswith("_id") or k in own}
    body.update({k: v for k, v in own.items() if k.endswith("_id") or k in WORLD_FIELDS})
    return body


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


class Shapes:
    """Compares an answer with an example along the document's schema."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.schemas = spec["components"]["schemas"]

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.schemas[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def differences(self, actual: Any, example: Any, schema: dict, where: str = "$") -> list[str]:
        schema = self.resolve(schema)
        if actual is None or example is None:
            return []
        options = [o for o in schema.get("anyOf", []) if self.resolve(o).get("type") != "null"]
        if options:
            found = [self.differences(actual, example, option, where) for option in options]
            return min(found, key=len)
        if _kind(actual) != _kind(example):
            return [f"{where}: {_kind(actual)} in the answer, {_kind(example)} in the example"]
        if isinstance(actual, dict) and schema.get("properties"):
            if set(actual) != set(example):
                lacking = sorted(set(actual) - set(example))
                extra = sorted(set(example) - set(actual))
                return [f"{where}: the example lacks {lacking}, has extra {extra}"]
            return [
                problem
                for key, prop in schema["properties"].items()
                if key in actual
                for problem in self.differences(actual[key], example[key], prop, f"{where}.{key}")
            ]
        if isinstance(actual, list) and actual and example:
            return self.differences(actual[0], example[0], schema.get("items", {}), f"{where}[0]")
        return []


def _record(key: str, answer: Any) -> None:
    """With PINGYI_RECORD_ANSWERS=<file>, append each answer as a JSON line: real bodies to
    draft the example of a new operation from."""
    target = os.environ.get("PINGYI_RECORD_ANSWERS")
    if target:
        line = {"key": key, "status": answer.status_code, "json": answer.get_json(silent=True)}
        with open(target, "a", encoding="utf-8") as out:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")


def _bodies(operation: dict[str, Any]) -> tuple[bool, Any, dict[str, Any] | None]:
    """Whether the operation has a JSON body either way, its request example, and its success
    response's media (a missing example is tests/app/test_api_document.py's to report)."""
    request = operation.get("requestBody", {}).get("content", {}).get(JSON)
    for status, response in operation["responses"].items():
        media = response.get("content", {}).get(JSON)
        if status.startswith("2") and media is not None:
            return True, (request or {}).get("example"), media
    return request is not None, (request or {}).get("example"), None


def test_every_example_replays_against_a_seeded_app(app, client, world):  # noqa: F811
    spec = client.get("/openapi.json").json
    rules, shapes = _rules(app), Shapes(spec)
    found = [(rules[(m, p)], m, p, o) for m, p, o in operations(spec)]
    found.sort(key=lambda item: [bool(p.match(item[0])) for p in LAST][::-1])
    replayed, problems = 0, []
    for key, method, path, operation in found:
        has_json, request, response = _bodies(operation)
        if not has_json:
            continue
        call = _call_for(world, key)
        if call is None:
            problems.append(f"{operation_key(method, path)}: 没有重放用例（在本文件 CASES 中添加）")
            continue
        body = _body(request, call.body) if request is not None else call.body
        sent = call.options or (call.sign(body) if call.sign else {"json": body})
        headers = {**call.headers, **sent.pop("headers", {})}
        answer = client.open(call.path, method=method.upper(), headers=headers, **sent)
        replayed += 1
        _record(operation_key(method, path), answer)
        if not 200 <= answer.status_code < 300:
            problems.append(f"{key}: {answer.status_code} {answer.get_json()}")
        elif response is not None and "example" in response:
            differences = shapes.differences(
                answer.get_json(), response["example"], response["schema"]
            )
            problems += [f"{key}: {problem}" for problem in differences]
    assert problems == [], "\n".join(problems)
    assert replayed > 80
