"""Paying online (service level): cash in, oldest bills first, reactivation, declines."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from tests.contracts.helpers import OWNER_A, assert_books, fresh
from tests.factories import line_record, load, msisdn
from xiaohu.billing import service
from xiaohu.billing.models import Bill, Payment
from xiaohu.kit.errors import DomainError
from xiaohu.ledger.models import JournalEntry
from xiaohu.notifications.models import OutboxMessage
from xiaohu.runtime import Context


def bills(*pairs: tuple[str, int]) -> list[dict[str, object]]:
    return [{"period": p, "amount_fen": a, "due_on": f"{p}-28"} for p, a in pairs]


def make(ctx: Context, **kw: object) -> str:
    values: dict[str, Any] = {
        "msisdn": msisdn(),
        "owner": OWNER_A,
        "status": "active",
        "balance": {"cash_fen": 0, "gift_fen": 0},
    }
    values.update(kw)
    return load(ctx, line_record(**values))[0].msisdn


def test_payment_goes_to_oldest_bill_first_and_the_rest_to_cash(ctx: Context) -> None:
    number = make(ctx, unpaid_bills=bills(("2026-10", 3800), ("2026-09", 2000)))
    result = service.pay(ctx, number, 5000, idempotency_key="k1")
    assert result.applied == [
        {"period": "2026-09", "amount_fen": 2000},
        {"period": "2026-10", "amount_fen": 3000},
    ]
    assert result.cash_balance_fen == 0
    line = fresh(ctx.session, number)
    rows = ctx.session.scalars(select(Bill).where(Bill.line_id == line.id).order_by(Bill.period))
    assert [(b.period, b.paid_fen, b.status) for b in rows] == [
        ("2026-09", 2000, "paid"),
        ("2026-10", 3000, "unpaid"),
    ]
    assert_books(ctx.session, number)


def test_overpayment_stays_as_cash(ctx: Context) -> None:
    number = make(
        ctx, balance={"cash_fen": 500, "gift_fen": 100}, unpaid_bills=bills(("2026-10", 3800))
    )
    result = service.pay(ctx, number, 10000)
    assert result.applied == [{"period": "2026-10", "amount_fen": 3800}]
    assert result.cash_balance_fen == 500 + 10000 - 3800
    assert fresh(ctx.session, number).cash_fen == 6700
    assert_books(ctx.session, number)


def test_paying_all_arrears_reactivates_a_suspended_line(ctx: Context) -> None:
    number = make(ctx, status="arrears_suspended", unpaid_bills=bills(("2026-10", 3800)))
    result = service.pay(ctx, number, 3800)
    assert result.reactivated
    line = fresh(ctx.session, number)
    assert line.status == "active" and line.status_reason == "arrears_paid"
    orders = ctx.session.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == "network.provisioning")
    ).all()
    assert [o.payload["action"] for o in orders] == ["restore"]
    assert_books(ctx.session, number)


def test_partial_payment_keeps_the_line_suspended(ctx: Context) -> None:
    number = make(ctx, status="arrears_suspended", unpaid_bills=bills(("2026-10", 3800)))
    result = service.pay(ctx, number, 1000)
    assert not result.reactivated
    assert fresh(ctx.session, number).status == "arrears_suspended"


def test_a_declined_payment_writes_nothing(ctx: Context) -> None:
    number = make(ctx, unpaid_bills=bills(("2026-10", 3800)))
    entries = ctx.session.scalar(select(func.count()).select_from(JournalEntry))
    with pytest.raises(DomainError) as err:
        service.pay(ctx, number, 19999)
    assert err.value.code == "PAYMENT_DECLINED" and err.value.status == 402
    assert ctx.session.scalar(select(func.count()).select_from(Payment)) == 0
    assert ctx.session.scalar(select(func.count()).select_from(JournalEntry)) == entries
    assert fresh(ctx.session, number).cash_fen == 0


def test_a_cancelled_line_that_owes_nothing_takes_no_payment(ctx: Context) -> None:
    number = make(ctx)
    fresh(ctx.session, number).status = "cancelled"
    with pytest.raises(DomainError) as err:
        service.pay(ctx, number, 100)
    assert err.value.code == "PAYMENT_EXCEEDS_OWED" and err.value.status == 422
    assert ctx.session.scalar(select(func.count()).select_from(Payment)) == 0


@pytest.mark.parametrize("amount", [0, -5, True])
def test_amount_must_be_a_positive_int(ctx: Context, amount: int) -> None:
    number = make(ctx)
    with pytest.raises(DomainError) as err:
        service.pay(ctx, number, amount)
    assert err.value.code == "VALIDATION_FAILED"


def test_the_same_gateway_key_does_not_charge_twice(ctx: Context) -> None:
    number = make(ctx)
    gateway = ctx.runtime.payment_gateway
    first = service.pay(ctx, number, 1000, idempotency_key="same")
    again = service.pay(ctx, number, 1000, idempotency_key="same")
    assert gateway.charges_made == 1  # type: ignore[attr-defined]
    assert again.payment_id == first.payment_id
    assert ctx.session.scalar(select(func.count()).select_from(Payment)) == 1
    assert fresh(ctx.session, number).cash_fen == 1000
    assert_books(ctx.session, number)


def test_charge_uses_gift_only_when_allowed_then_cash(ctx: Context) -> None:
    number = make(ctx, balance={"cash_fen": 1000, "gift_fen": 300})
    line = fresh(ctx.session, number)
    r1 = service.charge(ctx, line, "usage", 500, gift_allowed=True, ref="t1")
    assert (r1.from_gift, r1.from_cash, r1.unpaid) == (300, 200, 0)
    r2 = service.charge(ctx, line, "penalty", 1000, gift_allowed=False, ref="t2")
    assert (r2.from_gift, r2.from_cash, r2.unpaid) == (0, 800, 200)
    assert (line.cash_fen, line.gift_fen) == (0, 0)
    assert_books(ctx.session, number)


def test_apply_cash_to_bills_uses_existing_cash(ctx: Context) -> None:
    number = make(
        ctx, balance={"cash_fen": 2500, "gift_fen": 0}, unpaid_bills=bills(("2026-10", 3800))
    )
    line = fresh(ctx.session, number)
    assert service.apply_cash_to_bills(ctx, line) == [{"period": "2026-10", "amount_fen": 2500}]
    assert line.cash_fen == 0
    assert service.apply_cash_to_bills(ctx, line) == []
    assert_books(ctx.session, number)
