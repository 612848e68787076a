"""The error catalogue lists every code the code base can answer with, and serves it."""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

from app import errors
from app.error_codes import ERROR_CODES, ClientAction

ROOT = Path(__file__).resolve().parents[2]
# Product code only: tests, migrations and the development sandboxes raise nothing a client sees.
SKIPPED_DIRS = {".venv", "node_modules", "tests", "migrations", "sandboxes", "bench", "instance"}
# Calls that answer with (status, code, ...) positionally.
STATUS_CALLS = {"ApiError", "error_response"}


@dataclass(frozen=True)
class Raised:
    code: str
    status: int
    where: str


def _product_files() -> list[Path]:
    return sorted(
        p for p in ROOT.rglob("*.py") if not SKIPPED_DIRS & set(p.relative_to(ROOT).parts[:-1])
    )


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _literal(node: ast.expr | None) -> object:
    try:
        return ast.literal_eval(node) if node is not None else None
    except ValueError:
        return _NOT_LITERAL


_NOT_LITERAL = object()


def _class_code(node: ast.ClassDef) -> str | None:
    """`code = "x"` or `code, message = "x", "…"` in a class body."""
    for statement in node.body:
        if not isinstance(statement, ast.Assign):
            continue
        target, value = statement.targets[0], statement.value
        if isinstance(target, ast.Name) and target.id == "code":
            return ast.literal_eval(value)
        if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
            names = [_name(t) for t in target.elts]
            if "code" in names:
                return ast.literal_eval(value.elts[names.index("code")])
    return None


class _Scan:
    """Every (code, status) a construction of a domain error or an API error names."""

    def __init__(self, files: list[Path]) -> None:
        self.trees = {p: ast.parse(p.read_text(encoding="utf-8")) for p in files}
        # class name -> (default code, status); starts with app/errors.py's classes
        self.classes: dict[str, tuple[str, int]] = {
            name: (cls.code, errors.class_status(cls))
            for name, cls in vars(errors).items()
            if isinstance(cls, type) and issubclass(cls, errors.DomainError)
        }
        self._subclasses()
        # factory function name -> (code parameter's position, status or class name)
        self.factories: dict[str, tuple[int, int | str]] = {}
        self._factories()
        self.raised: list[Raised] = []
        self.problems: list[str] = []

    def _subclasses(self) -> None:
        changed = True
        while changed:
            changed = False
            for tree in self.trees.values():
                for node in ast.walk(tree):
                    if not isinstance(node, ast.ClassDef) or node.name in self.classes:
                        continue
                    bases = [self.classes[b] for b in map(_name, node.bases) if b in self.classes]
                    if bases:
                        code, status = bases[0]
                        self.classes[node.name] = (_class_code(node) or code, status)
                        changed = True

    def _factories(self) -> None:
        for tree in self.trees.values():
            for func in ast.walk(tree):
                if not isinstance(func, ast.FunctionDef):
                    continue
                params = [a.arg for a in func.args.args]
                for call in ast.walk(func):
                    if not isinstance(call, ast.Call):
                        continue
                    kind = _name(call.func)
                    if kind not in self.classes and kind not in STATUS_CALLS:
                        continue
                    code = self._code_expr(call)
                    if isinstance(code, ast.Name) and code.id in params:
                        status: int | str = (
                            ast.literal_eval(call.args[0]) if kind in STATUS_CALLS else kind
                        )
                        self.factories[func.name] = (params.index(code.id), status)

    def _code_expr(self, call: ast.Call) -> ast.expr | None:
        keywords = {k.arg: k.value for k in call.keywords}
        if "code" in keywords:
            return keywords["code"]
        if _name(call.func) in STATUS_CALLS and len(call.args) > 1:
            return call.args[1]
        return None

    def run(self) -> _Scan:
        for path, tree in self.trees.items():
            for func in [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef))]:
                params = {a.arg for a in getattr(getattr(func, "args", None), "args", [])}
                for node in self._own_calls(func):
                    self._call(node, f"{path.relative_to(ROOT)}:{node.lineno}", params)
        return self

    @staticmethod
    def _own_calls(func: ast.AST) -> list[ast.Call]:
        """The calls in `func`'s body, not in the functions nested in it."""
        calls, stack = [], list(ast.iter_child_nodes(func))
        while stack:
            node = stack.pop()
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if isinstance(node, ast.Call):
                calls.append(node)
            stack.extend(ast.iter_child_nodes(node))
        return calls

    def _call(self, call: ast.Call, where: str, params: set[str]) -> None:
        kind = _name(call.func)
        if kind in self.factories:
            position, status = self.factories[kind]
            code = call.args[position] if len(call.args) > position else None
            self._record(code, status, where, None)
            return
        if kind in STATUS_CALLS:
            status = _literal(call.args[0]) if call.args else None
            code = self._code_expr(call)
            if not isinstance(status, int):
                # a handler translating an error that was already raised (error.status, .code)
                return
            self._record(code, status, where, errors.status_defaults().get(status, ("",))[0])
            return
        if kind in self.classes:
            default, status = self.classes[kind]
            self._record(self._code_expr(call), status, where, default, params)

    def _record(
        self,
        code_expr: ast.expr | None,
        status: int | str,
        where: str,
        default: str | None,
        params: set[str] = frozenset(),  # type: ignore[assignment]
    ) -> None:
        if isinstance(status, str):
            status = self.classes[status][1]
        if code_expr is None:
            code = default
        elif isinstance(code_expr, ast.Name) and code_expr.id in params:
            return  # a factory: its callers are scanned
        elif isinstance(code_expr, ast.Attribute) and code_expr.attr == "code":
            return  # passing on an error's own code
        else:
            code = _literal(code_expr)
        if not isinstance(code, str):
            self.problems.append(f"{where}: error code is not a string literal")
            return
        self.raised.append(Raised(code, status, where))


