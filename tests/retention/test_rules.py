"""Retention (停机保号) as pure functions: each blocker, the monthly fee, the months covered."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.cancellation.test_rules import snap as cancellation_snap
from xiaohu.cancellation.rules import LineSnapshot, OwingLine, SnapshotContract
from xiaohu.contracts.rules import ContractTerms
from xiaohu.policy.schema import Values
from xiaohu.retention.rules import (
    add_months,
    check_retention,
    first_of_next_month,
    months_covered,
    retained_view,
)

TODAY = dt.date(2026, 11, 24)
V = Values()  # retention fee 500, at most 12 months, first month blocked


def snap(**kw: Any) -> LineSnapshot:
    """The cancellation rules' test line (30-yuan plan, 200 yuan cash), opened years ago."""
    return cancellation_snap(**{"province_code": "11", "opened_on": dt.date(2019, 5, 1), **kw})


def contract(
    kind: str, ref: str = "K-1", minimum: int = 0, ends: dt.date | None = dt.date(2027, 12, 31)
) -> SnapshotContract:
    terms = ContractTerms(
        kind=kind, starts_on=dt.date(2025, 1, 1), ends_on=ends, monthly_minimum_fen=minimum
    )
    return SnapshotContract(ref, "active", terms)


def codes(s: LineSnapshot, values: Values = V, today: dt.date = TODAY) -> list[str]:
    return [b.code for b in check_retention(s, values, today).blockers]


def test_a_plain_line_is_eligible_from_next_month() -> None:
    found = check_retention(snap(), V, TODAY)
    assert found.eligible and found.blockers == []
    assert found.starts_on == dt.date(2026, 12, 1)
    assert found.fee_per_month_fen == 500
    # 200 yuan − this month's 30-yuan plan fee = 170 yuan: 34 months, capped at 12
    assert found.months_covered == 12


def test_arrears_block_with_a_payment_remedy() -> None:
    found = check_retention(snap(arrears_fen=3800, cash_fen=0), V, TODAY)
    [b] = found.blockers
    assert b.code == "ARREARS" and b.amount_fen == 3800
    assert b.remedy is not None and b.remedy["href"] == "/api/v1/lines/13800138000/payments"
    assert found.months_covered == 0


def test_arrears_on_the_owners_other_lines_block_under_owner_scope() -> None:
    other = OwingLine("13900139000", "active", 1200)
    s = snap(other_lines_arrears_fen=1200, other_lines_owing=(other,))
    assert codes(s) == []
    owner = V.model_copy(update={"arrears_scope": "owner"})
    found = check_retention(s, owner, TODAY)
    assert [b.code for b in found.blockers] == ["ARREARS"]
    assert found.blockers[0].remedy["href"] == "/api/v1/lines/13900139000/payments"  # type: ignore[index]


def test_abnormal_states_and_states_that_cannot_be_retained() -> None:
    for state in ("lost", "fraud_stop", "judicial_freeze", "retained", "cancelled"):
        found = check_retention(snap(status=state), V, TODAY)
        [b] = found.blockers
        assert b.code == "ABNORMAL_STATE" and b.details["state"] == state
    suspended = check_retention(snap(status="arrears_suspended", arrears_fen=100), V, TODAY)
    assert [b.code for b in suspended.blockers] == ["ARREARS", "ABNORMAL_STATE"]
    assert suspended.blockers[1].remedy["action"] == "reactivate"  # type: ignore[index]
    again = check_retention(
        snap(status="retained"), V, TODAY, retention_starts_on=dt.date(2026, 11, 1)
    )
    assert "2026-11-01" in again.blockers[0].message_en


def test_a_premium_number_term_blocks_with_its_remedy() -> None:
    dated = contract("premium_number", "P-1", 13800, dt.date(2027, 6, 30))
    [b] = check_retention(snap(contracts=(dated,)), V, TODAY).blockers
    assert b.code == "RETENTION_PREMIUM_TERM"
    assert b.remedy is not None and b.remedy["action"] == "early_termination"
    assert b.remedy["penalty_fen"] == 8 * 13800  # Nov 2026 … Jun 2027
    lifetime = contract("premium_number", "P-2", 13800, None)
    [life] = check_retention(snap(contracts=(lifetime,)), V, TODAY).blockers
    assert life.details["lifetime"] is True and life.remedy["action"] == "complaint"  # type: ignore[index]
    ended = contract("premium_number", "P-3", 13800, dt.date(2026, 10, 31))
    assert codes(snap(contracts=(ended,))) == []


def test_the_first_month_after_joining_is_blocked_when_policy_says_so() -> None:
    opened = dt.date(2026, 10, 25)
    [b] = check_retention(snap(opened_on=opened), V, TODAY).blockers
    assert b.code == "RETENTION_FIRST_MONTH" and b.ends_on == dt.date(2026, 11, 25)
    assert codes(snap(opened_on=dt.date(2026, 10, 24))) == []  # a calendar month ago today
    allowed = V.model_copy(update={"retention_first_month_blocked": False})
    assert codes(snap(opened_on=opened), allowed) == []


