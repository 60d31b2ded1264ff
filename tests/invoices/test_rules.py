"""The invoice's rules: its 20-digit number, the tax split, capital numerals, red allocation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xiaohu.invoices.rules import Open, capital, is_number, number, reds_for, tax_split


def test_the_number_is_year_province_channel_and_a_15_digit_sequence() -> None:
    assert number("32", 2026, 1) == "26321000000000000001"
    assert number("44", 2027, 123456) == "27441000000000123456"
    assert is_number(number("11", 2026, 10**15 - 1))
    with pytest.raises(ValueError):
        number("32", 2026, 0)
    with pytest.raises(ValueError):
        number("3", 2026, 1)


@pytest.mark.parametrize(
    ("fen", "words"),
    [
        (12345, "壹佰贰拾叁元肆角伍分"),
        (10000, "壹佰元整"),
        (10005, "壹佰元零伍分"),
        (5, "伍分"),
        (1050, "壹拾元伍角"),
        (10001001, "壹拾万零壹拾元零壹分"),
        (-12345, "负壹佰贰拾叁元肆角伍分"),
        (0, "零元整"),
    ],
)
def test_capital_numerals_as_an_invoice_writes_them(fen: int, words: str) -> None:
    assert capital(fen) == words


def test_the_tax_is_9_percent_of_the_price_rounded_half_up_to_the_fen() -> None:
    split = tax_split(10000)  # 100 yuan paid: 10000 × 9 / 109 = 825.69 → 826
    assert (split.price_fen, split.tax_fen, split.total_fen) == (9174, 826, 10000)
    assert tax_split(109).tax_fen == 9  # exact
    assert tax_split(6).tax_fen == 0  # 0.495 → 0
    assert tax_split(7).tax_fen == 1  # 0.578 → 1
    red = tax_split(-10000)
    assert (red.price_fen, red.tax_fen) == (-9174, -826)


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_price_and_tax_always_add_up_to_the_amount(total: int) -> None:
    split = tax_split(total)
    assert split.price_fen + split.tax_fen == total
    assert abs(split.tax_fen * 109 - total * 9) <= 109 // 2 + 1  # within half a fen


def test_a_refund_takes_back_the_newest_blue_invoices_first_and_only_what_they_hold() -> None:
    blues = [Open("B3", 500), Open("B2", 0), Open("B1", 10000)]
    assert reds_for(3000, blues) == [("B3", 500), ("B1", 2500)]
    # More refunded than was invoiced (a gift, a balance from before): only the invoiced part.
    assert reds_for(20000, blues) == [("B3", 500), ("B1", 10000)]
    assert reds_for(0, blues) == []
    assert reds_for(100, []) == []
