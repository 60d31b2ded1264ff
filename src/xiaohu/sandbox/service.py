"""The test clock and the sandbox SMS outbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from xiaohu.kit.db import transaction
from xiaohu.notifications.models import SandboxSms
from xiaohu.runtime import Context
from xiaohu.sandbox.models import TestClockSetting


def set_clock(session: Session, now: dt.datetime) -> None:
    row = session.get(TestClockSetting, "default")
    if row is None:
        session.add(TestClockSetting(name="default", now=now))
    else:
        row.now = now
    session.flush()


def read_test_clock(session: Session) -> dt.datetime | None:
    return session.scalar(select(TestClockSetting.now).where(TestClockSetting.name == "default"))


def clear_clock(session: Session) -> None:
    session.execute(delete(TestClockSetting))


def on_other_nodes(ctx: Context, work: Callable[[Session], None]) -> None:
    """Do `work` on every node but the request's, each in a transaction of its own (the
    request's node commits with the request): each node reads the test clock from its own
    database, so every node must hold it. A node that cannot be reached fails the request
    (NODE_UNAVAILABLE); setting the clock again repairs what the others already hold."""
    runtime = ctx.runtime
    for name in runtime.nodes.names():
        if name != runtime.node:
            with transaction(runtime.sessions_of(name)) as session:
                work(session)


def messages(session: Session, msisdn: str | None, limit: int = 100) -> list[SandboxSms]:
    stmt = select(SandboxSms).order_by(SandboxSms.id.desc()).limit(limit)
    if msisdn:
        stmt = stmt.where(SandboxSms.to == msisdn)
    return list(session.scalars(stmt))
