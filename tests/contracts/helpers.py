"""Shared by the remedy tests (payments, contracts, bundles): tokens, the pinned clock, and the
books check run after every remedy."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from xiaohu.ledger.service import line_balance, trial_balance
from xiaohu.lines.models import Line
from xiaohu.principals import issue
from xiaohu.runtime import Runtime

NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
OWNER_A = {"name": "张三", "id_type": "resident_id", "id_number": "11010119900307803X"}
OWNER_B = {"name": "李四", "id_type": "resident_id", "id_number": "310101198511120022"}


def pin_clock(client: TestClient) -> None:
    r = client.put("/api/v1/sandbox/clock", json={"now": NOW.isoformat()})
    assert r.status_code == 200, r.text


def auth(runtime: Runtime, line: Line) -> dict[str, str]:
    token = issue(runtime.settings.key, line.id, line.msisdn, NOW, 1800)
    return {"Authorization": f"Bearer {token}"}


def fresh(session: Session, msisdn: str) -> Line:
    session.expire_all()
    return session.scalars(select(Line).where(Line.msisdn == msisdn)).one()


def assert_books(session: Session, *msisdns: str) -> None:
    """Trial balance zero, and each line's balance columns equal its sub-ledgers."""
    session.flush()
    tb = trial_balance(session)
    assert tb["balanced"], tb
    for m in msisdns:
        line = fresh(session, m)
        p = line.province_code
        assert line.cash_fen == line_balance(session, f"subscriber_cash:{p}", line.id), m
        assert line.gift_fen == line_balance(session, f"subscriber_gift:{p}", line.id), m
