"""The served OpenAPI document says what is served: every error as problem+json.

Routes declare their own refusals (`error_responses`); what the request layer answers for any
route is added here, once, so the document and the answers cannot drift apart: `422` for a
request that fails validation (FastAPI would document its own `HTTPValidationError` shape,
which is never sent), `400` and `413` for a body that cannot be read, `404` for a path that
names nothing, `503` when the database cannot be reached.
"""

from __future__ import annotations

from typing import Any, cast

from fastapi import FastAPI

from xiaohu.kit.errors import CATALOG

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details with a stable machine `code`; some refusals add "
    "fields of their own (for example `blockers`, `limit_bytes`).",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "examples": ["VALIDATION_FAILED"]},
        "message": {"type": "string", "description": "in Chinese"},
        "message_en": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "one entry per field at fault",
            "items": {"type": "object", "additionalProperties": True},
        },
    },
    "additionalProperties": True,
}
_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}
_FRAMEWORK_SHAPES = ("HTTPValidationError", "ValidationError")


def problem_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` return the document with the request layer's answers added."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            add_problems(build())  # FastAPI's build() stores the document on the app
        return cast(dict[str, Any], app.openapi_schema)

    app.openapi = openapi  # type: ignore[method-assign]


def add_problems(document: dict[str, Any]) -> None:
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method in _METHODS:
                _add_to_operation(path, operation)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _FRAMEWORK_SHAPES:
        schemas.pop(name, None)
    schemas["Problem"] = PROBLEM_SCHEMA


def _add_to_operation(path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    codes = ["VALIDATION_FAILED"]  # a NUL in any query value, or a field out of shape
    if "{" in path:
        codes.append("NOT_FOUND")  # a path parameter that names nothing
    if "requestBody" in operation:
        codes += ["MALFORMED_JSON", "PAYLOAD_TOO_LARGE"]
    if path != "/healthz":  # which answers 503 with its own report
        codes.append("DATABASE_UNAVAILABLE")
    for code in codes:
        status = str(CATALOG[code].status)
        entry = responses.get(status)
        if entry is None or "application/json" in entry.get("content", {}):
            responses[status] = {"description": code}
        elif code not in entry.get("description", ""):
            entry["description"] = " | ".join(filter(None, [entry.get("description"), code]))
    for status, entry in responses.items():
        content = entry.get("content")
        if status[0] in "45" and (content is None or "application/problem+json" in content):
            entry["content"] = {"application/problem+json": {"schema": PROBLEM_REF}}
    if "DATABASE_UNAVAILABLE" in codes:
        responses["503"]["headers"] = {
            "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
        }
