"""Invoices issued by the events that move invoiced money: payments (blue), refunds at
cancellation and at the cycle's true-up (red), a reversal (blue again, naming the red)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from tests.cancellation.support import assert_books_consistent, request_for
from tests.factories import add_store, example_contracts, line_record, load, owner
from tests.invoices.support import invoices_of
from xiaohu.billing.models import Payment
from xiaohu.billing.service import PaymentSource, pay
from xiaohu.cancellation import service
from xiaohu.cancellation.cycle import run_close_cycle
from xiaohu.invoices.models import InvoiceCounter
from xiaohu.invoices.rules import number
from xiaohu.kit.clock import FrozenClock
from xiaohu.lines.models import Line
from xiaohu.runtime import Context, Runtime
from xiaohu.sandbox.service import set_clock

CST = dt.timezone(dt.timedelta(hours=8))
PLAN_30 = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}


def line_with(ctx: Context, cash_fen: int = 0, **kw: Any) -> tuple[dict[str, Any], Line]:
    """A Jiangsu line (32) with `cash_fen` carried in from before invoicing (no invoice)."""
    values: dict[str, Any] = {"plan": PLAN_30, "balance": {"cash_fen": cash_fen, "gift_fen": 0}}
    values.update(kw)
    rec = line_record(province="32", **values)
    [line] = load(ctx, rec)
    return rec, line


def cancel(ctx: Context, rec: dict[str, Any], **overrides: Any) -> Any:
    check = service.check(ctx, rec["msisdn"])
    return service.cancel(ctx, rec["msisdn"], request_for(rec, check, **overrides))


def test_a_payment_gets_one_blue_invoice_from_the_home_province(ctx: Context) -> None:
    _, line = line_with(ctx)
    paid = pay(ctx, line.msisdn, 12345, idempotency_key="k1")
    [blue] = invoices_of(ctx.session, line.id)
    assert (blue.kind, blue.amount_fen, blue.province_code) == ("blue", 12345, "32")
    assert (blue.payment_id, blue.original_number, blue.item) == (paid.payment_id, None, "telecom")
    assert blue.number == number("32", 2026, 1) == "26321000000000000001"
    assert blue.issued_at == ctx.now()
    # The same key again: the gateway's answer is the first one, and so is the invoice.
    again = pay(ctx, line.msisdn, 12345, idempotency_key="k1")
    assert again.payment_id == paid.payment_id
    assert len(invoices_of(ctx.session, line.id)) == 1
    assert_books_consistent(ctx.session)


def test_numbers_run_per_province_and_start_again_each_year(
    ctx: Context, clock: FrozenClock
) -> None:
    _, js = line_with(ctx)
    gd = load(ctx, line_record(province="44"))[0]
    for amount in (100, 200):
        pay(ctx, js.msisdn, amount)
    pay(ctx, gd.msisdn, 300)
    assert [i.number for i in invoices_of(ctx.session, js.id)] == [
        number("32", 2026, 1),
        number("32", 2026, 2),
    ]
    assert [i.number for i in invoices_of(ctx.session, gd.id)] == [number("44", 2026, 1)]
    # 2027 begins at midnight in Shanghai (16:00 UTC on 31 December): sequence 1 again.
    clock.advance(dt.datetime(2027, 1, 1, 0, 0, 1, tzinfo=CST) - clock.now())
    pay(ctx, js.msisdn, 400)
    assert invoices_of(ctx.session, js.id)[-1].number == number("32", 2027, 1)
    counters = ctx.session.scalars(select(InvoiceCounter).order_by(InvoiceCounter.year)).all()
    assert [(c.province_code, c.year, c.last_seq) for c in counters if c.province_code == "32"] == [
        ("32", 2026, 2),
        ("32", 2027, 1),
    ]


def test_cash_taken_at_another_provinces_store_is_invoiced_by_the_home_province(
    ctx: Context,
) -> None:
    """A Guangdong store takes cash for a Jiangsu line: Jiangsu issues the invoice."""
    add_store(ctx, code="44-GZ-0001", name="广州天河营业厅", province_code="44", city="广州")
    _, line = line_with(ctx)
    source = PaymentSource(method="cash", store_code="44-GZ-0001", staff_login="gz.li")
    pay(ctx, line.msisdn, 5000, source=source)
    [blue] = invoices_of(ctx.session, line.id)
    assert (blue.province_code, blue.number[2:4], blue.amount_fen) == ("32", "32", 5000)


def test_a_payment_for_another_line_of_the_owner_is_invoiced_on_the_line_paid_to(
    ctx: Context,
) -> None:
    person = owner()
    rec, line = line_with(ctx, owner=person)
    other = load(
        ctx,
        line_record(
            province="32",
            owner=person,
            unpaid_bills=[{"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}],
        ),
    )[0]
    pay(ctx, other.msisdn, 3800, bills_only=True)
    assert invoices_of(ctx.session, line.id) == []
    [blue] = invoices_of(ctx.session, other.id)
    assert blue.amount_fen == 3800
    assert rec["msisdn"] != other.msisdn


def test_a_refund_at_cancellation_turns_the_newest_blue_invoices_red(ctx: Context) -> None:
    rec, line = line_with(ctx)
    pay(ctx, line.msisdn, 10000)
    pay(ctx, line.msisdn, 5000)
    older, newer = invoices_of(ctx.session, line.id)
    out = cancel(ctx, rec)
    refunded = out.refund.refund_now_fen
    assert 5000 < refunded < 15000  # the plan fee and the reserve stay
    reds = invoices_of(ctx.session, line.id, "red")
    assert [(r.original_number, r.amount_fen) for r in reds] == [
        (newer.number, 5000),
        (older.number, refunded - 5000),
    ]
    assert {r.ref for r in reds} == {out.id} and {r.province_code for r in reds} == {"32"}
    assert [r.number for r in reds] == [number("32", 2026, 3), number("32", 2026, 4)]
    assert_books_consistent(ctx.session)


def test_only_invoiced_money_is_taken_back(ctx: Context) -> None:
    """200 yuan carried in from before (never invoiced) and a 10-yuan payment: the refund of
    about 176 yuan gets one red invoice of 10 yuan; the gift was never invoiced either."""
    rec, line = line_with(ctx, cash_fen=20000)
    line.gift_fen = 0
    pay(ctx, line.msisdn, 1000)
    [blue] = invoices_of(ctx.session, line.id)
    out = cancel(ctx, rec)
    assert out.refund.refund_now_fen > 1000
    [red] = invoices_of(ctx.session, line.id, "red")
    assert (red.original_number, red.amount_fen) == (blue.number, 1000)


def test_a_transfer_to_another_line_of_the_owner_is_no_refund_of_invoiced_money(
    ctx: Context,
) -> None:
    person = owner()
    rec, line = line_with(ctx, owner=person)
    other = load(ctx, line_record(province="32", owner=person))[0]
    pay(ctx, line.msisdn, 10000)
    cancel(ctx, rec, refund_route={"kind": "transfer", "to_msisdn": other.msisdn})
    assert invoices_of(ctx.session, line.id, "red") == []
    assert invoices_of(ctx.session, other.id) == []


def test_a_reversal_reissues_each_red_invoice_as_a_blue_one_naming_it(
    ctx: Context, clock: FrozenClock
) -> None:
    rec, line = line_with(ctx)
    pay(ctx, line.msisdn, 10000)
    pay(ctx, line.msisdn, 5000)
    out = cancel(ctx, rec)
    reds = invoices_of(ctx.session, line.id, "red")
    clock.advance(dt.timedelta(hours=1))
    service.reverse(ctx, out.id)
    reissued = [i for i in invoices_of(ctx.session, line.id, "blue") if i.original_number]
    assert [(b.original_number, b.amount_fen) for b in reissued] == [
        (r.number, r.amount_fen) for r in reds
    ]
    assert {b.ref for b in reissued} == {out.id}
    assert {b.issued_at for b in reissued} == {ctx.now()}
    service.reverse(ctx, out.id)  # answered as it is: nothing issued again
    assert len(invoices_of(ctx.session, line.id)) == 2 + 2 + 2
    assert_books_consistent(ctx.session)
    assert_books_consistent(ctx.session)


def test_the_true_up_refund_gets_red_invoices_too(ctx: Context, runtime: Runtime) -> None:
    rec, line = line_with(ctx)
    pay(ctx, line.msisdn, 20000)
    [blue] = invoices_of(ctx.session, line.id)
    out = cancel(ctx, rec)
    ctx.session.commit()
    set_clock(ctx.session, dt.datetime(2026, 12, 1, 9, 0, tzinfo=CST))
    ctx.session.commit()
    report = run_close_cycle(runtime, "2026-11", show_progress=False)
    assert report["trued_up_fen"] == out.refund.reserve_fen > 0
    reds = invoices_of(ctx.session, line.id, "red")
    assert [(r.ref, r.amount_fen, r.original_number) for r in reds] == [
        (out.id, out.refund.refund_now_fen, blue.number),
        (f"true_up:{out.id}", out.refund.reserve_fen, blue.number),
    ]
    # What stays invoiced is what the line was charged: the plan fee of its last month.
    assert blue.amount_fen - sum(r.amount_fen for r in reds) == out.charges_fen
    run_close_cycle(runtime, "2026-11", show_progress=False)
    assert len(invoices_of(ctx.session, line.id)) == 3
    assert_books_consistent(ctx.session)


def test_a_contract_penalty_paid_by_the_gateway_is_invoiced_as_a_penalty(ctx: Context) -> None:
    from xiaohu.contracts.service import terminate_early

    rec, line = line_with(ctx, contracts=[example_contracts()[0]])
    result = terminate_early(ctx, rec["msisdn"], "C-1", pay_with="payment")
    [blue] = invoices_of(ctx.session, line.id)
    payment = ctx.session.get(Payment, result.payment_id)
    assert payment is not None
    assert (blue.item, blue.amount_fen, blue.payment_id) == (
        "penalty",
        payment.amount_fen,
        payment.id,
    )
