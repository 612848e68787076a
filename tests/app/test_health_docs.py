"""Health check and the generated OpenAPI document with its browsable UI."""

from __future__ import annotations

import re


def test_healthz_checks_the_database(app, client):
    response = client.get("/healthz")
    assert response.status_code == 200
    with app.app_context():
        from app.extensions import db

        body = response.json
        assert (body["status"], body["database"]) == ("ok", db.engine.dialect.name)
        # The calendar detail names the years whose official schedule is loaded.
        assert {2025, 2026} <= set(body["calendar"]["known_years"])


def test_openapi_document_comes_from_the_request_schemas(client):
    spec = client.get("/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert "BearerAuth" in spec["components"]["securitySchemes"]
    unit_post = spec["paths"]["/api/v1/units"]["post"]
    ref = unit_post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert schema["additionalProperties"] is False
    assert {"code", "name", "kind", "parent_id"} <= set(schema["required"])
    assert unit_post["security"] == [{"BearerAuth": []}]
    session = spec["paths"]["/api/v1/staff/session"]["post"]
    assert "security" not in session
    for status in ("401", "403", "422"):
        error = unit_post["responses"][status]["content"]["application/json"]["schema"]
        error_schema = spec["components"]["schemas"][error["$ref"].rsplit("/", 1)[1]]
        assert set(error_schema["required"]) == {"error", "message", "details"}, status


def test_docs_page_uses_only_local_assets(client):
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(url.startswith("/") for url in assets), assets
    for url in assets:
        assert client.get(url).status_code == 200, url
