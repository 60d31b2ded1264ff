"""Days on the sandbox test clock, runs of them, and what they left behind."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from tests.cancellation.support import assert_books_consistent
from xiaohu.kit.clock import SHANGHAI
from xiaohu.kit.db import transaction
from xiaohu.lifecycle.run import run_lifecycle
from xiaohu.lines.models import Line
from xiaohu.notifications.models import OutboxMessage
from xiaohu.runtime import Runtime
from xiaohu.sandbox.service import set_clock


def noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(10), tzinfo=SHANGHAI)


def set_day(runtime: Runtime, day: dt.date) -> None:
    with transaction(runtime.sessions) as session:
        set_clock(session, noon(day))


def run_day(runtime: Runtime, day: dt.date, *, check: bool = True) -> dict[str, Any]:
    """The test clock at 10:00 on `day`, its lifecycle run; the books checked after it."""
    set_day(runtime, day)
    report = run_lifecycle(runtime, day, show_progress=False)
    if check:
        books(runtime)
    return report


def books(runtime: Runtime) -> None:
    with transaction(runtime.sessions) as session:
        assert_books_consistent(session)


def line(runtime: Runtime, msisdn: str) -> Line:
    with transaction(runtime.sessions) as session:
        return session.scalars(select(Line).where(Line.msisdn == msisdn)).one()


def outbox(
    runtime: Runtime, *, kind: str | None = None, to: str | None = None
) -> list[dict[str, Any]]:
    """Payloads written to the outbox (SMS by `kind`/`to`, or provisioning orders)."""
    with transaction(runtime.sessions) as session:
        payloads = [
            m.payload for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        ]
    return [
        p
        for p in payloads
        if (kind is None or p.get("kind") == kind) and (to is None or p.get("to") == to)
    ]


def orders(runtime: Runtime, msisdn: str) -> list[str]:
    return [p["action"] for p in outbox(runtime) if p.get("msisdn") == msisdn and "action" in p]


def days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def bill(due_on: str, amount_fen: int = 12900, period: str = "2026-10") -> dict[str, Any]:
    return {"period": period, "amount_fen": amount_fen, "due_on": due_on}
