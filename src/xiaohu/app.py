"""The FastAPI app factory: routers, error handlers, static files."""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from xiaohu import __version__
from xiaohu.assembly import build_runtime
from xiaohu.config import get_settings
from xiaohu.kit.apidocs import mount_docs
from xiaohu.kit.errors import DomainError
from xiaohu.kit.guard import RequestGuard
from xiaohu.kit.openapi import problem_openapi
from xiaohu.kit.web import (
    RETRY_AFTER_SECONDS,
    on_crash,
    on_database_error,
    on_domain_error,
    on_http_error,
    on_validation_error,
)
from xiaohu.national.broker_threads import start_broker_threads, wanted
from xiaohu.operations.api import install as install_operations
from xiaohu.runtime import Runtime

log = logging.getLogger(__name__)


class HealthOut(BaseModel):
    status: str = Field(examples=["ok"], description="`ok` or `degraded`")
    database: str = Field(examples=["ok"], description="`ok` or `unreachable`")
    mode: str = Field(examples=["sandbox"])


# Routers in the order they appear in the docs, except the cancellation first: the hottest
# routes are matched first (Starlette tries routes in order). Areas not built yet are skipped.
API_ROUTERS = [
    "xiaohu.cancellation.api",
    "xiaohu.counter.api",
    "xiaohu.counter.retention_api",
    "xiaohu.signin.api",
    "xiaohu.staff.api",
    "xiaohu.stores.api",
    "xiaohu.overview.api",
    "xiaohu.retention.api",
    "xiaohu.billing.api",
    "xiaohu.invoices.api",
    "xiaohu.web.invoice",
    "xiaohu.contracts.api",
    "xiaohu.cancellation.remedies_api",
    "xiaohu.ledger.api",
    "xiaohu.audit.api",
    "xiaohu.hotline.api",
    "xiaohu.workorders.api",
    "xiaohu.web.evidence",
    "xiaohu.settlement.api",
    "xiaohu.web.statement",
    "xiaohu.scheduling.api",
    "xiaohu.platforms.api",
    "xiaohu.counter.reclaim_api",
]
SANDBOX_ROUTERS = [
    "xiaohu.sandbox.api",
    "xiaohu.intake.sandbox_api",
    "xiaohu.sandbox.billing_api",
    "xiaohu.settlement.sandbox_api",
    "xiaohu.platforms.sandbox_api",
    "xiaohu.lifecycle.sandbox_api",
]
PAGE_ROUTERS = [
    "xiaohu.web.pages",
    "xiaohu.web.retention_pages",
    "xiaohu.web.console",
    "xiaohu.web.backoffice",
]
IMPORT_PATH = "/api/v1/sandbox/lines"  # the one route with its own body limit


def create_app(runtime: Runtime | None = None, *, outbox_worker: bool | None = None) -> FastAPI:
    """The app on `runtime`. `outbox_worker`: run this process's outbox delivery thread for the
    app's lifetime (default: when `XIAOHU_OUTBOX_DELIVERY` is `background`; `serve` always
    runs it, as the sweeper that retries failed deliveries)."""
    runtime = runtime or build_runtime(get_settings())
    run_worker = not runtime.settings.outbox_inline if outbox_worker is None else outbox_worker

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if run_worker:
            runtime.start_outbox_worker()
        # A national deployment: the messages between provinces go by the broker, relayed
        # and consumed by threads of the served process (XIAOHU_BROKER_THREADS).
        broker = start_broker_threads(runtime) if wanted(runtime) else None
        try:
            yield
        finally:
            if broker is not None:
                broker.stop()
            if run_worker:
                runtime.stop_outbox_worker()

    app = FastAPI(
        lifespan=lifespan,
        docs_url=None,  # served by mount_docs from local files, not a CDN
        redoc_url=None,
        title="xiaohu 销户",
        version=__version__,
        description=(
            "Number cancellation service: every blocker at once, instant refunds, reversal, "
            "cycle close. Money is integer fen; errors are application/problem+json with a "
            "stable `code`."
        ),
    )
    app.state.runtime = runtime
    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(DBAPIError, on_database_error)
    app.add_exception_handler(PoolTimeoutError, on_database_error)
    app.add_exception_handler(Exception, on_crash)
    settings = runtime.settings
    app.add_middleware(
        RequestGuard,
        max_body_bytes=settings.max_body_bytes,
        limits={IMPORT_PATH: settings.max_import_body_bytes},
        answer=_refusal(app),
    )

    modules = API_ROUTERS + (SANDBOX_ROUTERS if runtime.settings.sandbox else []) + PAGE_ROUTERS
    for name in modules:
        module = importlib.import_module(name)
        app.include_router(module.router)
        mount = getattr(module, "mount", None)
        if mount is not None:
            mount(app)
    mount_docs(app)

    @app.get(
        "/healthz",
        tags=["operations"],
        summary="Liveness and database reachability",
        responses={503: {"description": "the database is unreachable", "model": HealthOut}},
        response_model=HealthOut,
    )
    def healthz() -> JSONResponse:
        if runtime.nodes.national:
            return _national_health(runtime, gateways)
        try:
            with runtime.engine.connect().execution_options(xiaohu_readonly=True) as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError:
            body = {"status": "degraded", "database": "unreachable", "mode": runtime.settings.mode}
            return JSONResponse(
                {**body, "gateways": gateways},
                status_code=503,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},  # as the API's 503
            )
        body = {"status": "ok", "database": "ok", "mode": runtime.settings.mode}
        return JSONResponse({**body, "gateways": gateways})

    # "sandbox" when any outside system is a sandbox implementation: in production that is a
    # staging system (XIAOHU_ALLOW_SANDBOX_GATEWAYS), and a monitor should see it.
    gateways = "sandbox" if runtime.sandbox_gateways else "operator"

    install_operations(app)  # /readyz, /metrics, request ids and the access log (outermost)
    problem_openapi(app)
    return app


def _national_health(runtime: Runtime, gateways: str) -> JSONResponse:
    """Every node asked: `database` is the default node's (national data), `nodes` each one's;
    one node down is `degraded` (503), as its provinces answer NODE_UNAVAILABLE."""
    from xiaohu.national.placement import node_health

    nodes = node_health(runtime)
    ok = all(state == "ok" for state in nodes.values())
    body = {
        "status": "ok" if ok else "degraded",
        "database": nodes[runtime.nodes.default],
        "nodes": nodes,
        "mode": runtime.settings.mode,
        "gateways": gateways,
    }
    if ok:
        return JSONResponse(body)
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def _refusal(app: FastAPI) -> Callable[[Request, DomainError], Awaitable[Response]]:
    """The request guard answers its refusals with the app's DomainError handler, as it is
    when the request comes (the pages wrap it to show browsers a page)."""

    async def answer(request: Request, err: DomainError) -> Response:
        result = app.exception_handlers[DomainError](request, err)
        return await result if inspect.isawaitable(result) else result

    return answer
