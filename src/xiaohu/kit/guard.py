"""Request-level checks that come before routing: the body size limit and NUL characters.

One ASGI middleware, so every route (API and pages) gets them without a check of its own:

- The body is read here, counted while it arrives, and refused with `413 PAYLOAD_TOO_LARGE`
  as soon as it passes the limit (a declared `Content-Length` above it is refused before a
  byte is read). The route then gets the body as one message. Only the sandbox import has a
  larger limit.
- A NUL character cannot be stored in PostgreSQL text (SQLite keeps it), so a NUL in the path,
  a query value, a JSON string or a form field is refused here, naming where it was, instead
  of failing in the database as a 500.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xiaohu.kit.errors import DomainError
from xiaohu.kit.web import problem_response

NUL = "\x00"
NUL_REASON = "contains a NUL character (\\u0000)"
_NUL_REASON = NUL_REASON
_NOT_UTF8_REASON = "is not valid UTF-8 text"


Answer = Callable[[Request, DomainError], Awaitable[Response]]


async def _problem(_request: Request, err: DomainError) -> Response:
    return problem_response(err)


class RequestGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        limits: dict[str, int],
        answer: Answer = _problem,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.limits = limits  # path -> its own body limit
        # How a refusal is answered: the app passes its DomainError handler, so a browser
        # gets the same error page as for a refusal made by a route.
        self.answer = answer

    async def _refuse(self, err: DomainError, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.answer(Request(scope), err)
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = _nul_in_url(scope)
        if refusal is not None:
            await self._refuse(refusal, scope, receive, send)
            return
        headers = Headers(scope=scope)
        if "content-length" not in headers and "transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body to read or check
            return
        limit = self.limits.get(scope["path"], self.max_body_bytes)
        declared = headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            await self._refuse(too_large(limit), scope, receive, send)
            return
        body, last = await _read_body(receive, limit)
        if body is None:
            await self._refuse(too_large(limit), scope, receive, send)
            return
        refusal = _nul_in_body(body, headers.get("content-type", ""))
        if refusal is not None:
            await self._refuse(refusal, scope, receive, send)
            return
        await self.app(scope, _replay(body, last, receive), send)


def too_large(limit: int) -> DomainError:
    return DomainError(
        "PAYLOAD_TOO_LARGE",
        f"the request body is larger than the limit of {limit} bytes",
        limit_bytes=limit,
    )


async def _read_body(receive: Receive, limit: int) -> tuple[bytes | None, Message | None]:
    """The whole body, or None once it passes `limit` (the rest is never read). The second
    value is a disconnect seen while reading, handed on to the route."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None, None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), None


def _replay(body: bytes, last: Message | None, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if last is not None:
            return last
        return await receive()

    return replay


def _nul_in_url(scope: Scope) -> DomainError | None:
    if NUL in scope["path"]:
        # No resource has a NUL in its name; which parameter it fell in is not known yet.
        return DomainError(
            "NOT_FOUND",
            f"the path {_NUL_REASON}",
            errors=[{"field": "path", "reason": _NUL_REASON}],
        )
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        names = [name for name, value in pairs if NUL in name or NUL in value]
        return _invalid([f"query.{name.replace(NUL, '?')}" for name in names] or ["query"])
    return _not_utf8_in_query(query)


def _not_utf8_in_query(query: bytes) -> DomainError | None:
    """A query value that is not UTF-8 once decoded (`%FF`) would reach the route patched with
    U+FFFD; refused like a NUL, naming the parameter."""
    if b"%" not in query and query.isascii():
        return None
    text = query.decode("utf-8", errors="surrogateescape")
    pairs = parse_qsl(text, keep_blank_values=True, errors="surrogateescape")
    names = [f"query.{_readable(name)}" for name, value in pairs if _undecodable(name + value)]
    if not names:
        return None
    errors = [{"field": n, "reason": _NOT_UTF8_REASON} for n in names]
    detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
    return DomainError("VALIDATION_FAILED", detail, errors=errors)


def _undecodable(text: str) -> bool:
    """Bytes that were not UTF-8, kept by `surrogateescape` as U+DC80..U+DCFF."""
    return any("\udc80" <= c <= "\udcff" for c in text)


def _readable(name: str) -> str:
    return "".join("?" if _undecodable(c) else c for c in name)


def _nul_in_body(body: bytes, content_type: str) -> DomainError | None:
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        if b"%00" not in body and b"\x00" not in body:
            return None
        pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
        names = [name for name, value in pairs if NUL in name or NUL in value]
        return _invalid(names) if names else None
    # JSON (any content type: the import takes JSON Lines as text). A raw NUL byte is not valid
    # JSON and is refused by the parser; an escaped one is only looked for when its escape is
    # there at all, so a body without one costs one scan of its bytes.
    if b"\\u0000" not in body:
        return None
    fields = list(_json_nul_fields(body))
    return _invalid(fields) if fields else None


def _json_nul_fields(body: bytes) -> Iterable[str]:
    try:
        yield from _walk(json.loads(body), "")
        return
    except (ValueError, RecursionError):
        pass
    for number, line in enumerate(body.splitlines(), start=1):  # JSON Lines
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):
            continue
        yield from (f"line {number}: {field}" for field in _walk(value, ""))


def nul_fields(value: Any) -> list[str]:
    """The dotted path of each string (or key) of a decoded JSON value holding a NUL: what
    the file imports refuse, as the HTTP bodies are refused here."""
    return list(_walk(value, ""))


def _walk(value: Any, at: str) -> Iterable[str]:
    """The dotted path of each string holding a NUL (iterative: the depth is the client's)."""
    stack = [(at, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                yield where or "body"
        elif isinstance(item, dict):
            for key, child in item.items():
                name = f"{where}.{key}" if where else str(key)
                if NUL in key:
                    yield name
                stack.append((name, child))
        elif isinstance(item, list):
            stack.extend((f"{where}.{i}" if where else str(i), c) for i, c in enumerate(item))


def _invalid(fields: list[str]) -> DomainError:
    errors = [{"field": f.replace(NUL, "?"), "reason": _NUL_REASON} for f in fields]
    detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
    return DomainError("VALIDATION_FAILED", detail, errors=errors)
