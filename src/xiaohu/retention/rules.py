"""Retention (停机保号): who may keep a number cheaply, what a month costs, how long the balance
lasts. Pure: a line's snapshot (the cancellation check's, `cancellation.snapshot`) and the
province's policy go in; blockers and money come out.

Rules (DOMAIN.md "Retention", research domain-rules §4.1 and §13.10):
- Blockers, every one that applies, in the cancellation check's shape (code, zh/en messages,
  remedy where there is one): `ARREARS` (anything billed and unpaid, over the province's
  `arrears_scope`); `ABNORMAL_STATE` (lost, fraud stop, judicial freeze, and a line that is
  already retained, arrears-suspended or cancelled: `details.state` names which; one code for
  "not in a state to be retained" keeps the contract's four codes); `RETENTION_PREMIUM_TERM`
  (a premium-number minimum spend in force: Unicom's 王卡 agreement forbids it);
  `RETENTION_FIRST_MONTH` (opened less than a calendar month ago, when policy blocks it).
- The month's fee: the policy's retention fee plus the monthly minimum of every contract that
  keeps being charged ("停机期间原有协议消费正常收取", China Mobile Shandong): each active
  contract in term on the first retained day with a monthly minimum, of any kind (a converged
  plan's, a handset contract's minimum spend; a premium number's blocks retention, but one in
  force on a line already retained is charged too). Handset contracts without a minimum add 0.
- The plan fee stops from the next cycle: `starts_on` is the first day of next month; the
  current month is charged in full (the suspension month).
- `months_covered`: whole months the balance left after this month's charges pays at the
  monthly fee, capped by `retention_max_months` (0: no cap). Cash pays first, then gift credit
  where policy lets it (`gift_may_pay`: "plan_fee"/"usage" for this month's charges,
  "retention_fee" for the retention months), as the monthly bills are paid.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from xiaohu.cancellation.rules import (
    ABNORMAL_STATES,
    LineSnapshot,
    Notice,
    SnapshotContract,
    arrears_blockers,
    price,
)
from xiaohu.contracts.rules import COMPLAINT_ROUTE, in_term, penalty
from xiaohu.kit.money import yuan
from xiaohu.policy.schema import Values

# States a line cannot be retained from, beyond the abnormal ones: with their names.
NOT_RETAINABLE = {
    **ABNORMAL_STATES,
    "retained": "停机保号",
    "arrears_suspended": "欠费停机",
    "cancelled": "已销户",
}
SUSPENDED_STATES = ("retained", "arrears_suspended")  # what a reactivation brings back


def first_of_next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` calendar months later, clamped to the month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


@dataclass(frozen=True)
class Minimum:
    """A contract's monthly minimum that keeps being charged while the line is retained."""

    contract_id: str
    kind: str
    amount_fen: int

    def as_dict(self) -> dict[str, Any]:
        return {"contract_id": self.contract_id, "kind": self.kind, "amount_fen": self.amount_fen}


def contractual_minimums(contracts: tuple[SnapshotContract, ...], day: dt.date) -> list[Minimum]:
    """Every active contract in term on `day` with a monthly minimum (any kind)."""
    return [
        Minimum(c.ref, c.terms.kind, c.terms.monthly_minimum_fen)
        for c in contracts
        if c.status == "active" and in_term(c.terms, day) and c.terms.monthly_minimum_fen > 0
    ]


def fee_per_month(values: Values, minimums: list[Minimum]) -> int:
    return max(values.retention_fee_fen, 0) + sum(m.amount_fen for m in minimums)


