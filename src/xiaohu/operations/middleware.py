"""One ASGI middleware around every request: its id, its access log line, its metrics.

- The request id is the client's `X-Request-ID` when sane, else a new one; it is bound to
  every log line written while the request runs (structlog's context variables, which the
  thread pool of sync routes inherits) and returned in the `X-Request-ID` header.
- One access log line per request: method, route template (never the raw path, which carries
  phone numbers), status, duration, request id, client.
- A problem answer (application/problem+json) is counted by its `code`, found in the first
  MiB of its body (never parsed whole); a success body is never looked at.
- An unhandled exception is answered here with the app's crash handler (500 INTERNAL_ERROR,
  logged with the traceback) rather than by Starlette's outermost error middleware, so the
  crash's log line carries the request id and its answer the header.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bind_contextvars, reset_contextvars

from xiaohu.kit.web import PROBLEM, on_crash
from xiaohu.operations.logs import ACCESS_LOGGER
from xiaohu.operations.metrics import Metrics
from xiaohu.operations.rules import request_id

access = logging.getLogger(ACCESS_LOGGER)
HEADER = b"x-request-id"
_CODE = re.compile(rb'"code":\s*"([A-Za-z0-9_]{1,64})"')
_CODE_WITHIN = 1 << 20  # the code comes before the errors list (after the detail)
UNMATCHED = "<unmatched>"  # a 404 or 405 before any route: one label, not one per path


def route_template(scope: Scope) -> str:
    """'/api/v1/lines/{msisdn}' for the route that served the request (set in the scope by
    the router), '/static/{path}' under a mount."""
    route = scope.get("route")
    if route is not None:
        return str(getattr(route, "path", UNMATCHED))
    if "endpoint" in scope and scope.get("root_path"):
        return f"{scope['root_path']}/{{path}}"
    return UNMATCHED


class RequestObservation:
    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = request_id(_header(scope, HEADER))
        status = 500
        answered = False
        problem: list[bytes] | None = None  # the body of a problem answer, while it is sent

        async def send_observed(message: Message) -> None:
            nonlocal status, answered, problem
            if message["type"] == "http.response.start":
                answered = True
                status = message["status"]
                headers = list(message.get("headers", ()))
                headers.append((HEADER, rid.encode("latin-1")))
                message = {**message, "headers": headers}
                if _content_type(headers).startswith(PROBLEM):
                    problem = []
            elif (
                problem is not None
                and message["type"] == "http.response.body"
                and sum(map(len, problem)) < _CODE_WITHIN
            ):
                problem.append(message.get("body", b""))
            await send(message)

        tokens = bind_contextvars(request_id=rid)
        try:
            try:
                await self.app(scope, receive, send_observed)
            except Exception as exc:
                if answered:
                    raise  # the answer had started: nothing else can be sent
                response = await on_crash(Request(scope), exc)
                await response(scope, receive, send_observed)
            seconds = time.perf_counter() - started
            route = route_template(scope)
            self.metrics.observe(scope["method"], route, status, seconds)
            if problem is not None:
                self.metrics.refused(_code(b"".join(problem)))
            if access.isEnabledFor(logging.INFO):
                client = scope.get("client")
                access.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 2),
                        "client": client[0] if client else None,
                        "request_id": rid,
                    },
                )
        finally:
            reset_contextvars(**tokens)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _content_type(headers: list[Any]) -> str:
    for key, value in headers:
        if key.lower() == b"content-type":
            return str(value.decode("latin-1"))
    return ""


def _code(body: bytes) -> str:
    """The problem's `code`, found without parsing what may be a long list of errors (an
    import's). Inside a JSON string the quotes are escaped, so the first match is the key."""
    found = _CODE.search(body, 0, _CODE_WITHIN)
    return found.group(1).decode() if found else "UNREADABLE"
