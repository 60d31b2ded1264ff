"""The final bill at cancellation, the late-usage reserve and the true-up: pure arithmetic.

Why it is shaped this way (DOMAIN.md "Money"): the subscriber's cash is their money and must
come back at once; gift credit was a promotion and only pays what the policy lets it pay; a
small reserve is held for usage that is rated late (roaming), and the true-up at cycle close
pays back whatever the late usage did not use. Every amount is int fen and the parts always add
up to the fen:

    cash = charges_from_cash + refund_now + reserve      (when nothing is owed)
    gift = gift_applied + forfeited
    charges = gift_applied + charges_from_cash
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from xiaohu.kit.errors import InvariantViolated
from xiaohu.kit.money import div_half_up
from xiaohu.policy.schema import Values


class BillStatus(StrEnum):
    UNPAID = "unpaid"
    PAID = "paid"
    VOID = "void"  # a final bill a reversal took back
    WRITTEN_OFF = "written_off"  # bad debt of an automatic cancellation (policy auto_cancel_debt)


class BillKind(StrEnum):
    CYCLE = "cycle"  # the monthly bill: plan fee and the period's usage
    RETENTION = "retention"  # a retained line's month: retention fee and contract minimums
    FINAL = "final"
    LATE_USAGE = "late_usage"  # late usage of a closed account (the true-up)


class RefundKind(StrEnum):
    NOW = "now"  # at cancellation
    TRUE_UP = "true_up"  # at the cycle's close


class RefundStatus(StrEnum):
    PENDING = "pending"  # owed: the payout is on its way
    PAID = "paid"  # the gateway confirmed it, or a transfer to another line
    FAILED = "failed"  # the payout gave up: `xiaohu refunds retry`


class RefundRouteKind(StrEnum):
    ORIGINAL = "original"  # back the way the money came (the line's payment route)
    BANK_CARD = "bank_card"
    TRANSFER = "transfer"  # to another active line of the same owner
    CASH = "cash"  # handed over from a store's drawer at the counter (store channel only)


@dataclass(frozen=True)
class RefundRoute:
    """Where a refund goes. Stored as JSON on the cancellation and the refund (`as_dict`), in
    a shape per kind: transfer {to_msisdn, to_line_id}, bank card {account (masked)}, original
    {method, account} or, for a transfer whose line has since gone, {method, fallback_from};
    cash {store_code} (the drawer it was paid from)."""

    kind: RefundRouteKind
    to_msisdn: str | None = None
    to_line_id: int | None = None
    account: str | None = None
    method: str | None = None
    fallback_from: str | None = None
    store_code: str | None = None

    @property
    def is_transfer(self) -> bool:
        return self.kind is RefundRouteKind.TRANSFER

    @property
    def is_cash(self) -> bool:
        return self.kind is RefundRouteKind.CASH

    @property
    def paid_at_once(self) -> bool:
        """Paid when the cancellation commits (no payout to wait for): a transfer to another
        line, or cash from the drawer."""
        return self.is_transfer or self.is_cash

    def as_dict(self) -> dict[str, object]:
        kind = str(self.kind)
        if self.kind is RefundRouteKind.TRANSFER:
            return {"kind": kind, "to_msisdn": self.to_msisdn, "to_line_id": self.to_line_id}
        if self.kind is RefundRouteKind.BANK_CARD:
            return {"kind": kind, "account": self.account}
        if self.kind is RefundRouteKind.CASH:
            return {"kind": kind, "store_code": self.store_code}
        if self.fallback_from is not None:
            return {"kind": kind, "method": self.method, "fallback_from": self.fallback_from}
        return {"kind": kind, "method": self.method, "account": self.account}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> RefundRoute:
        def text(key: str) -> str | None:
            value = data.get(key)
            return None if value is None else str(value)

        line_id = data.get("to_line_id")
        return cls(
            kind=RefundRouteKind(str(data["kind"])),
            to_msisdn=text("to_msisdn"),
            to_line_id=line_id if isinstance(line_id, int) else None,
            account=text("account"),
            method=text("method"),
            fallback_from=text("fallback_from"),
            store_code=text("store_code"),
        )


# What a charge is, for the policy's `gift_may_pay` list.
CATEGORIES = ("plan_fee", "usage", "retention_fee", "penalty")


@dataclass(frozen=True)
class Charge:
    item: str  # the name shown on the quote: plan_fee_prorated, usage_unbilled, ...
    amount_fen: int
    category: str  # one of CATEGORIES

    def as_dict(self) -> dict[str, object]:
        return {"item": self.item, "amount_fen": self.amount_fen}


@dataclass(frozen=True)
class FinalBill:
    charges: tuple[Charge, ...]
    cash_balance_fen: int
    gift_balance_fen: int
    charges_fen: int
    penalties_fen: int
    gift_applied_fen: int
    forfeited_fen: int
    charges_from_cash_fen: int
    refund_fen: int  # cash left after the charges (0 when they exceed the cash)
    shortfall_fen: int  # charges the cash cannot pay: arrears that block the cancellation
    reserve_fen: int
    refund_now_fen: int


def days_in_month(day: dt.date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def plan_fee_charge(
    monthly_fee_fen: int, today: dt.date, opened_on: dt.date | None, method: str
) -> Charge:
    """The plan fee of the current cycle. `prorate`: days used, today included, over the days
    of the month (from the opening day when the line opened this month), half-up to the fen.
    `full_month`: the whole month."""
    fee = max(monthly_fee_fen, 0)
    if method == "full_month":
        return Charge("plan_fee_full_month", fee, "plan_fee")
    first = today.replace(day=1)
    start = opened_on if opened_on is not None and first <= opened_on <= today else first
    used = (today - start).days + 1
    return Charge("plan_fee_prorated", div_half_up(fee * used, days_in_month(today)), "plan_fee")


def final_charges(
    *,
    status: str,
    plan_fee_fen: int,
    today: dt.date,
    opened_on: dt.date | None,
    unbilled_usage_fen: int,
    values: Values,
    penalties: Iterable[Charge] = (),
) -> list[Charge]:
    """Every item of the final bill, zero items left out. A retained line (停机保号) owes this
    month's retention fee instead of the plan fee."""
    items: list[Charge] = []
    if status == "retained":
        items.append(Charge("retention_fee", values.retention_fee_fen, "retention_fee"))
    else:
        items.append(
            plan_fee_charge(plan_fee_fen, today, opened_on, values.plan_fee_at_cancellation)
        )
    items.append(Charge("usage_unbilled", max(unbilled_usage_fen, 0), "usage"))
    items.extend(penalties)
    return [c for c in items if c.amount_fen > 0]


