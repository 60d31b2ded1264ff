"""The served OpenAPI document says what is served: every error as problem+json.

Routes declare their own refusals (`error_responses`); what the request layer answers for any
route is added here, once, so the document and the answers cannot drift apart: `422` for a
request that fails validation (FastAPI would document its own `HTTPValidationError` shape,
which is never sent), `400` and `413` for a body that cannot be read, `404` for a path that
names nothing, `503` when the database cannot be reached.
"""

from __future__ import annotations

import re
from typing import Any, cast

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import APIKeyHeader, HTTPBearer

from xiaohu.kit.errors import CATALOG, DomainError

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
ADMIN_PREFIX = "/api/v1/admin/"
# The routes for staff tokens only: the store channel, and the hotline's sessions (which an
# agent opens; the session's own token is a line token).
STAFF_PREFIXES = ("/api/v1/store/", "/api/v1/hotline/", "/api/v1/workorders")
# Routes that take a line token or a clerk's: a cancellation read or reversed at a store.
# Routes that take a line token or a clerk's: a cancellation read or reversed at a store, and
# a line's evidence (its audit trail, its refusals) which a clerk may read for the subscriber.
PLATFORM_PREFIX = "/api/v1/platform/"  # an internet platform's API key, no token
EITHER_TOKEN = ("/api/v1/cancellations/{cancellation_id}",)
EITHER_TOKEN_PATTERN = re.compile(r"^/api/v1/lines/\{msisdn\}/(audit|refusals|invoices)(/|$)")
SECURITY_SCHEMES = {
    "LineToken": HTTPBearer(
        bearerFormat="xiaohu line token",
        description="From `POST /api/v1/auth/token`: acts on that one line (and pays the "
        "owner's other lines' bills).",
        auto_error=False,
    ).model,
    "AdminToken": HTTPBearer(
        description="An `admin` staff token, or the operator's `XIAOHU_ADMIN_TOKEN`; the "
        "sandbox admin routes are open.",
        auto_error=False,
    ).model,
    "PlatformKey": APIKeyHeader(
        name="X-Api-Key",
        description="An internet platform's key, from `xiaohu platforms add` (or, in the "
        "sandbox, `POST /api/v1/sandbox/platforms`): the recycled-number check only.",
        auto_error=False,
    ).model,
    "StaffToken": HTTPBearer(
        bearerFormat="xiaohu staff token",
        description="From `POST /api/v1/staff/token`: a role, a province and a clerk's store.",
        auto_error=False,
    ).model,
}
IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "1-200 characters. A retry with the same key and body replays the first "
    "answer (`Idempotent-Replayed: true`) and never acts twice; the same key with another "
    "body is `IDEMPOTENCY_KEY_REUSED`.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
}
IDEMPOTENCY_CODES = ["IDEMPOTENCY_KEY_INVALID", "IDEMPOTENCY_KEY_REUSED"]
_FRAMEWORK_SHAPES = ("HTTPValidationError", "ValidationError")


def problem_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` return the document with the request layer's answers added."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            # FastAPI's build() stores the document on the app
            add_problems(build(), idempotent=idempotent_operations(app))
        return cast(dict[str, Any], app.openapi_schema)

    app.openapi = openapi  # type: ignore[method-assign]


def idempotent_operations(app: FastAPI) -> set[tuple[str, str]]:
    """(path, method) of the routes whose endpoint calls `run_idempotent`: the ones that read
    `Idempotency-Key`. Read from the endpoint's code so a new route cannot be forgotten."""
    found = set()
    for context in iter_route_contexts(app.routes):  # the routes of included routers too
        route = context.original_route
        if isinstance(route, APIRoute) and "run_idempotent" in route.endpoint.__code__.co_names:
            found |= {(context.path or route.path, m.lower()) for m in route.methods or ()}
    return found


def add_problems(document: dict[str, Any], idempotent: set[tuple[str, str]] | None = None) -> None:
    idempotent = idempotent or set()
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method in _METHODS:
                if (path, method) in idempotent:
                    operation.setdefault("parameters", []).append(IDEMPOTENCY_HEADER)
                _add_to_operation(path, operation, (path, method) in idempotent)
                _add_security(path, operation)
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in _FRAMEWORK_SHAPES:
        schemas.pop(name, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    components["securitySchemes"] = {
        name: model.model_dump(mode="json", by_alias=True, exclude_none=True)
        for name, model in SECURITY_SCHEMES.items()
    }


def _add_security(path: str, operation: dict[str, Any]) -> None:
    """Admin routes take the admin scheme, others that answer 401 a line token, unless the
    route says which tokens it takes (`openapi_extra={"security": ...}`)."""
    if "security" in operation:
        return
    if path.startswith(PLATFORM_PREFIX):
        operation["security"] = [{"PlatformKey": []}]
    elif path.startswith(ADMIN_PREFIX):
        operation["security"] = [{"AdminToken": []}]
    elif "UNAUTHENTICATED" not in operation["responses"].get("401", {}).get("description", ""):
        return
    elif path.startswith(STAFF_PREFIXES):
        operation["security"] = [{"StaffToken": []}]
    elif path.startswith(EITHER_TOKEN) or EITHER_TOKEN_PATTERN.match(path):
        operation["security"] = [{"LineToken": []}, {"StaffToken": []}]
    else:
        operation["security"] = [{"LineToken": []}]


def _example(code: str) -> dict[str, Any]:
    kind = CATALOG[code]
    value = DomainError(code).problem()
    if code == "VALIDATION_FAILED":
        value["detail"] = "amount_fen: Input should be greater than 0"
        value["errors"] = [{"field": "amount_fen", "reason": "Input should be greater than 0"}]
    return {"summary": f"{code}: {kind.message_en}", "value": value}


def _add_to_operation(path: str, operation: dict[str, Any], idempotent: bool = False) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    codes = ["VALIDATION_FAILED"]  # a NUL in any query value, or a field out of shape
    if idempotent:
        codes += IDEMPOTENCY_CODES
    if "{" in path:
        codes.append("NOT_FOUND")  # a path parameter that names nothing
    if "requestBody" in operation:
        codes += ["MALFORMED_JSON", "PAYLOAD_TOO_LARGE"]
    if path != "/healthz":  # which answers 503 with its own report
        codes += ["DATABASE_UNAVAILABLE", "NODE_UNAVAILABLE"]
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
            named = [c for c in entry.get("description", "").split(" | ") if c in CATALOG]
            media: dict[str, Any] = {"schema": PROBLEM_REF}
            if named:
                media["examples"] = {c: _example(c) for c in named}
            entry["content"] = {"application/problem+json": media}
    if "DATABASE_UNAVAILABLE" in codes:
        responses["503"]["headers"] = {
            "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
        }
