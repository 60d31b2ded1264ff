"""The operations endpoints beside /healthz: /readyz and /metrics; `install` wires them, the
request middleware and the metrics into an app."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from xiaohu.http import require_admin, runtime_of
from xiaohu.kit.errors import DomainError, error_responses
from xiaohu.kit.web import problem_response
from xiaohu.operations.metrics import Metrics
from xiaohu.operations.middleware import RequestObservation
from xiaohu.operations.service import OK, Migrations, readiness

router = APIRouter(tags=["operations"])


class ReadyOut(BaseModel):
    status: str = Field(examples=["ok"])
    database: str = Field(examples=["ok"], description="`ok`, or `unreachable`")
    migrations: str = Field(
        examples=["ok"], description="`ok`, or e.g. `behind: at 0002_outbox, head 0003_signin`"
    )


@router.get(
    "/readyz",
    summary="Ready to serve: the database answers and its schema is at the migrations' head",
    response_model=ReadyOut,
    responses=error_responses("NOT_READY"),
)
def readyz(request: Request) -> JSONResponse:
    parts = readiness(runtime_of(request), request.app.state.migrations)
    not_ready = {name: state for name, state in parts.items() if state != OK}
    if not_ready:
        detail = "; ".join(f"{name}: {state}" for name, state in not_ready.items())
        not_ready_error = DomainError(
            "NOT_READY", detail, database=parts["database"], migrations=parts["migrations"]
        )
        return problem_response(not_ready_error)
    return JSONResponse({"status": OK, **parts})


@router.get(
    "/metrics",
    summary="Prometheus metrics (production: the admin token)",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}},
        **error_responses("UNAUTHENTICATED", "FORBIDDEN"),
    },
    dependencies=[Depends(require_admin)],
)
def metrics(request: Request) -> Response:
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI, migrations: Migrations | None = None) -> None:
    """Add the request middleware (outermost: call after every other middleware is added),
    the metrics and the two endpoints. `migrations`: the head to compare with (default: the
    shipped scripts', read now, once)."""
    app.state.metrics = Metrics(app.state.runtime)
    app.state.migrations = migrations or Migrations.shipped()
    app.add_middleware(RequestObservation, metrics=app.state.metrics)
    app.include_router(router)
