"""The OpenAPI document as the mini-program's developer reads it: examples for every body, the
error codes of every operation, declared headers, Chinese titles, and two real tools (Spectral,
openapi-typescript) that accept it without a complaint.

The checks walk the generated document, so an operation or a schema added later is checked too;
the messages name what to add and where (app/examples.py, app/error_codes.py, app/glossary.py).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from app import create_app
from app.apidoc import operation_key, operations
from app.error_codes import ERROR_CODES, OPERATION_ERRORS, declared_codes
from app.errors import status_defaults
from tests.conftest import base_config, service_missing

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "node_modules" / ".bin"
JSON = "application/json"


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The document as /openapi.json serves it (generating it reads no database)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('doc') / 'unused.sqlite3'}"
    app = create_app(base_config(url))
    return app.test_client().get("/openapi.json").json


@pytest.fixture(scope="module")
def spec_file(spec: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("doc") / "openapi.json"
    path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    return path


def _tool(name: str) -> Path:
    tool = BIN / name
    if not tool.exists():
        service_missing(f"未安装 {name}（scripts/test 会用 npm 安装 node_modules）")
    return tool


def _json_bodies(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(operation, "request" or the status, media) for every JSON request and success body."""
    bodies = []
    for method, path, operation in operations(spec):
        key = operation_key(method, path)
        media = operation.get("requestBody", {}).get("content", {}).get(JSON)
        if media is not None:
            bodies.append((key, "request", media))
        for status, response in operation["responses"].items():
            media = response.get("content", {}).get(JSON)
            if status.startswith("2") and media is not None:
                bodies.append((key, status, media))
    return bodies


def test_every_request_and_response_body_has_an_example(spec):
    bodies = _json_bodies(spec)
    assert len(bodies) > 100
    missing = [
        f"{key} ({part}) {media['schema']}" for key, part, media in bodies if "example" not in media
    ]
    assert missing == [], (
        "这些请求或回应没有示例：在 app/examples.py 的 SCHEMA_EXAMPLES（按结构名）或 "
        "OPERATION_EXAMPLES（按接口）里添加：\n" + "\n".join(missing)
    )


def test_every_error_response_names_registered_codes_with_examples(spec):
    problems = []
    for method, path, operation in operations(spec):
        key = operation_key(method, path)
        for status, response in operation["responses"].items():
            if not status.startswith(("4", "5")):
                continue
            examples = response["content"][JSON].get("examples", {})
            if not examples:
                problems.append(f"{key} {status}: 没有列出错误码")
            for code, example in examples.items():
                entry = ERROR_CODES.get(code)
                if entry is None or int(status) not in entry.statuses:
                    problems.append(f"{key} {status}: 错误码 {code} 未登记或状态码不符")
                assert example["value"]["error"] == code
            assert "错误码：" in response["description"], (key, status)
    assert problems == [], "\n".join(problems)


def test_the_rating_operation_names_its_own_refusals(spec):
    rating = spec["paths"]["/api/v1/evaluations"]["post"]
    assert set(rating["responses"]["409"]["content"][JSON]["examples"]) == {
        "already_rated",
        "idempotency_in_flight",
    }
    assert "token_expired" in rating["responses"]["401"]["content"][JSON]["examples"]
    limited = rating["responses"]["429"]
    assert "rate_limited" in limited["content"][JSON]["examples"]
    assert limited["headers"]["Retry-After"]["schema"]["type"] == "integer"
    rated = rating["responses"]["409"]["content"][JSON]["examples"]["already_rated"]["value"]
    assert rated["details"] == {"next_allowed_on": "2026-03-03"}
    accept = spec["paths"]["/api/v1/clues/{clue_id}/accept"]["post"]
    assert "illegal_transition" in accept["responses"]["409"]["content"][JSON]["examples"]
    assert "out_of_scope" in accept["responses"]["403"]["content"][JSON]["examples"]


def test_the_codes_by_operation_table_is_current(spec):
    keys = [operation_key(m, p) for m, p, _ in operations(spec)]
    stale = [
        pattern
        for pattern in OPERATION_ERRORS
        if not any(re.fullmatch(re.escape(pattern).replace(r"\*", "[^/]+"), k) for k in keys)
    ]
    assert stale == [], f"app/error_codes.py OPERATION_ERRORS 中这些接口已不存在：{stale}"
    unknown = {c for codes in OPERATION_ERRORS.values() for c in codes} - set(ERROR_CODES)
    assert unknown == set()
    # Every specific code is named by an operation, so a client knows where to expect it.
    named = {code for key in keys for code in declared_codes(key)}
    generic = {code for code, _ in status_defaults().values()}
    implied = {"invalid_json", "token_expired", "token_invalid", "out_of_scope", "duplicate"}
    homeless = sorted(set(ERROR_CODES) - named - generic - implied)
    assert homeless == [], f"这些错误码没有写在任何接口上（OPERATION_ERRORS）：{homeless}"


def test_resident_and_staff_tokens_are_separate_schemes(spec):
    schemes = spec["components"]["securitySchemes"]
    assert "30 天" in schemes["ResidentAuth"]["description"]
    assert "8 小时" in schemes["BearerAuth"]["description"]
    paths = spec["paths"]
    assert paths["/api/v1/evaluations"]["post"]["security"] == [{"ResidentAuth": []}]
    assert paths["/api/v1/me/clues"]["get"]["security"] == [{"ResidentAuth": []}]
    assert paths["/api/v1/clues"]["get"]["security"] == [{"BearerAuth": []}]
    assert "security" not in paths["/api/v1/auth/wechat"]["post"]


