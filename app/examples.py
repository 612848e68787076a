"""Examples for the OpenAPI document, in one place: a new schema needs only an entry here.

`SCHEMA_EXAMPLES` gives the example body of a request or response schema, by its name in the
document's components (the class name); `OPERATION_EXAMPLES` overrides it for one operation
("METHOD /path" → {"request": …, "response": …}) when the schema's example does not fit.
app/apidoc.py attaches them when the document is generated; tests/app/test_api_document.py
fails naming every operation whose body has no example, and replays each request example.
"""

from __future__ import annotations

from typing import Any

SCHEMA_EXAMPLES: dict[str, Any] = {}

OPERATION_EXAMPLES: dict[str, dict[str, Any]] = {}
