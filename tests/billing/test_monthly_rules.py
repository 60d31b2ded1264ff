"""The monthly bill's rules without a database: who gets which bill, how the balance pays it."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from xiaohu.billing.monthly_rules import (
    MonthlyKind,
    Period,
    bill_sms,
    gift_payable,
    monthly_kind,
    pay_from_balance,
)

NOV = Period.of("2026-11")


def kind(status: str, **kw: dt.date | None) -> MonthlyKind | None:
    values: dict[str, dt.date | None] = {
        "opened_on": dt.date(2020, 1, 1),
        "arrears_since": None,
        "retention_starts_on": None,
    }
    values.update(kw)
    return monthly_kind(NOV, status=status, **values)  # type: ignore[arg-type]


def test_the_period() -> None:
    assert (NOV.first, NOV.last, NOV.next_first) == (
        dt.date(2026, 11, 1),
        dt.date(2026, 11, 30),
        dt.date(2026, 12, 1),
    )
    assert NOV.due_on(15) == dt.date(2026, 12, 15)
    assert Period.of("2026-12").due_on(28) == dt.date(2027, 1, 28)


def test_who_gets_which_bill() -> None:
    assert kind("active") is MonthlyKind.CYCLE
    assert kind("active", opened_on=dt.date(2026, 12, 1)) is None
    assert kind("active", opened_on=dt.date(2026, 11, 30)) is MonthlyKind.CYCLE
    assert kind("arrears_suspended", arrears_since=dt.date(2026, 10, 31)) is None
    assert kind("arrears_suspended", arrears_since=dt.date(2026, 11, 1)) is MonthlyKind.CYCLE
    assert kind("arrears_suspended", arrears_since=dt.date(2026, 12, 3)) is MonthlyKind.CYCLE
    assert kind("arrears_suspended") is None
    assert kind("retained", retention_starts_on=dt.date(2026, 12, 1)) is MonthlyKind.CYCLE
    assert kind("retained", retention_starts_on=dt.date(2026, 11, 1)) is MonthlyKind.RETENTION
    assert kind("retained") is MonthlyKind.RETENTION
    for status in ("lost", "fraud_stop", "judicial_freeze", "cancelled"):
        assert kind(status) is None


def test_what_gift_may_pay() -> None:
    default = ["plan_fee", "usage"]
    assert gift_payable(MonthlyKind.CYCLE, gift_may_pay=default, plan_fee_fen=100,
                        usage_fen=30, retention_fee_fen=500) == 130  # fmt: skip
    assert gift_payable(MonthlyKind.CYCLE, gift_may_pay=["usage"], plan_fee_fen=100,
                        usage_fen=30, retention_fee_fen=500) == 30  # fmt: skip
    assert gift_payable(MonthlyKind.RETENTION, gift_may_pay=default, plan_fee_fen=100,
                        usage_fen=0, retention_fee_fen=500) == 0  # fmt: skip
    assert gift_payable(MonthlyKind.RETENTION, gift_may_pay=["retention_fee"], plan_fee_fen=0,
                        usage_fen=0, retention_fee_fen=500) == 500  # fmt: skip


def test_cash_first_then_gift() -> None:
    p = pay_from_balance(12900, 12900, 5000, 2000)
    assert (p.from_cash, p.from_gift, p.unpaid, p.paid) == (5000, 2000, 5900, 7000)
    p = pay_from_balance(12900, 0, -300, 99999)
    assert (p.from_cash, p.from_gift, p.unpaid) == (0, 0, 12900)


fen = st.integers(min_value=0, max_value=10**9)


@given(
    amount=fen, payable=fen, cash=st.integers(-(10**6), 10**9), gift=st.integers(-(10**6), 10**9)
)
def test_a_payment_adds_up_and_never_overdraws(
    amount: int, payable: int, cash: int, gift: int
) -> None:
    payable = min(payable, amount)
    p = pay_from_balance(amount, payable, cash, gift)
    assert p.from_cash + p.from_gift + p.unpaid == amount
    assert 0 <= p.from_cash <= max(cash, 0)
    assert 0 <= p.from_gift <= min(max(gift, 0), payable)
    assert p.unpaid >= 0
    # nothing left unpaid that the balance could have paid
    if p.unpaid:
        assert p.from_cash == max(cash, 0)
        assert p.from_gift == min(max(gift, 0), payable, amount - p.from_cash)


@given(amount=fen, paid=fen)
def test_the_sms_shows_amount_paid_owed_and_due(amount: int, paid: int) -> None:
    paid = min(paid, amount)
    text = bill_sms(NOV, amount, paid, dt.date(2026, 12, 15))
    whole, cents = divmod(amount - paid, 100)
    assert f"尚欠¥{whole}.{cents:02d}" in text and "缴费截止2026-12-15" in text
    assert text.startswith("【账单】2026年11月账单")
