"""The test clock and the sandbox SMS outbox."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from xiaohu.notifications.models import SandboxSms
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


def messages(session: Session, msisdn: str | None, limit: int = 100) -> list[SandboxSms]:
    stmt = select(SandboxSms).order_by(SandboxSms.id.desc()).limit(limit)
    if msisdn:
        stmt = stmt.where(SandboxSms.to == msisdn)
    return list(session.scalars(stmt))
