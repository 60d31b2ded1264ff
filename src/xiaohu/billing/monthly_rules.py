"""Which monthly bill a line gets for a period, when it is due, and how the balance pays it.

Pure arithmetic and dates, no database: `billing.monthly` writes the same rules as set-based
SQL, and the tests hold the two together. The rules (DOMAIN.md "Retention and automatic
cancellation", the issue's billing rules):

- a `cycle` bill (plan fee + the unbilled usage rated before the period's end) for a line
  active at any time in the period: active at the close, or suspended for arrears during the
  period or after it (the suspension month is charged in full; so is the restoration month,
  the line being active again at the close), or retained from the next cycle on;
- a `retention` bill (retention fee + the monthly minimum of every contract in force that has
  one, of any kind: "停机期间原有协议消费正常收取"; the retention check quotes the same fee)
  for a retained line whose retention started on or before the period's first day;
- nothing for a whole month of arrears suspension, for a line opened after the period, nor for
  cancelled, lost, fraud-stopped or judicially frozen lines;
- the balance pays at once: cash first, then gift credit for what the policy lets it pay
  (`gift_may_pay`: plan fee and usage by default, not the retention fee); cash is counted
  against the items gift may not pay first, so gift covers as much as it is allowed to. The
  rest stays unpaid, due on the policy's `bill_due_day` of the next month.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from xiaohu.kit.clock import period_bounds


class MonthlyKind(StrEnum):
    CYCLE = "cycle"
    RETENTION = "retention"


@dataclass(frozen=True)
class Period:
    """A billing month: its first and last day and the first day of the next."""

    name: str
    first: dt.date
    last: dt.date
    next_first: dt.date

    @classmethod
    def of(cls, name: str) -> Period:
        first, next_first = period_bounds(name)
        return cls(name, first, next_first - dt.timedelta(days=1), next_first)

    def due_on(self, bill_due_day: int) -> dt.date:
        """The due date: `bill_due_day` of the next month."""
        return self.next_first.replace(day=bill_due_day)


def monthly_kind(
    period: Period,
    *,
    status: str,
    opened_on: dt.date | None,
    arrears_since: dt.date | None,
    retention_starts_on: dt.date | None,
) -> MonthlyKind | None:
    """The monthly bill a line gets for `period` (None: no bill). An arrears-suspended line
    without a suspension day, or a retained line without a start, counts as suspended or
    retained since before the period."""
    if opened_on is not None and opened_on > period.last:
        return None
    if status == "active":
        return MonthlyKind.CYCLE
    if status == "arrears_suspended":
        suspended_in_or_after = arrears_since is not None and arrears_since >= period.first
        return MonthlyKind.CYCLE if suspended_in_or_after else None
    if status == "retained":
        if retention_starts_on is not None and retention_starts_on > period.first:
            return MonthlyKind.CYCLE  # retained during the period: the plan fee still runs
        return MonthlyKind.RETENTION
    return None


@dataclass(frozen=True)
class Payment:
    from_cash: int
    from_gift: int
    unpaid: int

    @property
    def paid(self) -> int:
        return self.from_cash + self.from_gift


def pay_from_balance(
    amount_fen: int, gift_payable_fen: int, cash_fen: int, gift_fen: int
) -> Payment:
    """Pay a bill of `amount_fen` from the balance: cash first, then gift up to what gift may
    pay (`gift_payable_fen` of the amount). Negative balances pay nothing."""
    from_cash = min(max(cash_fen, 0), amount_fen)
    from_gift = min(max(gift_fen, 0), min(gift_payable_fen, amount_fen - from_cash))
    from_gift = max(from_gift, 0)
    return Payment(from_cash, from_gift, amount_fen - from_cash - from_gift)


def gift_payable(
    kind: MonthlyKind,
    *,
    gift_may_pay: Collection[str],
    plan_fee_fen: int,
    usage_fen: int,
    retention_fee_fen: int,
) -> int:
    """The part of a monthly bill gift credit may pay (policy `gift_may_pay`). A contractual
    minimum is never paid from gift."""
    if kind is MonthlyKind.CYCLE:
        return (plan_fee_fen if "plan_fee" in gift_may_pay else 0) + (
            usage_fen if "usage" in gift_may_pay else 0
        )
    return retention_fee_fen if "retention_fee" in gift_may_pay else 0


def bill_sms(period: Period, amount_fen: int, paid_fen: int, due_on: dt.date) -> str:
    """The SMS with a monthly bill (the SQL in `billing.monthly` writes the same text)."""
    return (
        f"【账单】{period.first.year}年{period.first.month}月账单{fen_text(amount_fen)}，"
        f"已从余额扣缴{fen_text(paid_fen)}，尚欠{fen_text(amount_fen - paid_fen)}，"
        f"缴费截止{due_on.isoformat()}。"
    )


def fen_text(amount_fen: int) -> str:
    """'¥129.00' (no grouping: the SQL renders the same digits)."""
    whole, fen = divmod(amount_fen, 100)
    return f"¥{whole}.{fen:02d}"