def gift_payable(charges: Iterable[Charge], gift_may_pay: Sequence[str]) -> int:
    return sum(c.amount_fen for c in charges if c.category in gift_may_pay)


def reserve(history_fen: Sequence[int], values: Values, refund_fen: int) -> int:
    """Held back for late usage: the average of the most recent `reserve_history_cycles`
    cycles (history is most recent first), capped by policy and never more than the refund."""
    if values.reserve_method == "none" or refund_fen <= 0:
        return 0
    recent = [max(h, 0) for h in history_fen[: values.reserve_history_cycles]]
    average = div_half_up(sum(recent), len(recent)) if recent else 0
    return max(0, min(average, values.reserve_cap_fen, refund_fen))


def final_bill(
    charges: Sequence[Charge],
    *,
    cash_fen: int,
    gift_fen: int,
    history_fen: Sequence[int],
    values: Values,
) -> FinalBill:
    """Gift pays the items it may pay, the rest of the gift is forfeited; cash pays the rest;
    what cash is left is refunded, now, less the reserve."""
    cash, gift = max(cash_fen, 0), max(gift_fen, 0)
    total = sum(c.amount_fen for c in charges)
    gift_applied = min(gift, gift_payable(charges, values.gift_may_pay))
    from_cash = total - gift_applied
    refund = max(cash - from_cash, 0)
    held = reserve(history_fen, values, refund)
    return FinalBill(
        charges=tuple(charges),
        cash_balance_fen=cash,
        gift_balance_fen=gift,
        charges_fen=total,
        penalties_fen=sum(c.amount_fen for c in charges if c.category == "penalty"),
        gift_applied_fen=gift_applied,
        forfeited_fen=gift - gift_applied,
        charges_from_cash_fen=from_cash,
        refund_fen=refund,
        shortfall_fen=max(from_cash - cash, 0),
        reserve_fen=held,
        refund_now_fen=refund - held,
    )


@dataclass(frozen=True)
class TrueUp:
    late_usage_fen: int
    paid_from_cash_fen: int  # late usage paid from the cash still held (the reserve)
    refund_fen: int  # paid back automatically
    shortfall_fen: int  # late usage the cash could not pay: arrears of the closed account


def true_up(cash_held_fen: int, late_usage_fen: int) -> TrueUp:
    """At cycle close: late usage is paid from the cash still held; the rest is refunded, or
    the part the cash cannot pay becomes a receivable of the closed account."""
    cash, late = max(cash_held_fen, 0), max(late_usage_fen, 0)
    paid = min(cash, late)
    return TrueUp(late, paid, cash - paid, late - paid)


def require_adds_up(cash_fen: int, gift_fen: int, bill: FinalBill) -> None:
    """The final bill spends exactly what the line holds: its cash pays the charges, the refund
    now and the reserve; its gift is applied or forfeited. Anything else would make or lose
    money, so it is an invariant raised as such (an `assert` would vanish under `python -O`)."""
    spent_cash = bill.charges_from_cash_fen + bill.refund_now_fen + bill.reserve_fen
    if cash_fen != spent_cash:
        raise InvariantViolated(f"the quote does not add up: cash {cash_fen} != {spent_cash}")
    if gift_fen != bill.gift_applied_fen + bill.forfeited_fen:
        raise InvariantViolated(
            f"the quote does not add up: gift {gift_fen} != "
            f"{bill.gift_applied_fen} applied + {bill.forfeited_fen} forfeited"
        )
