"""Penalty formulas: pure, no database."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from xiaohu.contracts.rules import (
    ContractTerms,
    describe,
    in_term,
    penalty,
    remaining_months,
)
from xiaohu.policy.schema import Values

TODAY = dt.date(2026, 11, 24)
V = Values()

fen = st.integers(min_value=0, max_value=10_000_000)
days = st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2035, 12, 31))


def handset(**kw: object) -> ContractTerms:
    values: dict[str, object] = {
        "kind": "handset",
        "starts_on": dt.date(2025, 6, 1),
        "ends_on": dt.date(2027, 5, 31),
        "handset_list_price_fen": 599900,
        "handset_promo_price_fen": 299900,
        "gift_prestore_remaining_fen": 60000,
    }
    values.update(kw)
    return ContractTerms(**values)  # type: ignore[arg-type]


def test_handset_penalty_is_price_difference_plus_30_percent_of_prestore() -> None:
    p = penalty(handset(), TODAY, V)
    assert p.amount_fen == 300000 + 18000
    assert p.formula == "599900 - 299900 + 30% × 60000"
    assert p.lifetime is False
    assert p.remaining_months == 7


def test_handset_percent_comes_from_policy_and_rounds_half_up() -> None:
    p = penalty(
        handset(gift_prestore_remaining_fen=5), TODAY, Values(handset_penalty_prestore_percent=50)
    )
    assert p.amount_fen == 300000 + 3  # 2.5 -> 3


def test_handset_out_of_term_costs_nothing() -> None:
    assert penalty(handset(ends_on=dt.date(2026, 11, 23)), TODAY, V).amount_fen == 0
    assert penalty(handset(starts_on=dt.date(2026, 12, 1)), TODAY, V).amount_fen == 0


def test_premium_number_is_months_times_minimum() -> None:
    t = ContractTerms(
        "premium_number", dt.date(2024, 1, 1), dt.date(2027, 1, 15), monthly_minimum_fen=13800
    )
    p = penalty(t, TODAY, V)
    assert p.remaining_months == 3  # Nov (started), Dec, Jan
    assert p.amount_fen == 3 * 13800


def test_premium_lifetime_is_not_payable_online() -> None:
    t = ContractTerms("premium_number", dt.date(2020, 1, 1), None, monthly_minimum_fen=15000)
    p = penalty(t, TODAY, V)
    assert p.amount_fen is None and p.lifetime
    assert "not payable online" in describe(p)


def test_converged_is_percent_of_remaining_minimums() -> None:
    t = ContractTerms(
        "converged", dt.date(2026, 1, 1), dt.date(2027, 12, 31), monthly_minimum_fen=12900
    )
    p = penalty(t, TODAY, V)
    assert p.remaining_months == 14
    assert p.amount_fen == (14 * 12900 * 30 + 50) // 100


def test_in_term_bounds_are_inclusive() -> None:
    t = handset(starts_on=TODAY, ends_on=TODAY)
    assert in_term(t, TODAY)
    assert not in_term(t, TODAY + dt.timedelta(days=1))
    assert not in_term(t, TODAY - dt.timedelta(days=1))
    assert in_term(ContractTerms("premium_number", None, None), TODAY)


def test_remaining_months_examples() -> None:
    assert remaining_months(dt.date(2026, 11, 30), TODAY) == 1
    assert remaining_months(dt.date(2026, 12, 1), TODAY) == 2
    assert remaining_months(dt.date(2026, 11, 23), TODAY) == 0
    assert remaining_months(dt.date(2027, 11, 24), TODAY) == 13


def test_unknown_kind_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="unknown contract kind"):
        penalty(ContractTerms("gym", None, None), TODAY, V)


@given(today=days, ends=days)
def test_remaining_months_never_negative_and_zero_only_after_end(
    today: dt.date, ends: dt.date
) -> None:
    m = remaining_months(ends, today)
    assert m >= 0
    assert (m == 0) == (today > ends)


@given(
    kind=st.sampled_from(["handset", "premium_number", "converged"]),
    start=days,
    ends=st.one_of(st.none(), days),
    today=days,
    a=fen,
    b=fen,
    c=fen,
    d=fen,
    pct=st.integers(0, 100),
)
def test_penalty_never_negative(
    kind: str,
    start: dt.date,
    ends: dt.date | None,
    today: dt.date,
    a: int,
    b: int,
    c: int,
    d: int,
    pct: int,
) -> None:
    t = ContractTerms(kind, start, ends, a, b, c, d)
    p = penalty(
        t, today, Values(handset_penalty_prestore_percent=pct, converged_penalty_percent=pct)
    )
    assert p.amount_fen is None or p.amount_fen >= 0
    assert (p.amount_fen is None) == (kind == "premium_number" and ends is None and today >= start)


@given(low=fen, extra=fen, pct=st.integers(0, 100))
def test_handset_penalty_is_monotone_in_prestore(low: int, extra: int, pct: int) -> None:
    v = Values(handset_penalty_prestore_percent=pct)
    p1 = penalty(handset(gift_prestore_remaining_fen=low), TODAY, v).amount_fen
    p2 = penalty(handset(gift_prestore_remaining_fen=low + extra), TODAY, v).amount_fen
    assert p1 is not None and p2 is not None and p1 <= p2


@given(minimum=fen, ends=st.dates(min_value=TODAY, max_value=dt.date(2040, 1, 1)))
def test_premium_is_exactly_months_times_minimum(minimum: int, ends: dt.date) -> None:
    t = ContractTerms("premium_number", dt.date(2020, 1, 1), ends, monthly_minimum_fen=minimum)
    p = penalty(t, TODAY, V)
    assert p.amount_fen == remaining_months(ends, TODAY) * minimum


def test_split_penalty_auto_uses_only_what_the_balances_can_spare() -> None:
    from xiaohu.contracts.rules import split_penalty

    common = {"cash_fen": 5000, "gift_fen": 1000, "gift_ok": True}
    short = split_penalty(3000, pay_with="auto", spare_cash_fen=1500, spare_gift_fen=1000, **common)
    assert (short.from_gift, short.from_cash, short.from_payment) == (0, 0, 3000)
    assert short.source == "payment"
    ok = split_penalty(2000, pay_with="auto", spare_cash_fen=1500, spare_gift_fen=1000, **common)
    assert (ok.from_gift, ok.from_cash, ok.from_payment) == (1000, 1000, 0)
    first = split_penalty(
        7000, pay_with="balance_first", spare_cash_fen=0, spare_gift_fen=0, **common
    )
    assert (first.from_gift, first.from_cash, first.from_payment) == (1000, 5000, 1000)
    assert first.source == "mixed"
    paid = split_penalty(10, pay_with="payment", spare_cash_fen=9, spare_gift_fen=9, **common)
    assert (paid.from_cash, paid.from_payment) == (0, 10)
