"""The request glue on the runtime, shared by every router: the unit of work (one transaction
per request, the outbox handed on after commit), idempotency, the operator's credential."""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable, Iterator
from typing import Annotated, Any, NoReturn

from fastapi import Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from xiaohu import principals
from xiaohu.kit import idempotency
from xiaohu.kit.db import OUTBOX_WRITTEN
from xiaohu.kit.errors import DomainError
from xiaohu.routing import node_for
from xiaohu.runtime import Context, Runtime


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def read_body_to_route(request: Request) -> None:
    """Several nodes: read the body before the unit of work, so routing can find a number in
    a form a page posts (its handler reads the form later, from the same cached body). JSON
    bodies are read by FastAPI already; one node routes nowhere and reads nothing here."""
    if runtime_of(request).nodes.national and request.method in ("POST", "PUT", "PATCH"):
        await request.body()


def unit_of_work(
    request: Request, _body: Annotated[None, Depends(read_body_to_route)] = None
) -> Iterator[Context]:
    """One transaction per request: commit on success, roll back on error (except a refusal
    whose writes are evidence, `DomainError.keep_writes`); then hand the side effects the
    request wrote to the outbox on (`Runtime.outbox_written`). GET and HEAD are read-only and
    never commit."""
    yield from _unit_of_work(request, readonly=request.method in ("GET", "HEAD"))


# The unit of work as a route parameter. `scope="function"` makes FastAPI run the code after
# `yield` (the commit, the outbox hand-over) when the route function returns, before the
# response is sent: a client that got a 2xx reads what it wrote, and a commit that fails
# answers an error instead of following a success. (A dependency of the default "request"
# scope closes after the response has left.)
UnitOfWork = Annotated[Context, Depends(unit_of_work, scope="function")]


def _unit_of_work(request: Request, *, readonly: bool) -> Iterator[Context]:
    """The one transaction of a request. A refusal with `keep_writes` commits this same
    session: a second transaction would wait on the request's own locks (SQLite's write lock
    from BEGIN IMMEDIATE, a PostgreSQL row lock on the line)."""
    runtime = runtime_of(request)
    node = node_for(request, runtime)  # the node of the line's home province (`routing`)
    session = runtime.sessions_of(node)()
    if readonly:
        session.connection(execution_options={"xiaohu_readonly": True})
    try:
        yield runtime.on_node(node).context(session, actor=_actor(request))
        if readonly:
            session.rollback()
        else:
            session.commit()
    except DomainError as err:
        if err.keep_writes and not readonly:
            session.commit()  # the refusal's bookkeeping outlives the error answer
        else:
            session.rollback()
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        pending = session.info.pop(OUTBOX_WRITTEN, False)
        session.close()
    if pending:
        runtime.outbox_written(node)  # inline: delivered now; background: wakes the thread


def _actor(request: Request) -> str:
    return f"api:{request.client.host if request.client else 'unknown'}"


def run_idempotent(
    ctx: Context,
    request: Request,
    scope: str,
    body: Any,
    work: Callable[[], tuple[int, Any]],
) -> JSONResponse:
    """Run `work` once per Idempotency-Key; a retry replays the first answer.

    A refusal (`DomainError`) does not spend the key: the claim is released before the error
    goes on, so a retry after the remedy runs afresh even when the refusal's own writes are
    committed (`keep_writes`)."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        status, payload = work()
        return JSONResponse(_encode(payload), status_code=status)
    replay = idempotency.claim(ctx.session, scope, key, body, ctx.now())
    if replay is not None:
        return JSONResponse(
            replay.body, status_code=replay.status_code, headers={"Idempotent-Replayed": "true"}
        )
    try:
        status, payload = work()
    except DomainError:
        idempotency.release(ctx.session, scope, key)
        raise
    encoded = _encode(payload)
    idempotency.record(ctx.session, scope, key, status, encoded)
    return JSONResponse(encoded, status_code=status)


def _encode(payload: Any) -> Any:
    """JSON-ready data; a Pydantic model dumps itself (several times cheaper than
    `jsonable_encoder`, which walks the dump again)."""
    if isinstance(payload, BaseModel):
        return payload.model_dump(mode="json", by_alias=True)
    return jsonable_encoder(payload)


def bearer_token(request: Request) -> str:
    """The token of `Authorization: Bearer …`; 401 when there is none."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise DomainError(
            "UNAUTHENTICATED",
            "an Authorization: Bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


def require_admin(request: Request, ctx: UnitOfWork) -> None:
    """The admin routes: a staff token of the `admin` role, or the operator's configured
    `XIAOHU_ADMIN_TOKEN` (compared in constant time; how an operator gets in before any staff
    is loaded). Production: 401 with no token or one that is not genuine (expired, forged),
    403 with another role's or a line's. Sandbox: open with no token at all (API.md, a test
    system's operations), but a token that is not an admin's is still refused."""
    settings = ctx.settings
    if settings.sandbox and not request.headers.get("Authorization", "").strip():
        return
    token = bearer_token(request)
    now = ctx.now()
    staff = principals.verify_staff(settings.key, token, now)
    if staff is not None:
        if staff.role != "admin":
            raise DomainError("FORBIDDEN", f"the admin routes need an admin, not a {staff.role}")
        ctx.actor = staff.actor
        return
    expected = settings.admin_token.get_secret_value() if settings.admin_token else ""
    # Never equal when no token is configured (production refuses to start without one).
    if expected and hmac.compare_digest(token.encode(), expected.encode()):
        return
    # Neither a genuine token nor the admin token: as on every other route, 401 (a token that
    # expired at the end of a shift must say so, not look like a missing right).
    refuse_token(ctx, token, principals.verify, "a line token cannot use the admin routes")


def refuse_token(
    ctx: Context,
    token: str,
    other_kind: Callable[[bytes, str, dt.datetime], object | None],
    wrong_kind: str,
) -> NoReturn:
    """A token this route does not take: 403 FORBIDDEN (saying `wrong_kind`) when it is a
    genuine token of the other kind (`other_kind` verifies it), else 401 UNAUTHENTICATED —
    forged or expired, which the caller must be told so as to sign in again."""
    if other_kind(ctx.settings.key, token, ctx.now()) is not None:
        raise DomainError("FORBIDDEN", wrong_kind)
    raise DomainError(
        "UNAUTHENTICATED",
        "the token is invalid or has expired",
        headers={"WWW-Authenticate": "Bearer"},
    )
