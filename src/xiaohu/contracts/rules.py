"""Early-termination penalties (违约金), as pure functions of the contract terms and the policy.

Formulas (research: domain-rules §7, parameters in `policy.schema.Values`):
- handset (合约机): list price − promo price + `handset_penalty_prestore_percent`% of the gift
  prestore still to be returned (China Mobile receipt text, 30 % by default);
- premium_number (靓号): remaining months × monthly minimum; a lifetime term has no amount that
  can be paid online: the subscriber is pointed to the complaint route instead;
- converged (融合): `converged_penalty_percent`% of remaining months × monthly minimum (no
  authoritative formula was found, so the percentage is a policy value).

"Remaining months" counts calendar months from the current one to the month of the end date,
both included: a month already started is owed in full, as monthly minimums are billed by month.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xiaohu.kit.money import percent_of, yuan
from xiaohu.policy.schema import Values

if TYPE_CHECKING:
    from xiaohu.contracts.models import Contract


@dataclass(frozen=True)
class ContractTerms:
    kind: str  # handset | premium_number | converged
    starts_on: dt.date | None
    ends_on: dt.date | None  # None = lifetime (premium numbers)
    handset_list_price_fen: int = 0
    handset_promo_price_fen: int = 0
    gift_prestore_remaining_fen: int = 0
    monthly_minimum_fen: int = 0

    @property
    def lifetime(self) -> bool:
        return self.ends_on is None


@dataclass(frozen=True)
class Penalty:
    amount_fen: int | None  # None when not payable online (lifetime term)
    lifetime: bool
    remaining_months: int | None
    formula: str  # human-readable, e.g. "599900 - 299900 + 30% × 60000"


@dataclass(frozen=True)
class ComplaintRoute:
    """Where to turn when a term cannot be ended online (a lifetime premium-number minimum)."""

    first: str = "operator complaint line (10086 / 10010 / 10000) or a store; reply within 48 h"
    then: str = "MIIT 工信部 电信用户申诉 12300, yhssglxt.miit.gov.cn"
    after_days: int = 15

    def as_dict(self) -> dict[str, object]:
        return {"first": self.first, "then": self.then, "after_days": self.after_days}


COMPLAINT_ROUTE = ComplaintRoute()


def in_term(terms: ContractTerms, today: dt.date) -> bool:
    """True while the contract binds the line: started (or no start known) and not yet ended."""
    if terms.starts_on is not None and today < terms.starts_on:
        return False
    return terms.ends_on is None or today <= terms.ends_on


def remaining_months(ends_on: dt.date, today: dt.date) -> int:
    """Calendar months from today's month to the end date's month, both counted; 0 once ended."""
    if today > ends_on:
        return 0
    return (ends_on.year - today.year) * 12 + ends_on.month - today.month + 1


def penalty(terms: ContractTerms, today: dt.date, values: Values) -> Penalty:
    """The penalty owed to end `terms` early on `today`; 0 when the contract is not in term."""
    if terms.kind == "handset":
        months = remaining_months(terms.ends_on, today) if terms.ends_on else None
        if not in_term(terms, today):
            return Penalty(0, False, months, "not in term")
        pct = values.handset_penalty_prestore_percent
        diff = max(terms.handset_list_price_fen - terms.handset_promo_price_fen, 0)
        prestore = max(terms.gift_prestore_remaining_fen, 0)
        amount = diff + percent_of(prestore, pct)
        formula = (
            f"{terms.handset_list_price_fen} - {terms.handset_promo_price_fen}"
            f" + {pct}% × {prestore}"
        )
        return Penalty(amount, False, months, formula)
    if terms.kind == "premium_number":
        if terms.ends_on is None:
            if terms.starts_on is not None and today < terms.starts_on:
                return Penalty(0, True, None, "not in term")
            return Penalty(None, True, None, "lifetime minimum spend: not payable online")
        months = remaining_months(terms.ends_on, today)
        if not in_term(terms, today):
            return Penalty(0, False, months, "not in term")
        minimum = max(terms.monthly_minimum_fen, 0)
        return Penalty(months * minimum, False, months, f"{months} × {minimum}")
    if terms.kind == "converged":
        months = remaining_months(terms.ends_on, today) if terms.ends_on else None
        if not in_term(terms, today) or months is None:
            return Penalty(0, False, months, "not in term")
        pct = values.converged_penalty_percent
        minimum = max(terms.monthly_minimum_fen, 0)
        amount = percent_of(months * minimum, pct)
        return Penalty(amount, False, months, f"{pct}% × {months} × {minimum}")
    raise ValueError(f"unknown contract kind: {terms.kind}")


def describe(p: Penalty) -> str:
    """One line for SMS and pages: '¥3,180.00 (599900 - 299900 + 30% × 60000)'."""
    if p.amount_fen is None:
        return f"lifetime term, not payable online ({p.formula})"
    return f"{yuan(p.amount_fen)} ({p.formula})"


def terms_of(contract: Contract) -> ContractTerms:
    """The rule-facing snapshot of an ORM contract row (reads attributes only)."""
    return ContractTerms(
        kind=contract.kind,
        starts_on=contract.starts_on,
        ends_on=contract.ends_on,
        handset_list_price_fen=contract.handset_list_price_fen or 0,
        handset_promo_price_fen=contract.handset_promo_price_fen or 0,
        gift_prestore_remaining_fen=contract.gift_prestore_remaining_fen or 0,
        monthly_minimum_fen=contract.monthly_minimum_fen or 0,
    )


# --- where a penalty is paid from ----------------------------------------------------------

# How a penalty is paid (`pay_with`):
# - "auto" (the default): from the balances only when what they hold beyond the final bill's
#   needs covers the whole penalty, otherwise by a payment of its own. Why: cash paid for
#   arrears stays on the line for the final bill; a penalty that quietly took it would bring
#   the ARREARS blocker back.
# - "balance": the balances only (gift where policy allows, then cash), even if the final bill
#   then needs a payment; INSUFFICIENT_FUNDS when they fall short.
# - "balance_first": the balances first and the shortfall by a payment (the default before
#   "auto").
# - "payment": the whole penalty by a payment.
PAY_WITH = ("auto", "balance", "balance_first", "payment")


@dataclass(frozen=True)
class PenaltySplit:
    from_gift: int
    from_cash: int
    from_payment: int

    @property
    def source(self) -> str:
        """'balance', 'payment' or 'mixed': what a confirmation screen names."""
        if not self.from_payment:
            return "balance"
        return "payment" if not (self.from_gift or self.from_cash) else "mixed"


def split_penalty(
    amount_fen: int,
    *,
    pay_with: str,
    cash_fen: int,
    gift_fen: int,
    gift_ok: bool,
    spare_cash_fen: int,
    spare_gift_fen: int,
) -> PenaltySplit:
    """Where a penalty of `amount_fen` comes from. `spare_*`: what the balances hold beyond
    what the final bill and the line's unpaid bills need (the caller prices them)."""
    cash, gift = max(cash_fen, 0), max(gift_fen, 0) if gift_ok else 0
    if pay_with == "payment":
        return PenaltySplit(0, 0, amount_fen)
    if pay_with == "auto":
        spare_gift = min(max(spare_gift_fen, 0), gift)
        spare_cash = min(max(spare_cash_fen, 0), cash)
        if spare_gift + spare_cash < amount_fen:
            return PenaltySplit(0, 0, amount_fen)
        from_gift = min(spare_gift, amount_fen)
        return PenaltySplit(from_gift, amount_fen - from_gift, 0)
    from_gift = min(gift, amount_fen)
    from_cash = min(cash, amount_fen - from_gift)
    return PenaltySplit(from_gift, from_cash, amount_fen - from_gift - from_cash)
