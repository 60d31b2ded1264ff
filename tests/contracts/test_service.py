"""Ending a contract early (service level): funding paths, refusals, the books."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from tests.contracts.helpers import assert_books, fresh
from tests.factories import line_record, load
from xiaohu.billing.models import Payment
from xiaohu.contracts import service
from xiaohu.contracts.models import Contract
from xiaohu.kit.errors import DomainError
from xiaohu.runtime import Context

HANDSET = {
    "id": "C-1",
    "kind": "handset",
    "starts_on": "2025-06-01",
    "ends_on": "2027-05-31",
    "handset_list_price_fen": 599900,
    "handset_promo_price_fen": 299900,
    "gift_prestore_remaining_fen": 60000,
}  # penalty 300000 + 30% × 60000 = 318000
PREMIUM = {
    "id": "C-2",
    "kind": "premium_number",
    "starts_on": "2024-01-01",
    "ends_on": "2027-01-31",
    "monthly_minimum_fen": 13800,
}  # 3 months (Nov, Dec, Jan) × 13800 = 41400
LIFETIME = {**PREMIUM, "id": "C-3", "ends_on": None}
ENDED = {**HANDSET, "id": "C-4", "ends_on": "2026-10-31"}


def make(ctx: Context, cash: int, gift: int = 0, contracts: Any = None) -> str:
    record = line_record(
        balance={"cash_fen": cash, "gift_fen": gift},
        contracts=contracts or [HANDSET, PREMIUM, LIFETIME, ENDED],
    )
    return load(ctx, record)[0].msisdn


def contract(ctx: Context, number: str, ref: str) -> Contract:
    line = fresh(ctx.session, number)
    return ctx.session.scalars(
        select(Contract).where(Contract.line_id == line.id, Contract.contract_ref == ref)
    ).one()


def test_penalty_paid_from_the_balance_when_it_covers(ctx: Context) -> None:
    number = make(ctx, cash=400000)
    result = service.terminate_early(ctx, number, "C-1")
    assert result.penalty_fen == 318000
    assert (result.from_cash, result.from_payment, result.payment_id) == (318000, 0, None)
    c = contract(ctx, number, "C-1")
    assert c.status == "terminated" and c.penalty_fen == 318000 and c.terminated_at is not None
    assert fresh(ctx.session, number).cash_fen == 82000
    assert_books(ctx.session, number)


def test_shortfall_is_paid_through_the_gateway(ctx: Context) -> None:
    number = make(ctx, cash=1400)
    result = service.terminate_early(
        ctx, number, "C-2", pay_with="balance_first", idempotency_key="k"
    )
    assert result.penalty_fen == 41400
    assert (result.from_cash, result.from_payment) == (1400, 40000)
    payment = ctx.session.get(Payment, result.payment_id)
    assert payment is not None and payment.amount_fen == 40000
    assert fresh(ctx.session, number).cash_fen == 0
    assert_books(ctx.session, number)


def test_pay_with_payment_leaves_the_balance_alone(ctx: Context) -> None:
    number = make(ctx, cash=100000)
    result = service.terminate_early(ctx, number, "C-2", pay_with="payment")
    assert (result.from_cash, result.from_payment) == (0, 41400)
    assert fresh(ctx.session, number).cash_fen == 100000
    assert_books(ctx.session, number)


def test_gift_pays_the_penalty_only_when_policy_allows(ctx: Context) -> None:
    number = make(ctx, cash=50000, gift=1000)
    result = service.terminate_early(ctx, number, "C-2")
    assert result.from_gift == 0  # default gift_may_pay is plan_fee and usage
    assert fresh(ctx.session, number).gift_fen == 1000
    assert_books(ctx.session, number)


def test_balance_only_and_short_is_insufficient_funds(ctx: Context) -> None:
    number = make(ctx, cash=1000)
    with pytest.raises(DomainError) as err:
        service.terminate_early(ctx, number, "C-2", pay_with="balance")
    assert err.value.code == "INSUFFICIENT_FUNDS"
    assert err.value.extra["shortfall_fen"] == 40400
    assert contract(ctx, number, "C-2").status == "active"


def test_declined_shortfall_is_insufficient_funds_and_writes_nothing(ctx: Context) -> None:
    # penalty 41400, cash 1401 -> shortfall 39999 ends in 9999: the sandbox declines it
    number = make(ctx, cash=1401)
    with pytest.raises(DomainError) as err:
        service.terminate_early(ctx, number, "C-2", pay_with="balance_first")
    assert err.value.code == "INSUFFICIENT_FUNDS"
    assert ctx.session.scalar(select(func.count()).select_from(Payment)) == 0
    assert contract(ctx, number, "C-2").status == "active"
    assert fresh(ctx.session, number).cash_fen == 1401
    assert_books(ctx.session, number)


def test_declined_explicit_payment_is_payment_declined(ctx: Context) -> None:
    number = make(ctx, cash=0, contracts=[{**PREMIUM, "monthly_minimum_fen": 3333}])
    with pytest.raises(DomainError) as err:  # 3 × 3333 = 9999
        service.terminate_early(ctx, number, "C-2", pay_with="payment")
    assert err.value.code == "PAYMENT_DECLINED"


def test_lifetime_term_names_the_complaint_route(ctx: Context) -> None:
    number = make(ctx, cash=10**7)
    with pytest.raises(DomainError) as err:
        service.terminate_early(ctx, number, "C-3")
    assert err.value.code == "LIFETIME_TERM"
    complaint = err.value.extra["complaint"]
    assert "12300" in complaint["then"] and complaint["after_days"] == 15


def test_ended_or_terminated_contract_is_not_active(ctx: Context) -> None:
    number = make(ctx, cash=10**6)
    with pytest.raises(DomainError) as err:
        service.terminate_early(ctx, number, "C-4")
    assert err.value.code == "CONTRACT_NOT_ACTIVE"
    service.terminate_early(ctx, number, "C-2")
    with pytest.raises(DomainError) as err:
        service.terminate_early(ctx, number, "C-2")
    assert err.value.code == "CONTRACT_NOT_ACTIVE"


def test_unknown_contract_is_not_found(ctx: Context) -> None:
    number = make(ctx, cash=0)
    with pytest.raises(DomainError) as err:
        service.terminate_early(ctx, number, "NOPE")
    assert err.value.code == "CONTRACT_NOT_FOUND"


def test_list_shows_todays_penalties(ctx: Context) -> None:
    number = make(ctx, cash=0)
    views = {v.contract.contract_ref: v for v in service.list_contracts(ctx, number)}
    assert views["C-1"].penalty.amount_fen == 318000 and views["C-1"].in_term
    assert views["C-2"].penalty.amount_fen == 41400
    assert views["C-3"].penalty.amount_fen is None and views["C-3"].penalty.lifetime
    assert views["C-4"].penalty.amount_fen == 0 and not views["C-4"].in_term


def test_by_default_a_penalty_never_takes_cash_the_final_bill_needs(ctx: Context) -> None:
    # 45,000 of cash covers the 41,400 penalty but not the penalty and this month's plan fee:
    # the penalty is paid by a payment of its own and the cash stays for the final bill.
    number = make(ctx, cash=45000)
    spare_cash, _ = service.spare_balances(ctx, number)
    assert 0 < spare_cash < 41400
    result = service.terminate_early(ctx, number, "C-2")
    assert (result.from_cash, result.from_payment) == (0, 41400)
    assert fresh(ctx.session, number).cash_fen == 45000
    assert_books(ctx.session, number)


def test_by_default_the_balance_pays_when_it_can_spare_the_penalty(ctx: Context) -> None:
    number = make(ctx, cash=100000)
    spare_cash, _ = service.spare_balances(ctx, number)
    assert spare_cash >= 41400
    plan = service.preview_termination(ctx, number, "C-2")
    assert (plan.split.from_cash, plan.split.source) == (41400, "balance")
    result = service.terminate_early(ctx, number, "C-2")
    assert (result.from_cash, result.from_payment) == (41400, 0)
    assert fresh(ctx.session, number).cash_fen == 100000 - 41400
    assert_books(ctx.session, number)