def test_every_blocker_at_once() -> None:
    s = snap(
        status="lost",
        arrears_fen=500,
        opened_on=dt.date(2026, 11, 10),
        contracts=(contract("premium_number", "P-1", 5800, None),),
    )
    assert codes(s) == [
        "ARREARS",
        "ABNORMAL_STATE",
        "RETENTION_PREMIUM_TERM",
        "RETENTION_FIRST_MONTH",
    ]


def test_contractual_minimums_still_in_term_add_to_the_fee() -> None:
    converged = contract("converged", "CV-1", 8800, dt.date(2027, 3, 31))
    handset_min = contract("handset", "C-1", 1900, dt.date(2026, 12, 31))
    handset_plain = contract("handset", "C-2", 0)
    ends_this_month = contract("converged", "CV-2", 4000, dt.date(2026, 11, 30))
    s = snap(contracts=(converged, handset_min, handset_plain, ends_this_month), cash_fen=100000)
    found = check_retention(s, V, TODAY)
    assert found.fee_per_month_fen == 500 + 8800 + 1900
    assert [m.contract_id for m in found.minimums] == ["CV-1", "C-1"]
    assert found.months_covered == (100000 - 3000) // (500 + 8800 + 1900)


def test_months_covered_counts_usage_and_gift_as_policy_allows() -> None:
    # 20 yuan cash, 5 yuan usage, 30 yuan plan fee: this month is not even covered
    short = snap(cash_fen=2000, unbilled_usage_fen=500)
    assert check_retention(short, V, TODAY).months_covered == 0
    # 40 yuan cash + 20 yuan gift: gift pays plan fee and usage by default, not the fee
    s = snap(cash_fen=4000, gift_fen=2000, unbilled_usage_fen=500)
    assert check_retention(s, V, TODAY).months_covered == 1  # 4000 − 3500 = 500
    s = snap(cash_fen=2000, gift_fen=2000, unbilled_usage_fen=500)
    assert check_retention(s, V, TODAY).months_covered == 0  # gift pays the 15 yuan cash lacks
    gift_ok = V.model_copy(update={"gift_may_pay": ["plan_fee", "usage", "retention_fee"]})
    assert check_retention(s, gift_ok, TODAY).months_covered == 1  # 500 of gift left
    unlimited = V.model_copy(update={"retention_max_months": 0})
    assert check_retention(snap(cash_fen=100000), unlimited, TODAY).months_covered == 194


def test_a_retained_lines_view_charges_the_plan_fee_until_the_retention_starts() -> None:
    s = snap(status="retained", cash_fen=3000 + 2000)
    fee, months = retained_view(s, V, TODAY, dt.date(2026, 12, 1))
    assert (fee, months) == (500, 4)  # the plan fee of November first
    fee, months = retained_view(s, V, TODAY, dt.date(2026, 11, 1))
    assert (fee, months) == (500, 9)  # November's fee first: 5000 − 500


def test_dates() -> None:
    assert first_of_next_month(dt.date(2026, 12, 31)) == dt.date(2027, 1, 1)
    assert first_of_next_month(dt.date(2026, 1, 31)) == dt.date(2026, 2, 1)
    assert add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2026, 12, 15), 1) == dt.date(2027, 1, 15)


FEN = st.integers(min_value=0, max_value=10_000_000)


@given(
    cash=FEN,
    gift=FEN,
    due=FEN,
    gift_now=FEN,
    fee=st.integers(min_value=1, max_value=100_000),
    gift_pays_fee=st.booleans(),
    cap=st.integers(min_value=0, max_value=36),
)
def test_months_covered_arithmetic(
    cash: int, gift: int, due: int, gift_now: int, fee: int, gift_pays_fee: bool, cap: int
) -> None:
    kw: dict[str, Any] = {
        "gift_fen": gift,
        "due_now_fen": due,
        "gift_may_pay_now_fen": gift_now,
        "fee_fen": fee,
        "gift_pays_fee": gift_pays_fee,
        "max_months": cap,
    }
    months = months_covered(cash_fen=cash, **kw)
    assert months is not None and months >= 0
    if cap:
        assert months <= cap
    from_gift = min(gift, max(due - cash, 0), gift_now)
    if min(cash, due) + from_gift < due:
        assert months == 0  # this month's charges come first
        return
    left = cash - min(cash, due) + (gift - from_gift if gift_pays_fee else 0)
    assert months * fee <= left  # never promises a month the balance cannot pay
    if not cap or months < cap:
        assert left < (months + 1) * fee  # and every whole month it can pay is counted
    # more cash never covers fewer months
    more = months_covered(cash_fen=cash + fee, **kw)
    assert more is not None and more >= months


def test_no_fee_and_no_cap_is_no_limit() -> None:
    kw: dict[str, Any] = {"cash_fen": 0, "gift_fen": 0, "due_now_fen": 0, "gift_may_pay_now_fen": 0}
    assert months_covered(**kw, fee_fen=0, gift_pays_fee=False, max_months=0) is None
    assert months_covered(**kw, fee_fen=0, gift_pays_fee=False, max_months=6) == 6