def test_idempotency_key_is_a_declared_header_of_the_rating(spec):
    parameters = spec["paths"]["/api/v1/evaluations"]["post"]["parameters"]
    header = next(p for p in parameters if p["name"] == "Idempotency-Key")
    assert header["in"] == "header" and header["required"] is False
    assert header["schema"]["maxLength"] == 100


def test_description_explains_sign_in_tokens_and_limits_in_chinese(spec):
    text = spec["info"]["description"]
    for topic in (
        "wx.login",
        "POST /api/v1/auth/wechat",
        "工作人员",
        "30 天",
        "8 小时",
        "wx.requestSubscribeMessage",
        "/t/{secret}",
        "per_page",
        "Retry-After",
        "Asia/Shanghai",
        "GET /api/v1/errors",
    ):
        assert topic in text, topic


def test_fields_have_chinese_titles(spec):
    untitled = sorted(
        {
            f"{name}.{field}"
            for name, schema in spec["components"]["schemas"].items()
            for field, prop in schema.get("properties", {}).items()
            if prop.get("title", "").isascii()
        }
    )
    assert untitled == [], "这些字段没有中文标题：在 app/glossary.py 添加：\n" + "\n".join(untitled)


def test_tags_are_listed_once_and_operation_ids_are_identifiers(spec):
    names = [tag["name"] for tag in spec["tags"]]
    assert len(names) == len(set(names)), names
    used = {tag for _, _, op in operations(spec) for tag in op.get("tags", [])}
    assert used <= set(names)
    ids = [op["operationId"] for _, _, op in operations(spec)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][A-Za-z0-9]*", i) for i in ids), ids


def test_spectral_finds_no_error_or_warning(spec_file):
    tool = _tool("spectral")
    result = subprocess.run(
        [tool, "lint", spec_file, "-r", ROOT / ".spectral.yaml", "-f", "json", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    findings = json.loads(result.stdout or "[]")
    serious = [
        f"{f['code']} {'.'.join(map(str, f['path']))}: {f['message']}"
        for f in findings
        if f["severity"] <= 1
    ]
    assert serious == [], "\n".join(serious[:50])


@pytest.fixture(scope="module")
def typings(spec_file: Path) -> tuple[subprocess.CompletedProcess, Path]:
    """openapi-typescript's run on the document and the types it wrote."""
    tool = _tool("openapi-typescript")
    out = spec_file.parent / "pingyi-api.d.ts"
    result = subprocess.run(
        # Optional request fields have defaults; the flag keeps them optional (see
        # docs/miniprogram.md, which generates the types the same way).
        [tool, spec_file, "--default-non-nullable=false", "-o", out],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    return result, out


def test_openapi_typescript_generates_types_without_warnings(typings):
    result, out = typings
    assert result.returncode == 0, result.stderr
    complaints = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if re.search(r"warn|error|⚠|✘", line, re.I)
    ]
    assert complaints == []
    types = out.read_text(encoding="utf-8")
    assert "submitEvaluation" in types
    assert "EvaluationIn" in types and "HTTPError" in types


# Just enough of the mini-program's `wx` and `Page` for the wrapper in docs/miniprogram.md.
WX_TYPES = """
declare const wx: {
  request(options: {
    url: string; method?: string; data?: unknown; timeout?: number;
    header?: Record<string, string>;
    success?: (res: { statusCode: number; data: unknown; header: Record<string, string> }) => void;
    fail?: (err: { errMsg: string }) => void;
  }): void;
  login(): Promise<{ code: string }>;
  getStorageSync(key: string): unknown;
  setStorageSync(key: string, value: unknown): void;
  showToast(options: { title: string; icon?: string }): void;
  showModal(options: { title: string; content: string; showCancel?: boolean }): void;
};
declare function Page(
  options: Record<string, unknown> &
    ThisType<{ data: Record<string, any>; setData(data: Record<string, unknown>): void }>,
): void;
"""


def test_the_documented_wx_request_wrapper_type_checks_against_the_generated_types(
    typings, tmp_path
):
    """docs/miniprogram.md's wrapper and page, compiled with tsc --strict against the types
    generated from today's document: a renamed operation or field breaks this test."""
    result, generated = typings
    assert result.returncode == 0, result.stderr
    tsc = _tool("tsc")
    text = (ROOT / "docs" / "miniprogram.md").read_text(encoding="utf-8")
    wrapper, page = re.findall(r"```ts\n(.*?)```", text, re.S)[:2]
    files = {
        "typings/pingyi-api.d.ts": generated.read_text(encoding="utf-8"),
        "typings/wx.d.ts": WX_TYPES,
        "api/pingyi.ts": wrapper,
        "pages/rate/index.ts": page,
    }
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content, encoding="utf-8")
    checked = subprocess.run(
        [
            tsc,
            "--noEmit",
            "--strict",
            "--target",
            "es2020",
            "--module",
            "es2020",
            "--moduleResolution",
            "bundler",
            *files,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "submitEvaluation" in wrapper and "trackClue" in wrapper
