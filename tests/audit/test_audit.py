from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from xiaohu.audit import service
from xiaohu.audit.models import AuditEvent
from xiaohu.runtime import Context


def _append(ctx: Context, n: int, province: str | None = "44") -> None:
    for i in range(n):
        service.append(
            ctx.session,
            at=ctx.now(),
            actor="test",
            action="thing.done",
            subject=f"line:1380000{i:04d}",
            province_code=province,
            data={"i": i},
        )


def test_chains_verify_intact(ctx: Context) -> None:
    _append(ctx, 5, "44")
    _append(ctx, 3, "11")
    _append(ctx, 2, None)
    report = service.verify(ctx.session)
    assert report["intact"] is True
    assert report["events"] == 10
    assert report["chains"] == 3


def test_database_refuses_to_change_an_event(ctx: Context) -> None:
    _append(ctx, 2)
    with pytest.raises(DBAPIError, match="append-only"), ctx.session.begin_nested():
        ctx.session.execute(text("UPDATE audit_events SET actor = 'mallory'"))
    with pytest.raises(DBAPIError, match="append-only"), ctx.session.begin_nested():
        ctx.session.execute(text("DELETE FROM audit_events"))


def test_verify_detects_a_rewritten_event(ctx: Context) -> None:
    """Simulate tampering that bypasses the trigger: a forged copy in the chain."""
    _append(ctx, 3)
    first = ctx.session.query(AuditEvent).filter_by(chain="44", seq=2).one()
    forged = AuditEvent(
        chain="44",
        seq=4,
        occurred_at=first.occurred_at,
        actor="mallory",
        action="thing.done",
        subject=first.subject,
        province_code="44",
        data={"i": 99},
        prev_hash=first.hash,
        hash=first.hash,
    )
    ctx.session.add(forged)
    ctx.session.flush()
    report = service.verify(ctx.session)
    assert report["intact"] is False
    assert report["broken"][0]["chain"] == "44"


def test_audit_verify_endpoint(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/admin/audit/verify")
    assert r.status_code == 200
    assert r.json() == {"intact": True, "events": 0, "chains": 0, "broken": []}
