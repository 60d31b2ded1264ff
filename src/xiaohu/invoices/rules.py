"""The rules of an invoice, without the database: its number, its tax split, its amount in
Chinese capital numerals, and which blue invoices a refund turns red.

Numbers follow the fully digital e-invoice (数电发票) layout of 20 digits: the year's last two
digits, the issuing province's GB/T 2260 code, one digit for the issuing channel (1: this
system), and a 15-digit sequence that starts again at 1 each year in each province.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import cn2an

from xiaohu.kit.money import div_half_up

CHANNEL_DIGIT = "1"
SEQ_DIGITS = 15
NUMBER_DIGITS = 20
# Basic telecom services (voice, SMS, the plan) bear 9% VAT; amounts paid are tax-inclusive.
VAT_PERCENT = 9


class InvoiceKind(StrEnum):
    BLUE = "blue"
    RED = "red"


# What an invoice is for, as the invoice's item line says it (Chinese, English).
ITEMS: dict[str, tuple[str, str]] = {
    "telecom": ("*电信服务*通信服务费（预存及缴费）", "Telecom services (prepayment and bills)"),
    "penalty": ("*电信服务*合约提前终止违约金", "Early contract termination penalty"),
}


def item_of(purpose: str) -> str:
    """The item of a payment, from its purpose (`payment:<method>`, `penalty:<contract>`)."""
    return "penalty" if purpose.startswith("penalty:") else "telecom"


def number(province_code: str, year: int, seq: int) -> str:
    """'26' + '32' + '1' + 15-digit sequence: the 20-digit invoice number."""
    if not 0 < seq < 10**SEQ_DIGITS:
        raise ValueError(f"invoice sequence {seq} out of range")
    if len(province_code) != 2 or not province_code.isdigit():
        raise ValueError(f"province code {province_code!r} is not two digits")
    return f"{year % 100:02d}{province_code}{CHANNEL_DIGIT}{seq:0{SEQ_DIGITS}d}"


def is_number(text: str) -> bool:
    return len(text) == NUMBER_DIGITS and text.isdigit()


@dataclass(frozen=True)
class TaxSplit:
    """A tax-inclusive amount split into price and VAT, the tax rounded half-up to the fen."""

    price_fen: int
    tax_fen: int
    total_fen: int


def tax_split(total_fen: int, percent: int = VAT_PERCENT) -> TaxSplit:
    """tax = total × rate / (1 + rate), half-up to the fen; price = total − tax (so the two
    always add up to what was paid). Negative totals (a red invoice) split symmetrically."""
    tax = div_half_up(total_fen * percent, 100 + percent)
    return TaxSplit(total_fen - tax, tax, total_fen)


def capital(amount_fen: int) -> str:
    """The amount in Chinese capital numerals (大写), as an invoice writes it:
    12345 → '壹佰贰拾叁元肆角伍分', 10000 → '壹佰元整'; a red invoice's negative amount is
    prefixed '负'. Exact: built from the integer fen, never from a float."""
    sign = "负" if amount_fen < 0 else ""
    whole, fen = divmod(abs(amount_fen), 100)
    if whole == 0 and fen == 0:
        return "零元整"
    return sign + str(cn2an.an2cn(f"{whole}.{fen:02d}", "rmb"))


@dataclass(frozen=True)
class Open:
    """A blue invoice and how much of it is not yet taken back by red ones."""

    number: str
    remaining_fen: int


def reds_for(refund_fen: int, blues_newest_first: Sequence[Open]) -> list[tuple[str, int]]:
    """Which blue invoices a refund turns red, and by how much: newest first, each up to what
    is left of it, until the refund is covered. Only invoiced money is taken back: what the
    open blues do not cover (gift credit, a balance carried in from before invoicing) was
    never invoiced and gets no red invoice."""
    left = max(refund_fen, 0)
    out: list[tuple[str, int]] = []
    for blue in blues_newest_first:
        if left <= 0:
            break
        take = min(left, blue.remaining_fen)
        if take > 0:
            out.append((blue.number, take))
            left -= take
    return out