@functools.cache
def _scan() -> _Scan:
    return _Scan(_product_files()).run()


def test_every_code_the_code_base_raises_is_registered_with_its_status():
    scan = _scan()
    assert scan.problems == []
    assert len(scan.raised) > 50, "the scan found too few raise sites to be looking right"
    missing = sorted(
        {
            f"{r.where}: '{r.code}' (HTTP {r.status})"
            for r in scan.raised
            if r.code not in ERROR_CODES
        }
    )
    assert missing == [], "这些错误码没有登记在 app/error_codes.py：\n" + "\n".join(missing)
    wrong = sorted(
        f"{r.where}: '{r.code}' answered {r.status}, registered {ERROR_CODES[r.code].statuses}"
        for r in scan.raised
        if r.status not in ERROR_CODES[r.code].statuses
    )
    assert wrong == [], "\n".join(wrong)


def test_the_scan_sees_codes_from_every_way_of_raising():
    codes = {r.code for r in _scan().raised}
    # ApiError, a domain class with code=, a class's own code, a factory (_conflict), a default
    assert {"token_expired", "already_rated", "event_mismatch", "merge_into_self"} <= codes
    assert {"illegal_transition", "not_found", "validation_error", "rate_limited"} <= codes


def test_every_registered_code_can_be_answered():
    """No entry outlives its code: each is raised somewhere or is a status's default."""
    raised = {r.code for r in _scan().raised}
    defaults = {code for code, _ in errors.status_defaults().values()}
    stale = sorted(set(ERROR_CODES) - raised - defaults)
    assert stale == [], f"登记了但代码里已不再使用的错误码：{stale}"


def test_catalogue_is_served_with_status_meaning_and_action(client):
    response = client.get("/api/v1/errors")
    assert response.status_code == 200
    served = {entry["code"]: entry for entry in response.json["items"]}
    assert set(served) == set(ERROR_CODES)
    rated = served["already_rated"]
    assert rated["status"] == 409
    assert rated["action"] == ClientAction.SHOW_MESSAGE.value
    assert rated["message"] and not rated["message"].isascii()
    assert served["token_expired"]["action"] == "relogin"
    assert served["rate_limited"]["action"] == "retry"
    assert served["validation_error"]["action"] == "fix_input"
    assert all(entry["meaning"] and entry["action_label"] for entry in served.values())
