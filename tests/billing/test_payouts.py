"""A refund is owed until the payment gateway confirms its payout: declined payouts are retried
with backoff, parked `failed` after the last attempt (still payable), and sent again by the
operator; the ledger stays balanced throughout."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from tests.billing.payout_support import DecliningGateway
from tests.cancellation.support import assert_books_consistent, request_for
from tests.factories import line_record, load
from xiaohu.billing import payouts
from xiaohu.billing.models import Refund
from xiaohu.cancellation import service
from xiaohu.delivery import deliver
from xiaohu.kit.clock import FrozenClock
from xiaohu.ledger.service import line_balance
from xiaohu.notifications.models import OutboxMessage
from xiaohu.notifications.rules import RetryPolicy
from xiaohu.runtime import Context

PLAN_30 = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}
REFUND_NOW = 15467  # cash 200 yuan less the prorated plan fee and the reserve


@pytest.fixture()
def gateway() -> Iterator[DecliningGateway]:
    DecliningGateway.declines, DecliningGateway.calls = 0, []
    yield DecliningGateway()
    DecliningGateway.declines, DecliningGateway.calls = 0, []


def cancelled(ctx: Context) -> Refund:
    rec = line_record(province="33", plan=PLAN_30, balance={"cash_fen": 20000, "gift_fen": 0})
    load(ctx, rec)
    out = service.cancel(ctx, rec["msisdn"], request_for(rec, service.check(ctx, rec["msisdn"])))
    assert out.refund.status == "pending"
    return ctx.session.scalars(select(Refund)).one()


def run(ctx: Context, gateway: DecliningGateway, retry: RetryPolicy | None = None) -> None:
    rt = ctx.runtime
    deliver(
        ctx.session, rt.sms_gateway, rt.provisioning_gateway, ctx.now(),
        payments=gateway, retry=retry,
    )  # fmt: skip


def payout(ctx: Context) -> OutboxMessage:
    return ctx.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.topic == "payment.refund")
        .order_by(OutboxMessage.id.desc())
    ).first()  # type: ignore[return-value]


def payable(ctx: Context, refund: Refund) -> int:
    return line_balance(ctx.session, f"refunds_payable:{refund.province_code}", refund.line_id)


def test_a_declined_payout_stays_pending_and_is_retried_with_backoff(
    ctx: Context, clock: FrozenClock, gateway: DecliningGateway
) -> None:
    refund = cancelled(ctx)
    assert payable(ctx, refund) == REFUND_NOW
    DecliningGateway.declines = 2
    run(ctx, gateway)
    msg = payout(ctx)
    assert (refund.status, msg.status, msg.attempts) == ("pending", "pending", 1)
    assert msg.next_attempt_at == clock.now() + dt.timedelta(seconds=2)
    assert "account_frozen" in (msg.last_error or "")
    assert payable(ctx, refund) == REFUND_NOW
    assert_books_consistent(ctx.session)

    run(ctx, gateway)  # not due yet: the gateway is not asked again
    assert len(DecliningGateway.calls) == 1
    clock.advance(dt.timedelta(seconds=2))
    run(ctx, gateway)  # declined again: the wait doubles
    assert msg.attempts == 2 and msg.next_attempt_at == clock.now() + dt.timedelta(seconds=4)
    clock.advance(dt.timedelta(seconds=3))
    run(ctx, gateway)
    assert len(DecliningGateway.calls) == 2
    clock.advance(dt.timedelta(seconds=1))
    run(ctx, gateway)
    assert (refund.status, msg.status, msg.attempts) == ("paid", "delivered", 3)
    assert refund.paid_at == clock.now() and refund.gateway_ref
    assert payable(ctx, refund) == 0
    # Each decline was a final answer, so each try after one is a request of its own.
    assert DecliningGateway.calls == [
        f"refund:{refund.id}", f"refund:{refund.id}:1", f"refund:{refund.id}:2"
    ]  # fmt: skip
    assert gateway.refunds_made == 1
    assert_books_consistent(ctx.session)
    out = service.get_cancellation(ctx, refund.cancellation_id)
    assert out.refund.status == "paid"


def test_the_backoff_doubles_up_to_its_cap() -> None:
    retry = RetryPolicy(max_attempts=20, base_seconds=2, cap_seconds=60)
    assert [retry.delay(n).total_seconds() for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    now = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
    assert retry.after_failure(19, now) == ("pending", now + dt.timedelta(seconds=60))
    assert retry.after_failure(20, now) == ("dead", None)


def test_a_payout_that_keeps_failing_is_parked_failed_still_payable_and_can_be_retried(
    ctx: Context, clock: FrozenClock, gateway: DecliningGateway
) -> None:
    retry = RetryPolicy(max_attempts=3, base_seconds=2, cap_seconds=60)
    refund = cancelled(ctx)
    DecliningGateway.declines = 100
    for _ in range(5):
        run(ctx, gateway, retry)
        clock.advance(dt.timedelta(minutes=1))
    msg = payout(ctx)
    ctx.session.refresh(refund)
    assert (msg.status, msg.attempts, msg.next_attempt_at) == ("dead", 3, None)
    assert refund.status == "failed" and refund.declines == 3
    assert "account_frozen" in (refund.last_error or "")
    assert len(DecliningGateway.calls) == 3  # parked: never tried again on its own
    assert payable(ctx, refund) == REFUND_NOW
    assert_books_consistent(ctx.session)
    assert service.get_cancellation(ctx, refund.cancellation_id).refund.status == "failed"
    assert [r.id for r, _ in payouts.list_refunds(ctx.session, "failed")] == [refund.id]

    DecliningGateway.declines = 0  # the operator has the cause fixed
    assert payouts.retry(ctx.session, [refund.id], ctx.now()) == 1
    assert refund.status == "pending"
    run(ctx, gateway, retry)
    assert refund.status == "paid" and payout(ctx).status == "delivered"
    assert payable(ctx, refund) == 0
    assert payouts.list_refunds(ctx.session, "failed") == []
    assert_books_consistent(ctx.session)


def test_only_a_failed_refund_is_retried(ctx: Context, gateway: DecliningGateway) -> None:
    from xiaohu.kit.errors import DomainError

    refund = cancelled(ctx)
    with pytest.raises(DomainError) as err:
        payouts.retry(ctx.session, [refund.id], ctx.now())
    assert err.value.code == "REFUND_NOT_FAILED"
    with pytest.raises(DomainError) as err:
        payouts.retry(ctx.session, ["nope"], ctx.now())
    assert err.value.code == "REFUND_NOT_FOUND"


def test_a_reversal_after_the_payout_leaves_nothing_owed(
    ctx: Context, clock: FrozenClock, gateway: DecliningGateway
) -> None:
    """The payout left the books (payable → clearing); undoing the cancellation must not mirror
    that posting, or the refund would stand owed again with no payout behind it."""
    refund = cancelled(ctx)
    run(ctx, gateway)
    ctx.session.refresh(refund)
    assert refund.status == "paid" and payable(ctx, refund) == 0
    clock.advance(dt.timedelta(minutes=5))
    service.reverse(ctx, refund.cancellation_id)
    assert payable(ctx, refund) == 0
    ctx.session.refresh(refund)
    assert refund.status == "paid"
    assert_books_consistent(ctx.session)
