"""Outbox delivery modes: `inline` in the request after its commit, `background` by the one
delivery thread of the process (the request only wakes it), and batches that survive a
failing message."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from tests.conftest import TEST_KEY, test_settings
from xiaohu.app import create_app
from xiaohu.assembly import build_runtime
from xiaohu.config import Settings
from xiaohu.delivery import deliver
from xiaohu.http import unit_of_work
from xiaohu.kit.db import make_engine, transaction
from xiaohu.kit.migrate import upgrade
from xiaohu.notifications.gateway import SandboxSmsGateway
from xiaohu.notifications.models import OutboxMessage, SandboxProvisioning, SandboxSms
from xiaohu.notifications.service import enqueue, order_provisioning, send_sms
from xiaohu.runtime import Context, Runtime

AT = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)


class HeldSmsGateway(SandboxSmsGateway):
    """The sandbox gateway, held until the test lets it go: proves who waits for it."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.entered = threading.Event()

    def send_many(self, session: Session, messages: list[dict[str, Any]], at: dt.datetime) -> None:
        self.entered.set()
        assert self.go.wait(10), "the gateway was never released"
        super().send_many(session, messages, at)


@pytest.fixture()
def background(tmp_path: Path) -> Iterator[Runtime]:
    """A runtime of its own (a scratch SQLite file, real commits) with background delivery."""
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    engine = make_engine(url)
    upgrade(engine)
    rt = build_runtime(test_settings(url, outbox_delivery="background"), engine)
    try:
        yield rt
    finally:
        rt.stop_outbox_worker()
        engine.dispose()


def app_for(runtime: Runtime) -> FastAPI:
    app = FastAPI()
    app.state.runtime = runtime

    @app.post("/send")
    def send_route(topic: str = "sms", ctx: Context = Depends(unit_of_work)) -> dict[str, str]:
        if topic == "sms":
            send_sms(ctx.session, "13800138000", "hi", "test", at=AT, province_code="11")
        else:
            enqueue(ctx.session, topic, {"n": 1}, at=AT, province_code="11")
        return {"ok": topic}

    return app


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def count(rt: Runtime, stmt: Any) -> int:
    with transaction(rt.sessions, readonly=True) as s:  # never waits for the writer
        return int(s.scalar(stmt) or 0)


def sms_sent(rt: Runtime) -> int:
    return count(rt, select(func.count()).select_from(SandboxSms))


def test_the_default_mode_is_inline_in_the_sandbox_and_background_in_production() -> None:
    assert Settings(mode="sandbox").outbox_inline
    assert not Settings(mode="production", secret_key=TEST_KEY).outbox_inline  # type: ignore[arg-type]
    assert not Settings(mode="sandbox", outbox_delivery="background").outbox_inline
    prod = Settings(mode="production", secret_key=TEST_KEY, outbox_delivery="inline")  # type: ignore[arg-type]
    assert prod.outbox_inline


def test_background_delivery_does_not_hold_the_request(background: Runtime) -> None:
    gateway = HeldSmsGateway()
    background.sms_gateway = gateway
    background.start_outbox_worker()
    with TestClient(app_for(background)) as http:
        assert http.post("/send").json() == {"ok": "sms"}  # answered while the gateway is held
    assert gateway.entered.wait(10), "the delivery thread was not woken"
    assert sms_sent(background) == 0
    gateway.go.set()
    assert eventually(lambda: sms_sent(background) == 1)


def test_a_failing_message_does_not_block_the_others(background: Runtime) -> None:
    background.start_outbox_worker()
    with TestClient(app_for(background)) as http:
        for topic in ("fax", "sms", "fax", "sms"):
            assert http.post("/send", params={"topic": topic}).status_code == 200
    assert eventually(lambda: sms_sent(background) == 2)
    failed = select(func.count()).where(
        OutboxMessage.topic == "fax",
        OutboxMessage.delivered_at.is_(None),
        OutboxMessage.last_error.is_not(None),
    )
    assert eventually(lambda: count(background, failed) == 2)


def test_the_app_runs_the_delivery_thread_for_its_lifetime(background: Runtime) -> None:
    with TestClient(create_app(background)):
        worker = background.outbox_worker
        assert worker is not None and worker.alive
    assert background.outbox_worker is None and not worker.alive


def test_inline_delivery_is_done_when_the_request_answers(runtime: Runtime) -> None:
    assert runtime.settings.outbox_inline
    with TestClient(create_app(runtime)):
        assert runtime.outbox_worker is None  # no thread: the request delivers
    with TestClient(app_for(runtime)) as http:
        assert http.post("/send").status_code == 200
    assert sms_sent(runtime) == 1


class BrokenSmsGateway(SandboxSmsGateway):
    """Fails with a database error for one number, in a batch and one by one."""

    def send_many(self, session: Session, messages: list[dict[str, Any]], at: dt.datetime) -> None:
        if any(m["to"] == BROKEN for m in messages):
            session.execute(text("SELECT * FROM no_such_table"))
        super().send_many(session, messages, at)

    def send(self, session: Session, **kw: Any) -> None:
        if kw["to"] == BROKEN:
            session.execute(text("SELECT * FROM no_such_table"))
        super().send(session, **kw)


BROKEN = "13900000000"


def test_a_database_error_in_a_batch_costs_only_its_own_message(ctx: Context) -> None:
    for to in ("13800138000", BROKEN, "13800138001"):
        send_sms(ctx.session, to, "hi", "test", at=ctx.now(), province_code="11")
    order_provisioning(ctx.session, "13800138002", "deprovision", at=ctx.now(), province_code="11")
    ctx.session.flush()
    rt = ctx.runtime
    assert deliver(ctx.session, BrokenSmsGateway(), rt.provisioning_gateway, ctx.now()) == 3
    sent = set(ctx.session.scalars(select(SandboxSms.to)))
    assert sent == {"13800138000", "13800138001"}
    assert ctx.session.scalar(select(SandboxProvisioning.msisdn)) == "13800138002"
    broken = ctx.session.scalars(
        select(OutboxMessage).where(OutboxMessage.payload["to"].as_string() == BROKEN)
    ).one()
    assert broken.delivered_at is None and broken.attempts == 1
    assert broken.last_error and "no_such_table" in broken.last_error


def test_a_batch_redelivered_records_each_message_once(ctx: Context) -> None:
    msgs = [
        send_sms(ctx.session, f"1380013800{i}", "hi", "test", at=ctx.now(), province_code="11")
        for i in range(3)
    ]
    ctx.session.flush()
    rt = ctx.runtime
    assert deliver(ctx.session, rt.sms_gateway, rt.provisioning_gateway, ctx.now()) == 3
    msgs[1].delivered_at = None  # as after a crash between the gateway and the commit
    msgs[1].status = "pending"
    ctx.session.flush()
    assert deliver(ctx.session, rt.sms_gateway, rt.provisioning_gateway, ctx.now()) == 1
    assert ctx.session.scalar(select(func.count()).select_from(SandboxSms)) == 3


def test_a_malformed_message_in_a_batch_fails_alone(ctx: Context) -> None:
    send_sms(ctx.session, "13800138000", "hi", "test", at=ctx.now(), province_code="11")
    bad = enqueue(ctx.session, "sms", {"text": "no number"}, at=ctx.now(), province_code="11")
    ctx.session.flush()
    rt = ctx.runtime
    assert deliver(ctx.session, rt.sms_gateway, rt.provisioning_gateway, ctx.now()) == 1
    assert bad.delivered_at is None and bad.last_error and "to" in bad.last_error
