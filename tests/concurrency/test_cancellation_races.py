"""Races on PostgreSQL with real threads and real commits (skipped on SQLite)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.cancellation.support import assert_books_consistent, request_for
from tests.factories import line_record, load
from xiaohu.billing.models import Refund
from xiaohu.billing.service import pay
from xiaohu.cancellation import service
from xiaohu.cancellation.models import Cancellation
from xiaohu.cancellation.schemas import CheckOut
from xiaohu.kit.clock import FrozenClock
from xiaohu.kit.db import transaction
from xiaohu.kit.errors import DomainError
from xiaohu.runtime import Context, Runtime

pytestmark = pytest.mark.postgres

T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
PLAN_30 = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}


def in_tx(rt: Runtime, fn: Callable[[Context], Any]) -> Any:
    with transaction(rt.sessions) as s:
        return fn(Context(rt, s, FrozenClock(T0), actor="test"))


def race(*jobs: Callable[[], Any]) -> list[Any]:
    """Start every job at the same instant; each result is a value or the exception raised."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(i: int, job: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[i] = job()
        except Exception as exc:  # the race's loser: collected, asserted by the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def prepared(rt: Runtime) -> tuple[dict[str, Any], CheckOut]:
    rec = line_record(province="33", plan=PLAN_30, balance={"cash_fen": 20000, "gift_fen": 0})

    def setup(ctx: Context) -> CheckOut:
        load(ctx, rec)
        return service.check(ctx, rec["msisdn"])

    return rec, in_tx(rt, setup)


def test_two_cancellations_of_one_line_at_once(committed_runtime: Runtime) -> None:
    rt = committed_runtime
    rec, check = prepared(rt)
    req = request_for(rec, check)
    results = race(
        lambda: in_tx(rt, lambda ctx: service.cancel(ctx, rec["msisdn"], req)),
        lambda: in_tx(rt, lambda ctx: service.cancel(ctx, rec["msisdn"], req)),
    )
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1, results
    assert isinstance(errors[0], DomainError), errors[0]
    assert errors[0].code in ("ALREADY_CANCELLED", "CANCELLATION_BLOCKED")
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Cancellation)) == 1
        assert s.scalar(select(func.count()).select_from(Refund)) == 1
        assert_books_consistent(s)


@pytest.mark.parametrize("attempt", range(3))
def test_payment_racing_a_cancellation_refunds_the_cash_actually_held(
    committed_runtime: Runtime, attempt: int
) -> None:
    rt = committed_runtime
    rec, check = prepared(rt)
    m = rec["msisdn"]
    results = race(
        lambda: in_tx(rt, lambda ctx: pay(ctx, m, 5000)),
        lambda: in_tx(rt, lambda ctx: service.cancel(ctx, m, request_for(rec, check))),
    )
    paid, cancelled = results
    if isinstance(cancelled, Exception):
        # The payment won: the quote went stale; a fresh check prices the new cash.
        assert isinstance(cancelled, DomainError) and cancelled.code == "QUOTE_EXPIRED"
        assert not isinstance(paid, Exception)
        fresh = in_tx(rt, lambda ctx: service.check(ctx, m))
        cancelled = in_tx(rt, lambda ctx: service.cancel(ctx, m, request_for(rec, fresh)))
    else:
        # The cancellation won: the payment was refused and took no money (a cancelled line
        # takes only what it still owes, here nothing).
        assert isinstance(paid, DomainError) and paid.code == "PAYMENT_EXCEEDS_OWED"
    paid_in = 20000 + (0 if isinstance(paid, Exception) else 5000)
    returned = cancelled.refund.refund_now_fen + cancelled.refund.reserve_fen
    assert returned + cancelled.charges_fen == paid_in
    with rt.sessions() as s:
        assert_books_consistent(s)
        refunded = s.scalar(select(func.coalesce(func.sum(Refund.amount_fen), 0)))
        assert refunded == cancelled.refund.refund_now_fen