def months_covered(
    *,
    cash_fen: int,
    gift_fen: int,
    due_now_fen: int,
    gift_may_pay_now_fen: int,
    fee_fen: int,
    gift_pays_fee: bool,
    max_months: int,
) -> int | None:
    """Whole months of `fee_fen` the balance pays after `due_now_fen` (owed and this month's
    charges), cash first, then gift for up to `gift_may_pay_now_fen` of them; the gift left
    counts for the fee when `gift_pays_fee`. Capped by `max_months` (0: no cap). A fee of 0
    with no cap: None (no limit)."""
    cash, gift, due = max(cash_fen, 0), max(gift_fen, 0), max(due_now_fen, 0)
    from_cash = min(cash, due)
    from_gift = min(gift, due - from_cash, max(gift_may_pay_now_fen, 0))
    if from_cash + from_gift < due:  # this month's charges are not covered: no month is
        return 0
    spendable = cash - from_cash + (gift - from_gift if gift_pays_fee else 0)
    if fee_fen <= 0:
        return max_months if max_months > 0 else None
    months = spendable // fee_fen
    return min(months, max_months) if max_months > 0 else months


@dataclass(frozen=True)
class RetentionCheck:
    blockers: list[Notice]
    fee_per_month_fen: int
    starts_on: dt.date
    months_covered: int | None
    minimums: list[Minimum]

    @property
    def eligible(self) -> bool:
        return not self.blockers


def _line_href(msisdn: str, tail: str) -> str:
    return f"/api/v1/lines/{msisdn}/{tail}"


def _state_blocker(snap: LineSnapshot, retention_starts_on: dt.date | None) -> Notice | None:
    state = snap.status
    if state not in NOT_RETAINABLE:
        return None
    name = NOT_RETAINABLE[state]
    details: dict[str, Any] = {"state": state}
    if state == "retained":
        since = f"（自{retention_starts_on}起计停机保号费）" if retention_starts_on else ""
        since_en = f" (the fee runs from {retention_starts_on})" if retention_starts_on else ""
        return Notice(
            "ABNORMAL_STATE",
            f"号码已办理停机保号{since}，无需重复办理。",
            f"The line is already retained{since_en}; nothing more to do.",
            details=details,
        )
    if state == "arrears_suspended":
        return Notice(
            "ABNORMAL_STATE",
            "号码已欠费停机：请先缴清欠费复机，再办理停机保号。",
            "The line is suspended for arrears: pay what is owed to reactivate it, then apply.",
            details=details,
            remedy={
                "action": "reactivate",
                "method": "POST",
                "href": _line_href(snap.msisdn, "reactivation"),
            },
        )
    if state == "cancelled":
        return Notice(
            "ABNORMAL_STATE",
            "号码已销户，不能办理停机保号。",
            "The number is cancelled and cannot be retained.",
            details=details,
        )
    return Notice(
        "ABNORMAL_STATE",
        f"号码处于{name}状态，需本人持证件到营业厅办理。",
        f"The line is in state {state}; the owner must visit a store with the ID.",
        details=details,
        remedy={
            "action": "visit_store",
            "method": None,
            "href": None,
            "bring": ["owner's ID document (original)"],
            "why": state,
        },
    )


def _premium_blockers(snap: LineSnapshot, values: Values, today: dt.date) -> list[Notice]:
    out = []
    for c in snap.contracts:
        if c.status != "active" or c.terms.kind != "premium_number" or not in_term(c.terms, today):
            continue
        details: dict[str, Any] = {"contract_id": c.ref, "lifetime": c.terms.lifetime}
        if c.terms.ends_on is None:
            out.append(
                Notice(
                    "RETENTION_PREMIUM_TERM",
                    "靓号终身最低消费协议期内不能办理停机保号。",
                    "A lifetime premium-number minimum spend is in force: the line cannot be "
                    "retained.",
                    details=details,
                    remedy={
                        "action": "complaint",
                        "method": None,
                        "href": None,
                        "route": COMPLAINT_ROUTE.as_dict(),
                    },
                )
            )
            continue
        amount = penalty(c.terms, today, values).amount_fen or 0
        href = _line_href(snap.msisdn, f"contracts/{c.ref}/early-termination")
        out.append(
            Notice(
                "RETENTION_PREMIUM_TERM",
                f"靓号最低消费协议至{c.terms.ends_on}，协议期内不能办理停机保号；"
                f"可支付{yuan(amount)}提前解约，或等协议到期。",
                f"A premium-number minimum spend runs until {c.terms.ends_on}: no retention "
                f"during it; end it early for {yuan(amount)}, or wait.",
                amount_fen=amount,
                ends_on=c.terms.ends_on,
                details=details,
                remedy={
                    "action": "early_termination",
                    "method": "POST",
                    "href": href,
                    "penalty_fen": amount,
                },
            )
        )
    return out


