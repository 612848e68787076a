"""The OpenAPI document as a front-end developer reads it, and the error catalogue's endpoint.

The routes' schemas generate the document; `complete_spec()` then adds what the code does not
say by itself: the document's description (authentication, tokens, the WeChat sequences,
pagination, rate limits, time zones), one entry per tag, operationIds a code generator can
use, Chinese field titles (app/glossary.py), declared headers, the error codes each operation
can return (app/error_codes.py) and examples for every body (app/examples.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
from apiflask import APIBlueprint, APIFlask
from pydantic import Field

from app.error_codes import ERROR_CODES, ClientAction, ErrorCode, operation_codes
from app.examples import ERROR_DETAILS, OPERATION_EXAMPLES, SCHEMA_EXAMPLES
from app.glossary import FIELD_TITLES
from app.schemas import Schema

bp = APIBlueprint("apidoc", __name__, url_prefix="/api/v1", tag="接口说明")

_DESCRIPTION = Path(__file__).parent / "templates" / "apidoc" / "description.md"
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
JSON = "application/json"

# Headers an operation accepts beyond the schemas', by "METHOD /path".
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "每次新的提交生成一个（如 UUID），超时重发时原样带上：同键同内容返回第一次的结果，"
        "不会重复评价。1–100 个可打印 ASCII 字符。"
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[\\x21-\\x7e]+$"},
    "example": "9b2f6c1e-4d2a-4c1b-8f3e-2a7d5c9e0b14",
}
RETRY_AFTER = {
    "description": "需要等待的秒数，之后再试",
    "schema": {"type": "integer", "minimum": 1},
    "example": 1800,
}
HEADERS: dict[str, list[dict[str, Any]]] = {
    "POST /api/v1/evaluations": [IDEMPOTENCY_KEY],
}

# operationIds the views' names do not give well.
OPERATION_IDS = {
    "GET /healthz": "healthCheck",
    "GET /api/v1/scan/{token}": "scanCode",
    "POST /api/v1/evaluations": "submitEvaluation",
    "GET /api/v1/track/{secret}": "trackClue",
    "POST /api/v1/me/clues/{tracking_no}/rerating": "rerateMyClue",
    "POST /api/v1/me/clues/{tracking_no}/appeal": "appealMyClue",
    "POST /api/v1/me/clues/{tracking_no}/photos": "uploadMyCluePhoto",
}


class ErrorCodeOut(Schema):
    code: str = Field(description="错误码，即错误回应的 error")
    status: int = Field(description="HTTP 状态码")
    also_status: list[int] = Field(description="个别接口用的另一个状态码")
    message: str = Field(description="通常的中文说明（回应里的 message 可能更具体）")
    meaning: str = Field(description="什么情况下出现")
    action: ClientAction = Field(description="客户端该怎么做")
    action_label: str = Field(description="客户端该怎么做（中文）")


class ErrorCatalogueOut(Schema):
    items: list[ErrorCodeOut]


@bp.get("/errors")
@bp.output(ErrorCatalogueOut)
def error_catalogue():
    """全部错误码：状态码、含义、客户端该怎么做

    retry 稍后重试；relogin 重新登录；show_message 把 message 显示给用户；
    fix_input 按 details.fields 提示用户修改输入。
    """
    return {"items": [entry.as_json() for entry in ERROR_CODES.values()]}


# ---------------------------------------------------------------- completing the document


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) for every operation in the document."""
    return [
        (method, path, operation)
        for path, item in spec.get("paths", {}).items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def operation_key(method: str, path: str) -> str:
    return f"{method.upper()} {path}"


def complete_spec(app: APIFlask, spec: dict[str, Any]) -> dict[str, Any]:
    """Everything the generated document lacks for a reader outside our Python."""
    spec["info"]["description"] = _description(app)
    spec["info"]["contact"] = {"name": "评议平台运维", "url": app.config["PUBLIC_BASE_URL"]}
    for server in spec.get("servers", []):
        server["url"] = server["url"].rstrip("/") or app.config["PUBLIC_BASE_URL"]
    spec["tags"] = _unique_tags(spec.get("tags", []))
    _name_operations(app, spec)
    _separate_resident_tokens(app, spec)
    schemas = spec.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        _title_fields(name, schema)
        _drop_impossible_defaults(schema)
    for method, path, operation in operations(spec):
        key = operation_key(method, path)
        _declare_headers(key, operation)
        _document_errors(key, operation)
        _attach_examples(key, operation)
    return spec


def _description(app: APIFlask) -> str:
    template = jinja2.Template(_DESCRIPTION.read_text(encoding="utf-8"))
    return template.render(
        resident_days=app.config["RESIDENT_TOKEN_TTL_SECONDS"] // 86400,
        staff_hours=app.config["STAFF_TOKEN_TTL_SECONDS"] // 3600,
        tracking_days=app.config.get("TRACKING_LINK_RETENTION_DAYS", 180),
        rating_limit=app.config["RATE_LIMIT_RESIDENT"],
    ).strip()


def _unique_tags(tags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Two blueprints may share a tag (问题线索: the clue routes and the photos); list it once."""
    seen: dict[str, dict[str, Any]] = {}
    for tag in tags:
        seen.setdefault(tag["name"], {}).update(tag)
    return list(seen.values())


def _camel(words: str) -> str:
    parts = [p for p in re.split(r"[^0-9A-Za-z]+", words) if p]
    return parts[0].lower() + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def _name_operations(app: APIFlask, spec: dict[str, Any]) -> None:
    """operationId from the view's name (`submit_evaluation` → `submitEvaluation`); the
    blueprint's name, then the method, is added only where two operations would collide."""
    endpoints = _endpoints(app)
    found = [(m, p, o, endpoints.get((m, p), p)) for m, p, o in operations(spec)]
    names = [_view_name(endpoint) for *_, endpoint in found]
    for index, (method, path, operation, endpoint) in enumerate(found):
        name = OPERATION_IDS.get(operation_key(method, path), names[index])
        if names.count(name) > 1:
            name = _camel(endpoint)
            qualified = [_camel(e) for *_, e in found]
            if qualified.count(name) > 1:
                name = _camel(f"{method} {endpoint}")
        operation["operationId"] = name


def _view_name(endpoint: str) -> str:
    """`rating.submit_evaluation` → `submitEvaluation`; a one-word view (`qr.issue`) keeps its
    blueprint (`qrIssue`), a method name alone (`get`, `export`) says too little."""
    blueprint, _, view = endpoint.rpartition(".")
    return _camel(view if "_" in view or not blueprint else f"{blueprint} {view}")


def _separate_resident_tokens(app: APIFlask, spec: dict[str, Any]) -> None:
    """Residents' and staff's tokens are both bearer tokens but never interchangeable: the
    document names two schemes, and each resident operation asks for the resident's."""
    schemes = spec.setdefault("components", {}).setdefault("securitySchemes", {})
    staff_hours = app.config["STAFF_TOKEN_TTL_SECONDS"] // 3600
    resident_days = app.config["RESIDENT_TOKEN_TTL_SECONDS"] // 86400
    if "BearerAuth" in schemes:
        schemes["BearerAuth"]["description"] = (
            f"工作人员令牌：POST /api/v1/staff/session 获得，{staff_hours} 小时有效"
        )
    schemes["ResidentAuth"] = {
        "type": "http",
        "scheme": "bearer",
        "description": (
            f"群众令牌：POST /api/v1/auth/wechat（小程序）或 POST /api/v1/auth/h5（浏览器）获得，"
            f"{resident_days} 天有效；工作人员令牌不能用于群众接口"
        ),
    }
    endpoints = _endpoints(app)
    for method, path, operation in operations(spec):
        endpoint = endpoints.get((method, path))
        view = app.view_functions.get(endpoint) if endpoint else None
        if view is not None and getattr(view, "resident_only", False):
            operation["security"] = [{"ResidentAuth": []}]


def _endpoints(app: APIFlask) -> dict[tuple[str, str], str]:
    """(method, document path) → the Flask endpoint serving it."""
    endpoints: dict[tuple[str, str], str] = {}
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            endpoints[(method.lower(), path)] = rule.endpoint
    return endpoints


def _title_fields(schema_name: str, schema: dict[str, Any]) -> None:
    for field, prop in schema.get("properties", {}).items():
        title = FIELD_TITLES.get(f"{schema_name}.{field}") or FIELD_TITLES.get(field)
        if title:
            prop["title"] = title


def _drop_impossible_defaults(schema: dict[str, Any]) -> None:
    """A patch schema's fields default to None ("not sent") but refuse null: the default is
    not a value a client may send, so it is left out of the document."""
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None and not _allows_null(prop):
            del prop["default"]


def _allows_null(prop: dict[str, Any]) -> bool:
    if "$ref" in prop and "type" not in prop:
        return False
    kinds = prop.get("type")
    if kinds == "null" or (isinstance(kinds, list) and "null" in kinds):
        return True
    return any(_allows_null(option) for option in prop.get("anyOf", []) + prop.get("oneOf", []))


def _declare_headers(key: str, operation: dict[str, Any]) -> None:
    parameters = operation.setdefault("parameters", [])
    names = {(p["in"], p["name"]) for p in parameters}
    for header in HEADERS.get(key, []):
        if ("header", header["name"]) not in names:
            parameters.append(dict(header))


def _document_errors(key: str, operation: dict[str, Any]) -> None:
    """Each error response names the codes the operation can answer with it, with an example
    body per code; a declared code whose status was not documented adds its response."""
    responses = operation.setdefault("responses", {})
    error_ref = {"$ref": "#/components/schemas/HTTPError"}
    codes = operation_codes(key, operation)
    for entry in codes:
        status = _documented_status(entry, responses)
        responses.setdefault(
            str(status),
            {"description": entry.message, "content": {JSON: {"schema": error_ref}}},
        )
    for status, response in responses.items():
        if not status.startswith(("4", "5")):
            continue
        named = [e for e in codes if str(_documented_status(e, responses)) == status]
        media = response.setdefault("content", {}).setdefault(JSON, {"schema": error_ref})
        media.pop("example", None)
        media["examples"] = {
            entry.code: {"summary": f"{entry.code}：{entry.meaning}", "value": _error_body(entry)}
            for entry in named
        }
        if status == "429":
            response["headers"] = {"Retry-After": RETRY_AFTER}
        listed = "、".join(f"`{entry.code}`" for entry in named)
        base = response.get("description", "").split("\n\n错误码：")[0]
        response["description"] = f"{base}\n\n错误码：{listed}"
    operation["responses"] = dict(sorted(responses.items()))


def _documented_status(entry: ErrorCode, responses: dict[str, Any]) -> int:
    """The code's status this operation documents (its second status if only that one is)."""
    for status in entry.statuses:
        if str(status) in responses:
            return status
    return entry.status


def _error_body(entry: ErrorCode) -> dict[str, Any]:
    details = ERROR_DETAILS.get(entry.code, {})
    return {"error": entry.code, "message": entry.message, "details": details}


def _attach_examples(key: str, operation: dict[str, Any]) -> None:
    """The request and success bodies' examples: the operation's own, else its schema's."""
    own = OPERATION_EXAMPLES.get(key, {})
    request_media = operation.get("requestBody", {}).get("content", {}).get(JSON)
    if request_media is not None:
        # Every JSON body is expected (an empty object for an optional note), so a generated
        # client does not make it optional.
        operation["requestBody"]["required"] = True
        example = own.get("request", _schema_example(request_media))
        if example is not None:
            request_media["example"] = example
    for status, response in operation.get("responses", {}).items():
        media = response.get("content", {}).get(JSON)
        if not status.startswith("2") or media is None:
            continue
        example = own.get("response", _schema_example(media))
        if example is not None:
            media["example"] = example


def _schema_example(media: dict[str, Any]) -> Any:
    ref = media.get("schema", {}).get("$ref", "")
    return SCHEMA_EXAMPLES.get(ref.rsplit("/", 1)[-1]) if ref else None
