"""The request's unit of work: what a refusal keeps, what a writing GET commits, and an
Idempotency-Key that a refusal does not spend."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from sqlalchemy import select

from xiaohu.http import run_idempotent, unit_of_work
from xiaohu.kit.errors import DomainError
from xiaohu.kit.web import on_domain_error
from xiaohu.runtime import Context, Runtime
from xiaohu.sandbox.models import TestClockSetting

AT = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)


def mark(ctx: Context, name: str) -> None:
    """A write the test can look for afterwards (any table would do)."""
    ctx.session.add(TestClockSetting(name=name, now=AT))
    ctx.session.flush()


def app_for(runtime: Runtime) -> FastAPI:
    app = FastAPI()
    app.state.runtime = runtime
    app.add_exception_handler(DomainError, on_domain_error)
    refuse = {"on": True}

    @app.post("/refuse")
    def refuse_route(keep: bool, ctx: Context = Depends(unit_of_work)) -> None:
        mark(ctx, f"refused-{keep}")
        raise DomainError("CONFLICT", "refused", keep_writes=keep)

    @app.get("/read")
    def read_route(ctx: Context = Depends(unit_of_work)) -> dict[str, str]:
        return {"ok": "read"}

    @app.get("/write")
    def write_route(ctx: Context = Depends(unit_of_work)) -> dict[str, str]:
        mark(ctx, "get-write")
        return {"ok": "written"}

    @app.post("/once")
    def once_route(request: Request, ctx: Context = Depends(unit_of_work)) -> JSONResponse:
        def work() -> tuple[int, Any]:
            n = len(list(ctx.session.scalars(select(TestClockSetting.name))))
            mark(ctx, f"attempt-{n}")
            if refuse["on"]:
                raise DomainError("CONFLICT", "not yet", keep_writes=True)
            return 201, {"attempt": n}

        return run_idempotent(ctx, request, "test", {}, work)

    app.state.refuse = refuse
    return app


@pytest.fixture()
def http(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(app_for(runtime), raise_server_exceptions=False) as c:
        yield c


def names(runtime: Runtime) -> set[str]:
    with runtime.sessions() as s:
        return set(s.scalars(select(TestClockSetting.name)))


@pytest.mark.parametrize("keep", [True, False])
def test_a_refusal_keeps_its_writes_only_when_they_are_evidence(
    http: TestClient, runtime: Runtime, keep: bool
) -> None:
    r = http.post("/refuse", params={"keep": keep})
    assert r.status_code == 409 and r.json()["code"] == "CONFLICT"
    assert (f"refused-{keep}" in names(runtime)) is keep


def test_a_get_never_commits(http: TestClient, runtime: Runtime) -> None:
    """GETs are read-only: on SQLite their writes are rolled back, on PostgreSQL (autocommit
    reads) a write is refused outright. Either way nothing a GET wrote is kept."""
    assert http.get("/read").status_code == 200
    http.get("/write")
    assert "get-write" not in names(runtime)


def test_a_refusal_does_not_spend_the_idempotency_key(http: TestClient, runtime: Runtime) -> None:
    key = {"Idempotency-Key": "k-1"}
    assert http.post("/once", headers=key).status_code == 409
    assert http.post("/once", headers=key).status_code == 409  # ran again: not a replay
    assert names(runtime) == {"attempt-0", "attempt-1"}  # both refusals' writes kept
    http.app.state.refuse["on"] = False  # type: ignore[attr-defined]
    done = http.post("/once", headers=key)
    assert done.status_code == 201 and done.json() == {"attempt": 2}
    again = http.post("/once", headers=key)
    assert again.status_code == 201 and again.json() == {"attempt": 2}
    assert again.headers.get("Idempotent-Replayed") == "true"