def _first_month_blocker(snap: LineSnapshot, values: Values, today: dt.date) -> Notice | None:
    if not values.retention_first_month_blocked or snap.opened_on is None:
        return None
    allowed_from = add_months(snap.opened_on, 1)
    if today >= allowed_from:
        return None
    return Notice(
        "RETENTION_FIRST_MONTH",
        f"入网（{snap.opened_on}）未满一个月不能办理停机保号，{allowed_from}起可办理。",
        f"The line opened on {snap.opened_on}, less than a month ago: retention is possible "
        f"from {allowed_from}.",
        ends_on=allowed_from,
        details={"opened_on": snap.opened_on.isoformat()},
        remedy={"action": "wait", "method": None, "href": None, "until": allowed_from.isoformat()},
    )


def due_this_month(snap: LineSnapshot, values: Values, charge_fen: int) -> tuple[int, int]:
    """What the balance pays before any retention month: the line's unpaid bills, this month's
    unbilled charge (`charge_fen`: the plan fee, or a retained month's fee) and the unbilled
    usage; and how much of it gift credit may pay (policy)."""
    due = max(snap.arrears_fen, 0) + max(charge_fen, 0) + max(snap.unbilled_usage_fen, 0)
    gift_part = (charge_fen if "plan_fee" in values.gift_may_pay else 0) + (
        snap.unbilled_usage_fen if "usage" in values.gift_may_pay else 0
    )
    return due, max(gift_part, 0)


def coverage(
    snap: LineSnapshot, values: Values, *, fee_fen: int, charge_now_fen: int
) -> int | None:
    """`months_covered` for this line: its balances after this month's charges."""
    due, gift_now = due_this_month(snap, values, charge_now_fen)
    return months_covered(
        cash_fen=snap.cash_fen,
        gift_fen=snap.gift_fen,
        due_now_fen=due,
        gift_may_pay_now_fen=gift_now,
        fee_fen=fee_fen,
        gift_pays_fee="retention_fee" in values.gift_may_pay,
        max_months=values.retention_max_months,
    )


def check_retention(
    snap: LineSnapshot,
    values: Values,
    today: dt.date,
    *,
    retention_starts_on: dt.date | None = None,
) -> RetentionCheck:
    """Every blocker, the monthly fee from next month, and the months the balance covers.
    `retention_starts_on`: the line's own, when it is already retained (for the message)."""
    blockers: list[Notice] = []
    # Anything billed and unpaid: the cancellation's ARREARS blockers (per line, with the
    # payment remedy), without its final-bill shortfall, which retention does not have.
    no_final_bill = replace(price(snap, values, today), shortfall_fen=0)
    blockers.extend(arrears_blockers(snap, values, no_final_bill))
    state = _state_blocker(snap, retention_starts_on)
    if state is not None:
        blockers.append(state)
    blockers.extend(_premium_blockers(snap, values, today))
    first = _first_month_blocker(snap, values, today)
    if first is not None:
        blockers.append(first)
    starts_on = first_of_next_month(today)
    minimums = contractual_minimums(snap.contracts, starts_on)
    fee = fee_per_month(values, minimums)
    months = coverage(snap, values, fee_fen=fee, charge_now_fen=snap.plan_fee_fen)
    return RetentionCheck(blockers, fee, starts_on, months, minimums)


def retained_view(
    snap: LineSnapshot, values: Values, today: dt.date, starts_on: dt.date
) -> tuple[int, int | None]:
    """For a retained line: the monthly fee and the months the balance still covers, after the
    current month's charge (the plan fee before the retention starts, the fee once it has)."""
    first_billed = max(starts_on, today.replace(day=1))
    fee = fee_per_month(values, contractual_minimums(snap.contracts, first_billed))
    charge_now = snap.plan_fee_fen if starts_on > today else fee
    return fee, coverage(snap, values, fee_fen=fee, charge_now_fen=charge_now)
