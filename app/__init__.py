"""The application factory."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from apiflask import APIFlask
from flask import Request, request, send_from_directory
from werkzeug.exceptions import NotFound
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, UnicodeConverter

from app import clock
from app.errors import ApiError, register_error_handlers
from app.extensions import db, migrate
from app.failsafe import init_failsafe
from app.logs import configure_logging
from app.schemas import MAX_ID, UNSTORABLE
from config import INSTANCE_DIR, Config, normalize_database_url

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "message", "details"],
    "properties": {
        "error": {"type": "string", "description": "机器可读的错误码"},
        "message": {"type": "string", "description": "给人看的说明"},
        "details": {"type": "object", "description": "出错字段等细节"},
    },
}

# Body types a JSON API accepts; multipart is for the endpoints that take uploads.
_ACCEPTED_BODY_TYPES = {"application/json", "multipart/form-data"}
# What the app itself answers about a request body before any view sees it.
_BODY_ERRORS = {
    "400": "请求体不是有效的 JSON",
    "413": "请求体过大",
    "415": "请求体类型不对（JSON 接口只接受 application/json）",
}


class IdConverter(IntegerConverter):
    """`<int:…>` in our routes: an id outside 1 … MAX_ID names nothing, so 404 at once, and
    never reaches a query the database would refuse. (NotFound rather than werkzeug's
    ValidationError, which answers 405 when another method's rule has the same path.)"""

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= MAX_ID:
            raise NotFound()
        return number


class TextConverter(UnicodeConverter):
    """`<token>`-style segments: a NUL or control character matches no route (404) rather
    than reaching a query PostgreSQL would refuse."""

    def to_python(self, value: str) -> str:
        if UNSTORABLE.search(value):
            raise NotFound()
        return value


class JsonRequest(Request):
    """A request whose unparseable JSON body is a clear 400 in the error shape."""

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        try:
            return super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:  # [[[[…]]]] a hundred thousand deep: json gives up, not us
            if silent:
                return None
            raise ApiError(
                400,
                "invalid_json",
                "请求体不是有效的 JSON（嵌套层次过深）",
                {"reason": "nested too deeply"},
            ) from None

    def on_json_loading_failed(self, e: ValueError | None) -> None:
        raise ApiError(
            400,
            "invalid_json",
            "请求体不是有效的 JSON",
            {"reason": str(e)[:200] if e else "empty body"},
        )


def create_app(config_overrides: dict[str, Any] | None = None) -> APIFlask:
    """Build the app from the environment, with `config_overrides` applied on top (tests)."""
    app = APIFlask(
        "pingyi",
        title=Config.TITLE,
        version=Config.VERSION,
        spec_path="/openapi.json",
        docs_path="/docs",
        docs_ui="swagger-ui",
        instance_path=str(INSTANCE_DIR),
    )
    app.request_class = JsonRequest
    app.url_map.converters.update(int=IdConverter, default=TextConverter, string=TextConverter)
    app.config.from_object(Config)
    # Each app gets its own copy of mutable defaults (dicts of deadlines and the like).
    for key, value in list(app.config.items()):
        if isinstance(value, dict | list):
            app.config[key] = copy.deepcopy(value)
    app.config.update(config_overrides or {})
    app.config["SQLALCHEMY_DATABASE_URI"] = normalize_database_url(
        app.config["SQLALCHEMY_DATABASE_URI"]
    )
    Config.check_production(app.config)
    _configure_docs(app)
    configure_logging(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if app.config["PROXY_COUNT"]:
        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)

    clock.init_app(app)
    db.init_app(app)
    init_failsafe(app)
    migrate.init_app(app, db)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            from app.db import configure_sqlite

            configure_sqlite(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
        elif db.engine.dialect.name == "postgresql" and app.config["DB_POOL_PRE_PING"]:
            from app.db import drop_closed_connections

            drop_closed_connections(db.engine)

    from app.csrf import init_csrf
    from app.metrics import init_metrics
    from app.ratelimit import init_ratelimit
    from app.security import init_security

    init_metrics(app)
    init_ratelimit(app)
    register_error_handlers(app)
    init_security(app)
    app.before_request(_refuse_unexpected_body_types)
    _register_blueprints(app)
    init_csrf(app)
    _register_cli(app)
    return app


def _refuse_unexpected_body_types() -> None:
    """The JSON API takes JSON (and multipart uploads); the H5 pages take ordinary forms."""
    if not request.path.startswith("/api/"):
        return
    if request.method in ("POST", "PUT", "PATCH") and request.content_length:
        if request.mimetype not in _ACCEPTED_BODY_TYPES:
            raise ApiError(
                415,
                "unsupported_media_type",
                "请使用 application/json 提交",
                {"content_type": request.mimetype},
            )


def _register_blueprints(app: APIFlask) -> None:
    import clues
    import console
    import demo
    import evaluations
    import notifications
    import qr
    import stats
    from app import apidoc, audit, health, scheduled, workdays  # noqa: F401  (scheduled: its jobs)
    from app.org import routes as org_routes

    for blueprint in (health.bp, apidoc.bp, org_routes.bp, audit.bp, workdays.bp):
        app.register_blueprint(blueprint)
    # The factory is the composition root: each feature package wires itself in.
    for feature in (qr, evaluations, clues, notifications, stats, console, demo):
        feature.init_app(app)


def _register_cli(app: APIFlask) -> None:
    from app import cli

    cli.register(app)


def _configure_docs(app: APIFlask) -> None:
    """Serve Swagger UI from the installed package: no CDN, works offline and behind a wall."""
    import swagger_ui_bundle

    assets = Path(swagger_ui_bundle.swagger_ui_path)
    app.config.update(
        SWAGGER_UI_CSS="/docs-assets/swagger-ui.css",
        SWAGGER_UI_BUNDLE_JS="/docs-assets/swagger-ui-bundle.js",
        SWAGGER_UI_STANDALONE_PRESET_JS="/docs-assets/swagger-ui-standalone-preset.js",
        DOCS_FAVICON="/docs-assets/favicon-32x32.png",
        VALIDATION_ERROR_SCHEMA=ERROR_SCHEMA,
        HTTP_ERROR_SCHEMA=ERROR_SCHEMA,
    )

    @app.get("/docs-assets/<path:filename>")
    @app.doc(hide=True)
    def docs_assets(filename: str):
        return send_from_directory(assets, filename, max_age=86400)

    from app.apidoc import complete_spec

    # One processor (APIFlask keeps one): the body errors first, then what a front-end
    # developer needs beyond the schemas (examples, error codes, titles; app/apidoc.py).
    app.spec_processor(lambda spec: complete_spec(app, _document_body_errors(spec)))


def _document_body_errors(spec: dict[str, Any]) -> dict[str, Any]:
    """Document what the app answers before any view runs: ids out of range in the path (404),
    unparseable JSON (400), a body over MAX_CONTENT_LENGTH (413) and, under /api/, a body of
    another type (415)."""
    schemas = spec.get("components", {}).get("schemas", {})
    schema = {"$ref": "#/components/schemas/HTTPError"} if "HTTPError" in schemas else ERROR_SCHEMA
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["schema"].get("type") == "integer":
                    parameter["schema"].update(minimum=1, maximum=MAX_ID)  # see IdConverter
            if method not in ("post", "put", "patch"):
                continue
            codes = []
            if "application/json" in operation.get("requestBody", {}).get("content", {}):
                codes += ["400", "413"]
            if path.startswith("/api/"):
                codes.append("415")
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(
                    code,
                    {
                        "description": _BODY_ERRORS[code],
                        "content": {"application/json": {"schema": schema}},
                    },
                )
            operation["responses"] = dict(sorted(responses.items()))
    return spec
