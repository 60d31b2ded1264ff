"""The store channel's use cases, called directly: money into and out of a drawer, the
drawer's day, a cash-refunded cancellation at the cycle's close, the ledger's drawer account."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from tests.cancellation.support import assert_books_consistent
from tests.counter import support
from tests.counter.support import STORE, documents, open_desk
from tests.factories import load
from xiaohu import principals
from xiaohu.billing.models import Payment, Refund
from xiaohu.cancellation.cycle import run_close_cycle
from xiaohu.counter import drawer, service
from xiaohu.counter.schemas import StoreCancellationRequest, StoreCheckIn, StorePaymentIn
from xiaohu.kit.clock import FrozenClock
from xiaohu.kit.errors import DomainError
from xiaohu.ledger.models import JournalEntry, LedgerAccount
from xiaohu.ledger.rules import account_type
from xiaohu.runtime import Context, Runtime
from xiaohu.sandbox.service import set_clock

CST = dt.timezone(dt.timedelta(hours=8))


def clerk(ctx: Context) -> principals.StaffClaims:
    open_desk(ctx)
    ctx.actor = "clerk:bj.wang"  # as staff.deps sets it for a request
    return principals.StaffClaims(1, "bj.wang", "clerk", "11", STORE, ctx.now())


def beijing(ctx: Context, **kw: Any) -> dict[str, Any]:
    rec = support.beijing(**kw)
    load(ctx, rec)
    return rec


def cancel_for_cash(
    ctx: Context, staff: principals.StaffClaims, rec: dict[str, Any]
) -> dict[str, Any]:
    check_in = StoreCheckIn.model_validate({"msisdn": rec["msisdn"], "documents": documents(rec)})
    check = service.check(ctx, staff, check_in)
    body = StoreCancellationRequest.model_validate(
        {
            "msisdn": rec["msisdn"],
            "quote_id": check["quote"]["quote_id"],
            "documents": documents(rec),
            "refund_route": {"kind": "cash"},
            "acknowledged_warnings": [w["code"] for w in check["warnings"]],
        }
    )
    status, out = service.cancel(ctx, staff, body)
    assert status == 201
    return out


def test_the_drawer_account_is_an_asset_of_its_store() -> None:
    assert account_type("store_drawer:44-GZ-0001") == (
        "asset", "Store cash drawer [44-GZ-0001]", "44",
    )  # fmt: skip
    assert account_type("store_drawer:HQ")[0] == "asset"
    assert account_type("store_drawer:HQ")[2] is None
    with pytest.raises(KeyError):
        account_type("store_drawer:")


def test_cash_goes_into_the_drawer_and_the_payment_names_the_counter(ctx: Context) -> None:
    staff = clerk(ctx)
    rec = beijing(ctx)
    body = StorePaymentIn(msisdn=rec["msisdn"], amount_fen=1234, method="cash")
    out = service.pay(ctx, staff, body)
    assert out.cash_balance_fen == 21234
    payment = ctx.session.get(Payment, out.payment_id)
    assert payment is not None
    assert (payment.store_code, payment.method, payment.staff_login) == (STORE, "cash", "bj.wang")
    assert payment.gateway == "store_drawer" and payment.gateway_ref is None
    legs = ctx.session.execute(
        select(JournalEntry.account_code, JournalEntry.debit_fen, JournalEntry.credit_fen)
        .where(JournalEntry.debit_fen + JournalEntry.credit_fen == 1234)
        .order_by(JournalEntry.id)
    ).all()
    assert [tuple(x) for x in legs] == [
        (f"store_drawer:{STORE}", 1234, 0),
        ("subscriber_cash:11", 0, 1234),
    ]
    account = ctx.session.get(LedgerAccount, f"store_drawer:{STORE}")
    assert account is not None and account.type == "asset" and account.province_code == "11"
    assert_books_consistent(ctx.session)


def test_the_drawers_days_follow_shanghai_midnight_and_carry_over(
    ctx: Context, clock: FrozenClock
) -> None:
    staff = clerk(ctx)
    rec = beijing(ctx)
    m = rec["msisdn"]
    clock.at = dt.datetime(2026, 11, 24, 23, 30, tzinfo=CST)  # 15:30 UTC: still the 24th
    service.pay(ctx, staff, StorePaymentIn(msisdn=m, amount_fen=5000, method="cash"))
    clock.at = dt.datetime(2026, 11, 25, 0, 30, tzinfo=CST)  # 16:30 UTC on the 24th: the 25th
    service.pay(ctx, staff, StorePaymentIn(msisdn=m, amount_fen=700, method="cash"))
    out = cancel_for_cash(ctx, staff, rec)
    refunded = out["refund"]["refund_now_fen"]
    assert refunded == 20000 + 5700 - out["charges_fen"] - out["refund"]["reserve_fen"]

    day1 = drawer.report(ctx, STORE, dt.date(2026, 11, 24))
    assert (day1.opening_fen, day1.cash_in_fen, day1.cash_out_fen) == (0, 5000, 0)
    assert day1.closing_fen == day1.ledger_balance_fen == 5000 and day1.reconciled
    day2 = drawer.report(ctx, STORE, dt.date(2026, 11, 25))
    assert day2.opening_fen == 5000
    assert (day2.cash_in_fen, day2.cash_out_fen) == (700, refunded)
    assert day2.closing_fen == 5700 - refunded == day2.ledger_balance_fen
    assert day2.reconciled
    assert [mv.amount_fen for mv in day2.movements] == [700, -refunded]
    assert day2.movements[1].reference == out["id"]
    day3 = drawer.report(ctx, STORE, dt.date(2026, 11, 26))
    assert day3.opening_fen == day3.closing_fen == 5700 - refunded and day3.movements == []
    with pytest.raises(DomainError) as caught:
        drawer.report(ctx, "no-such-store", dt.date(2026, 11, 25))
    assert caught.value.code == "STORE_NOT_FOUND"
    assert_books_consistent(ctx.session)


def test_a_cash_refund_is_paid_at_once_and_the_reserve_goes_by_the_gateway_at_close(
    ctx: Context, runtime: Runtime
) -> None:
    staff = clerk(ctx)
    rec = beijing(ctx)
    out = cancel_for_cash(ctx, staff, rec)
    assert out["refund"]["reserve_fen"] > 0
    ctx.session.commit()
    refund = ctx.session.scalars(select(Refund).where(Refund.cancellation_id == out["id"])).one()
    assert refund.status == "paid" and refund.paid_at is not None
    set_clock(ctx.session, dt.datetime(2026, 12, 1, 9, 0, tzinfo=CST))
    ctx.session.commit()
    report = run_close_cycle(runtime, "2026-11", show_progress=False)
    assert report["settled"] == 1
    ctx.session.expire_all()
    true_up = ctx.session.scalars(
        select(Refund).where(Refund.cancellation_id == out["id"], Refund.kind == "true_up")
    ).one()
    assert true_up.route == {"kind": "original", "method": "gateway", "fallback_from": "cash"}
    assert true_up.amount_fen == out["refund"]["reserve_fen"]
    assert_books_consistent(ctx.session)
