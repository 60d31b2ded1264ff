"""Any sequence of imports, payments, early terminations, cancellations, reversals, late usage
and cycle closes keeps the books balanced and never refunds more cash than was paid in.

Each example runs in a savepoint of one session that is rolled back afterwards, so examples do
not see each other; the cycle close is driven through `cycle.settle` in that same session.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.cancellation.support import assert_books_consistent, request_for
from tests.factories import line_record, load, owner
from xiaohu.billing.service import add_usage, pay
from xiaohu.cancellation import service
from xiaohu.cancellation.cycle import Report, settle
from xiaohu.cancellation.models import Cancellation
from xiaohu.contracts.service import terminate_early
from xiaohu.kit.clock import FrozenClock
from xiaohu.kit.errors import DomainError
from xiaohu.ledger.models import JournalEntry
from xiaohu.lines.models import Line
from xiaohu.numbers.service import release_due
from xiaohu.runtime import Context

T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
PLAN = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}
# Refusals a subscriber can meet on the way; anything else is a bug.
EXPECTED = {
    "CANCELLATION_BLOCKED",
    "ALREADY_CANCELLED",
    "QUOTE_EXPIRED",
    "UNDO_WINDOW_CLOSED",
    "REFUND_ROUTE_INVALID",
    "CONTRACT_NOT_ACTIVE",
    "CONTRACT_NOT_FOUND",
    "INSUFFICIENT_FUNDS",
    "PAYMENT_EXCEEDS_OWED",  # a cancelled line takes payments only up to what it owes
    "PAYMENT_DECLINED",
    "LINE_NOT_FOUND",
}

fen = st.integers(min_value=1, max_value=30000)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.integers(0, 1), fen),
        st.tuples(st.just("terminate"), st.integers(0, 1)),
        st.tuples(st.just("cancel"), st.integers(0, 1), st.sampled_from(["original", "transfer"])),
        st.tuples(st.just("cancel"), st.integers(0, 1), st.just("original")),
        st.tuples(st.just("reverse"), st.integers(0, 1)),
        st.tuples(st.just("late"), st.integers(0, 1), fen),
        st.tuples(st.just("advance"), st.integers(1, 30 * 24)),
        st.tuples(st.just("close")),
    ),
    min_size=1,
    max_size=10,
)
balances = st.tuples(
    st.integers(0, 40000), st.integers(0, 5000), st.sampled_from([False, False, True])
)


def apply(ctx: Context, op: tuple[Any, ...], recs: list[dict[str, Any]]) -> int:
    """Run one operation; return the cash it paid in from outside."""
    kind = op[0]
    if kind == "pay":
        pay(ctx, recs[op[1]]["msisdn"], op[2])
        return int(op[2])
    if kind == "terminate":
        terminate_early(ctx, recs[op[1]]["msisdn"], f"C-{op[1]}", pay_with="balance")
    elif kind == "cancel":
        rec, other = recs[op[1]], recs[1 - op[1]]
        route = {"kind": "transfer", "to_msisdn": other["msisdn"]} if op[2] == "transfer" else {}
        check = service.check(ctx, rec["msisdn"])
        if check.quote is None:
            raise DomainError("ALREADY_CANCELLED")
        extra = {"refund_route": route} if route else {}
        service.cancel(ctx, rec["msisdn"], request_for(rec, check, **extra))
    elif kind == "reverse":
        line = ctx.session.scalars(select(Line).where(Line.msisdn == recs[op[1]]["msisdn"])).one()
        latest = ctx.session.scalars(
            select(Cancellation.id)
            .where(Cancellation.line_id == line.id)
            .order_by(Cancellation.cancelled_at.desc())
            .limit(1)
        ).first()
        if latest is not None:
            service.reverse(ctx, latest)
    elif kind == "late":
        add_usage(ctx, recs[op[1]]["msisdn"], op[2])
    elif kind == "advance":
        assert isinstance(ctx.clock, FrozenClock)
        ctx.clock.advance(dt.timedelta(hours=op[1]))
    elif kind == "close":
        report = Report(period="any")
        due = ctx.session.scalars(
            select(Cancellation.id).where(
                Cancellation.account_status == "settling", Cancellation.undo_until <= ctx.now()
            )
        ).all()
        for cid in due:
            settle(ctx, cid, report)
        release_due(ctx, ctx.now())
    return 0


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=ops, first=balances, second=balances)
def test_books_stay_balanced_and_refunds_never_exceed_cash_paid_in(
    ctx: Context,
    ops: list[tuple[Any, ...]],
    first: tuple[int, int, bool],
    second: tuple[int, int, bool],
) -> None:
    session = ctx.session
    outer = session.begin_nested()
    try:
        work = Context(ctx.runtime, session, FrozenClock(T0), actor="property")
        person = owner()
        recs = [
            line_record(
                province="33",
                owner=person,
                plan=PLAN,
                balance={"cash_fen": cash, "gift_fen": gift},
                contracts=[
                    {
                        "id": f"C-{i}",
                        "kind": "handset",
                        "starts_on": "2026-01-01",
                        "ends_on": "2027-06-30",
                        "handset_list_price_fen": 3000,
                        "handset_promo_price_fen": 1000,
                    }
                ]
                if contract
                else [],
            )
            for i, (cash, gift, contract) in enumerate((first, second))
        ]
        load(work, *recs)
        paid_in = first[0] + second[0]
        for op in ops:
            step = session.begin_nested()
            try:
                paid_in += apply(work, op, recs)
                step.commit()
                event(f"{op[0]}: done")
            except DomainError as err:
                step.rollback()
                event(f"{op[0]}: {err.code}")
                assert err.code in EXPECTED, err
            assert_books_consistent(session)
            refunded_out = session.scalar(
                select(func.coalesce(func.sum(JournalEntry.credit_fen - JournalEntry.debit_fen), 0))
                .where(JournalEntry.account_code == "gateway_clearing")
            )  # fmt: skip
            # Payments debit the gateway, refunds credit it: net credits are refunds not
            # covered by a payment, and may never exceed the cash the lines opened with.
            assert int(refunded_out or 0) <= first[0] + second[0]
            for line in session.scalars(select(Line)):
                assert line.cash_fen >= 0 and line.gift_fen >= 0
            assert paid_in >= 0
    finally:
        outer.rollback()
