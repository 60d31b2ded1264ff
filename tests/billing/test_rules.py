"""Final bill, reserve and true-up: pure arithmetic that must add up to the fen."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from xiaohu.billing.rules import (
    Charge,
    final_bill,
    final_charges,
    plan_fee_charge,
    reserve,
    true_up,
)
from xiaohu.policy.schema import Values

V = Values()
TODAY = dt.date(2026, 11, 24)
fen = st.integers(min_value=0, max_value=5_000_000)


def test_prorated_plan_fee_counts_today_and_rounds_half_up() -> None:
    # 12900 × 24 / 30 = 10320 exactly
    assert plan_fee_charge(12900, TODAY, None, "prorate") == Charge(
        "plan_fee_prorated", 10320, "plan_fee"
    )
    # 100 × 1 / 30 = 3.33 -> 3 ; 5 × 3 / 30 = 0.5 -> 1 (half-up)
    assert plan_fee_charge(100, dt.date(2026, 11, 1), None, "prorate").amount_fen == 3
    assert plan_fee_charge(5, dt.date(2026, 11, 3), None, "prorate").amount_fen == 1


def test_prorated_fee_starts_at_opening_day_when_opened_this_month() -> None:
    fee = plan_fee_charge(3000, TODAY, dt.date(2026, 11, 20), "prorate")
    assert fee.amount_fen == 3000 * 5 // 30


def test_full_month_bills_the_whole_fee() -> None:
    fee = plan_fee_charge(12900, dt.date(2026, 11, 2), None, "full_month")
    assert fee == Charge("plan_fee_full_month", 12900, "plan_fee")


def test_last_day_of_month_prorates_to_the_full_fee() -> None:
    assert plan_fee_charge(12900, dt.date(2026, 2, 28), None, "prorate").amount_fen == 12900


@given(fee=fen, day=st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2030, 12, 31)))
def test_prorated_fee_never_exceeds_the_month(fee: int, day: dt.date) -> None:
    amount = plan_fee_charge(fee, day, None, "prorate").amount_fen
    assert 0 <= amount <= fee


def test_final_charges_list_plan_fee_and_usage_and_drop_zero_items() -> None:
    items = final_charges(
        status="active",
        plan_fee_fen=12900,
        today=TODAY,
        opened_on=None,
        unbilled_usage_fen=1200,
        values=V,
    )
    assert [c.as_dict() for c in items] == [
        {"item": "plan_fee_prorated", "amount_fen": 10320},
        {"item": "usage_unbilled", "amount_fen": 1200},
    ]
    none = final_charges(
        status="active", plan_fee_fen=0, today=TODAY, opened_on=None, unbilled_usage_fen=0, values=V
    )
    assert none == []


def test_retained_line_owes_the_retention_fee_not_the_plan_fee() -> None:
    items = final_charges(
        status="retained",
        plan_fee_fen=12900,
        today=TODAY,
        opened_on=None,
        unbilled_usage_fen=0,
        values=V,
    )
    assert [(c.item, c.amount_fen, c.category) for c in items] == [
        ("retention_fee", 500, "retention_fee")
    ]


def test_gift_pays_only_what_policy_allows_and_the_rest_is_forfeited() -> None:
    charges = [Charge("plan_fee_prorated", 8600, "plan_fee"), Charge("pen", 3000, "penalty")]
    bill = final_bill(charges, cash_fen=20000, gift_fen=10000, history_fen=[], values=V)
    assert bill.gift_applied_fen == 8600  # the penalty may not be paid from gift
    assert bill.forfeited_fen == 1400
    assert bill.charges_from_cash_fen == 3000
    assert bill.penalties_fen == 3000
    assert bill.refund_fen == 17000
    assert bill.refund_now_fen == 17000 and bill.reserve_fen == 0


def test_api_example_gift_forfeited_when_charges_exceed_cash() -> None:
    # the API.md example: cash 5000, gift 2000, prorated fee 8600 -> gift pays 2000 ... and the
    # cash pays 5000 of the 6600 left: 1600 short, which is ARREARS.
    charges = [Charge("plan_fee_prorated", 8600, "plan_fee")]
    bill = final_bill(charges, cash_fen=5000, gift_fen=2000, history_fen=[100], values=V)
    assert bill.gift_applied_fen == 2000 and bill.forfeited_fen == 0
    assert bill.refund_fen == 0 and bill.shortfall_fen == 1600
    assert bill.reserve_fen == 0 and bill.refund_now_fen == 0


def test_policy_may_let_gift_pay_penalties() -> None:
    values = Values(gift_may_pay=["plan_fee", "usage", "penalty"])
    bill = final_bill(
        [Charge("pen", 3000, "penalty")], cash_fen=0, gift_fen=5000, history_fen=[], values=values
    )
    assert bill.gift_applied_fen == 3000 and bill.forfeited_fen == 2000 and bill.shortfall_fen == 0


def test_reserve_is_average_of_recent_cycles_capped_and_within_refund() -> None:
    assert reserve([2100, 1800, 2500, 99999], V, 100000) == 2133  # (2100+1800+2500)/3 half-up
    assert reserve([9000, 9000, 9000], V, 100000) == 5000  # capped
    assert reserve([2100, 1800, 2500], V, 1000) == 1000  # never more than the refund
    assert reserve([], V, 1000) == 0
    assert reserve([3000], Values(reserve_method="none"), 10000) == 0
    assert reserve([3000], Values(reserve_history_cycles=1), 10000) == 3000


def test_reserve_cap_of_guangdong_is_larger() -> None:
    v44 = Values(reserve_cap_fen=10000)
    assert reserve([9000, 9000, 9000], v44, 100000) == 9000


charge_lists = st.lists(
    st.builds(
        Charge,
        item=st.sampled_from(["a", "b", "c"]),
        amount_fen=fen,
        category=st.sampled_from(["plan_fee", "usage", "retention_fee", "penalty"]),
    ),
    max_size=5,
)


@given(
    charges=charge_lists,
    cash=fen,
    gift=fen,
    history=st.lists(fen, max_size=6),
    gift_may_pay=st.lists(
        st.sampled_from(["plan_fee", "usage", "retention_fee", "penalty"]), unique=True
    ),
    cap=fen,
)
def test_final_bill_adds_up_to_the_fen(
    charges: list[Charge],
    cash: int,
    gift: int,
    history: list[int],
    gift_may_pay: list[str],
    cap: int,
) -> None:
    values = Values(gift_may_pay=gift_may_pay, reserve_cap_fen=cap)
    bill = final_bill(charges, cash_fen=cash, gift_fen=gift, history_fen=history, values=values)
    assert bill.gift_balance_fen == bill.gift_applied_fen + bill.forfeited_fen
    assert bill.charges_fen == bill.gift_applied_fen + bill.charges_from_cash_fen
    if bill.shortfall_fen == 0:
        assert cash == bill.charges_from_cash_fen + bill.refund_now_fen + bill.reserve_fen
    else:
        assert bill.refund_fen == 0 and bill.charges_from_cash_fen == cash + bill.shortfall_fen
    assert 0 <= bill.reserve_fen <= min(cap, bill.refund_fen)
    assert 0 <= bill.refund_now_fen <= cash
    assert min(bill.gift_applied_fen, bill.forfeited_fen, bill.refund_fen) >= 0


@given(cash=fen, late=fen)
def test_true_up_adds_up(cash: int, late: int) -> None:
    t = true_up(cash, late)
    assert t.paid_from_cash_fen + t.refund_fen == cash
    assert t.paid_from_cash_fen + t.shortfall_fen == late
    assert t.refund_fen == 0 or t.shortfall_fen == 0


def test_true_up_examples() -> None:
    assert true_up(2133, 500).refund_fen == 1633
    short = true_up(2133, 3000)
    assert (short.refund_fen, short.shortfall_fen, short.paid_from_cash_fen) == (0, 867, 2133)
