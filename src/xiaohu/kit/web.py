"""FastAPI glue shared by every router that needs nothing of the project: problem+json and the
error handlers. The request glue on the runtime (the unit of work) is `xiaohu.http`."""

from __future__ import annotations

import json
import logging
from typing import Any, cast

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from xiaohu.kit.errors import DomainError

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"
RETRY_AFTER_SECONDS = 5


def problem_response(err: DomainError) -> JSONResponse:
    return JSONResponse(
        jsonable_encoder(err.problem()),
        status_code=err.status,
        media_type=PROBLEM,
        headers=err.headers,
    )


async def on_domain_error(_request: Request, exc: Exception) -> JSONResponse:
    exc = cast(DomainError, exc)  # registered for this type only
    return problem_response(exc)


async def on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    exc = cast(RequestValidationError, exc)  # registered for this type only
    errors = []
    malformed = False
    for e in exc.errors():
        if e.get("type") == "json_invalid":
            malformed = True
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body",)]
        errors.append({"field": ".".join(loc) or "body", "reason": e.get("msg", "invalid")})
    if malformed:
        return problem_response(DomainError("MALFORMED_JSON", errors=errors))
    detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
    return problem_response(DomainError("VALIDATION_FAILED", detail, errors=errors))


# Statuses the framework raises itself (routing, body parsing, the body limit), as catalog codes.
_HTTP_CODES = {
    400: "MALFORMED_JSON",  # FastAPI: the body could not be read as JSON (bad UTF-8, too deep)
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
}


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    exc = cast(StarletteHTTPException, exc)  # registered for this type only
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request)
    code = _HTTP_CODES.get(exc.status_code)
    if code is None:
        body = {
            "type": "about:blank",
            "title": str(exc.detail),
            "status": exc.status_code,
            "detail": str(exc.detail),
            "code": "HTTP_ERROR",
        }
        return JSONResponse(body, status_code=exc.status_code, media_type=PROBLEM, headers=headers)
    if code == "MALFORMED_JSON":
        return problem_response(DomainError(code, "the body is not valid JSON text (UTF-8)"))
    if code == "PAYLOAD_TOO_LARGE":
        from xiaohu.kit.guard import too_large

        return problem_response(too_large(request.app.state.runtime.settings.max_body_bytes))
    return problem_response(DomainError(code, str(exc.detail), headers=headers))


def allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette names only the first route's,
    while GET, PUT and DELETE of one path are three routes here)."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    ]
    return ", ".join(allowed)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _database_unavailable(exc: Exception) -> bool:
    """A failure to reach or keep the database, not a fault in a statement: the server is
    down, refuses connections or dropped ours, the pool has none left, a lock wait gave up."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeoutError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


async def on_database_error(request: Request, exc: Exception) -> JSONResponse:
    """503 with Retry-After when the database cannot be reached; answered here, not by the
    crash handler, so the client's connection stays open for its retry. SQL parameters are
    not in the message (the engine hides them), so no number reaches the log."""
    if not _database_unavailable(exc):
        return await on_crash(request, exc)
    log.warning("database unavailable: %s", str(exc).splitlines()[0])
    # Several nodes: only the provinces of the node that failed are unavailable, and the
    # code says so (a client may go on with numbers of other provinces).
    runtime = getattr(request.app.state, "runtime", None)
    national = runtime is not None and runtime.nodes.national
    code = "NODE_UNAVAILABLE" if national else "DATABASE_UNAVAILABLE"
    return problem_response(DomainError(code, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}))


async def on_crash(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return problem_response(DomainError("INTERNAL_ERROR"))


def parse_json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DomainError("MALFORMED_JSON", f"body is not valid JSON: {exc}") from exc
