"""The security headers of every response, set in one place.

Every response: nosniff, no framing, no Referer (the H5 page's URL holds a QR token, console
URLs name clues), and `Cache-Control: no-store` unless the view made it explicitly public
(the documentation's static assets) and the request carried no credentials. HTML pages (and
SVG images) get a Content-Security-Policy: no script at all for our own pages (the H5 page and
the console are server-rendered and script-free); the Swagger UI at /docs may run its own
local bundle and the inline start-up script it ships, allowed by hash. Behind https, HSTS.
"""

from __future__ import annotations

import base64
import hashlib
import re

from flask import Flask, Response, current_app, request

PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# Swagger UI: its bundle and stylesheet from /docs-assets, the spec from /openapi.json.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
# What a browser renders as a document of its own (an SVG opened directly can run script).
DOCUMENT_TYPES = {"text/html", "image/svg+xml"}
DOCS_ENDPOINTS = {"openapi.docs", "openapi.swagger_ui_oauth_redirect"}
HSTS = "max-age=31536000"

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def init_security(app: Flask) -> None:
    app.after_request(security_headers)


def security_headers(response: Response) -> Response:
    headers = response.headers
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "no-referrer"
    credentials = "Authorization" in request.headers
    if credentials or not response.cache_control.public:
        headers["Cache-Control"] = "no-store"
    if response.mimetype in DOCUMENT_TYPES:
        headers["Content-Security-Policy"] = (
            _docs_csp(response) if request.endpoint in DOCS_ENDPOINTS else PAGE_CSP
        )
    if request.is_secure and current_app.config["PUBLIC_BASE_URL"].startswith("https://"):
        headers["Strict-Transport-Security"] = HSTS
    return response


def _docs_csp(response: Response) -> str:
    """The docs page's policy, allowing exactly the inline scripts APIFlask's template ships
    (the page is rendered from configuration alone: nothing in it comes from a request)."""
    scripts = _INLINE_SCRIPT.findall(response.get_data(as_text=True))
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in scripts
    )
    return DOCS_CSP.format(hashes=hashes)
