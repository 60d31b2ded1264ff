"""The request layer in-process, on the suite's engine: SQL parameters kept out of error
messages, 503 for an unreachable database, the OpenAPI document's error answers, and the audit
check read in batches."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker

from xiaohu.app import create_app
from xiaohu.audit import service as audit
from xiaohu.audit.models import AuditEvent
from xiaohu.kit.db import make_engine
from xiaohu.runtime import Context, Runtime

NUMBER = "13800138000"


def test_a_failed_statement_does_not_show_its_parameters(engine: Engine) -> None:
    own = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        with pytest.raises(DBAPIError) as failed, own.connect() as conn:
            conn.execute(text("SELECT no_such_column FROM lines WHERE msisdn = :m"), {"m": NUMBER})
        assert NUMBER not in str(failed.value)
    finally:
        own.dispose()


def test_an_unreachable_database_is_503_with_retry_after(runtime: Runtime) -> None:
    nowhere = create_engine("sqlite:////nonexistent-directory/xiaohu.db")
    runtime.sessions = sessionmaker(bind=nowhere)
    with TestClient(create_app(runtime, outbox_worker=False)) as client:
        for r in (
            client.get("/api/v1/admin/ledger/trial-balance"),
            client.post("/api/v1/auth/otp", json={"msisdn": NUMBER}),
        ):
            assert r.status_code == 503, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["code"] == "DATABASE_UNAVAILABLE"
            assert int(r.headers["retry-after"]) > 0


def test_every_error_answer_is_documented_as_a_problem(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in str(doc)
    assert doc["components"]["schemas"]["Problem"]["required"] == [
        "type",
        "title",
        "status",
        "detail",
        "code",
    ]
    operations = [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "delete")
    ]
    assert len(operations) > 20
    for path, method, op in operations:
        statuses = set(op["responses"])
        assert "422" in statuses, (path, method)
        if path != "/healthz":
            assert "503" in statuses and "Retry-After" in op["responses"]["503"]["headers"]
        if "requestBody" in op:
            assert {"400", "413"} <= statuses, (path, method)
        for status, answer in op["responses"].items():
            if status[0] in "45" and path != "/healthz":
                schema = answer["content"]["application/problem+json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}, (path, status)


def test_audit_verify_reads_in_batches(ctx: Context) -> None:
    for i in range(7):
        audit.append(
            ctx.session,
            at=ctx.now(),
            actor="t",
            action="a",
            subject=f"s{i}",
            province_code="44",
            data={"i": i},
        )
    report = audit.verify(ctx.session, batch=2)
    assert report["intact"] is True and report["events"] == 7
    ev = ctx.session.query(AuditEvent).filter_by(chain="44", seq=5).one()
    forged = AuditEvent(
        chain="44",
        seq=8,
        occurred_at=ev.occurred_at,
        actor="m",
        action="a",
        subject="x",
        province_code="44",
        data={},
        prev_hash=ev.hash,
        hash=ev.hash,
    )
    ctx.session.add(forged)
    ctx.session.flush()
    report = audit.verify(ctx.session, batch=2)
    assert report["intact"] is False and report["broken"][0]["chain"] == "44"
