"""The chart of accounts and the balance rule, without a database."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from xiaohu.kit.bounds import is_digits
from xiaohu.kit.errors import InvariantViolated


@dataclass(frozen=True)
class Posting:
    """One leg of a journal transaction. Exactly one of debit/credit is positive."""

    account: str
    debit_fen: int = 0
    credit_fen: int = 0
    line_id: int | None = None


def debit(account: str, amount: int, line_id: int | None = None) -> Posting:
    return Posting(account, debit_fen=amount, line_id=line_id)


def credit(account: str, amount: int, line_id: int | None = None) -> Posting:
    return Posting(account, credit_fen=amount, line_id=line_id)


class UnbalancedTransaction(InvariantViolated, ValueError):
    """Debits and credits differ, or a leg is malformed: nothing is written."""


def check_balanced(postings: Iterable[Posting]) -> list[Posting]:
    """Drop zero legs and insist debits equal credits; money never appears or vanishes."""
    legs = [p for p in postings if p.debit_fen or p.credit_fen]
    for p in legs:
        if not isinstance(p.debit_fen, int) or not isinstance(p.credit_fen, int):
            raise UnbalancedTransaction(f"{p.account}: amounts must be int fen")
        if p.debit_fen < 0 or p.credit_fen < 0 or (p.debit_fen and p.credit_fen):
            raise UnbalancedTransaction(f"{p.account}: a leg is a debit or a credit, >= 0")
    debits = sum(p.debit_fen for p in legs)
    credits = sum(p.credit_fen for p in legs)
    if debits != credits:
        raise UnbalancedTransaction(f"debits {debits} != credits {credits}")
    return legs


# Account code templates. `{p}` is a province code.
ACCOUNTS: dict[str, tuple[str, str]] = {
    "subscriber_cash:{p}": ("liability", "Subscriber cash balances (refundable)"),
    "subscriber_gift:{p}": ("liability", "Subscriber gift credit (promotional)"),
    "receivables:{p}": ("asset", "Billed, unpaid subscriber charges"),
    "revenue:{p}": ("revenue", "Service revenue: plan fees, usage, penalties"),
    "gift_promotion:{p}": ("expense", "Gift credit granted by promotions"),
    "gift_forfeited:{p}": ("revenue", "Gift credit forfeited at cancellation"),
    "opening_balances:{p}": ("equity", "Balances carried over from the previous system"),
    "store_cash:{p}": ("asset", "Store cash drawers"),
    "refunds_payable:{p}": ("liability", "Refunds owed, not yet confirmed paid out"),
}
# Provincial accounts added after the first migration seeded the chart: created on first use.
LATER_ACCOUNTS: dict[str, tuple[str, str]] = {
    "settlement_bank:{p}": ("asset", "Inter-province settlement: transfers to make or receive"),
    "bad_debt:{p}": ("expense", "Debts written off at an automatic cancellation (policy)"),
}
GATEWAY_CLEARING = "gateway_clearing"  # the one national account: money in transit
NATIONAL_ACCOUNTS: dict[str, tuple[str, str]] = {
    GATEWAY_CLEARING: ("asset", "Payment gateway clearing (money in transit)"),
}
# One account per store rather than per province (`store_drawer:<store code>`): each drawer
# is counted at the end of the day on its own. Created on first use.
STORE_DRAWER = "store_drawer"


def store_drawer(store_code: str) -> str:
    """A store's cash drawer (an asset of the store's province: cash held at the counter)."""
    return f"{STORE_DRAWER}:{store_code}"


# What one province owes another, held in both books (`interprovince.dues`): `due_to:P:H` is a
# liability of P (the debtor), `due_from:H:P` the matching asset of H (the creditor); the first
# province code is always the book's own. Created on first use, like the drawers.
DUE_TO = "due_to"
DUE_FROM = "due_from"


def due_to(debtor: str, creditor: str) -> str:
    """The debtor's liability account: what `debtor` owes `creditor`, in the debtor's books."""
    return f"{DUE_TO}:{debtor}:{creditor}"


def due_from(creditor: str, debtor: str) -> str:
    """The creditor's asset account: what `debtor` owes `creditor`, in the creditor's books."""
    return f"{DUE_FROM}:{creditor}:{debtor}"


def _is_province(code: str) -> bool:
    return len(code) == 2 and is_digits(code)


def account_code(template: str, province_code: str) -> str:
    return template.replace("{p}", province_code)


def account_type(code: str) -> tuple[str, str, str | None]:
    """(type, name, province) of an account code; raises for an unknown code."""
    if code in NATIONAL_ACCOUNTS:
        kind, name = NATIONAL_ACCOUNTS[code]
        return kind, name, None
    head, _, rest = code.partition(":")
    if head in (DUE_TO, DUE_FROM):
        own, _, other = rest.partition(":")
        if _is_province(own) and _is_province(other) and own != other:
            if head == DUE_TO:
                return "liability", f"Due to province {other} [{own}]", own
            return "asset", f"Due from province {other} [{own}]", own
        raise KeyError(f"unknown ledger account {code!r}")
    stem, _, province = code.rpartition(":")
    if stem == STORE_DRAWER and province:
        # Store codes begin with their province (44-GZ-0001); none other is assumed.
        home = province[:2] if is_digits(province[:2]) and province[2:3] in ("-", "") else None
        return "asset", f"Store cash drawer [{province}]", home
    template = f"{stem}:{{p}}"
    chart = ACCOUNTS if template in ACCOUNTS else LATER_ACCOUNTS
    if template in chart and _is_province(province):
        kind, name = chart[template]
        return kind, f"{name} [{province}]", province
    raise KeyError(f"unknown ledger account {code!r}")
