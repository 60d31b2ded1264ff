from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xiaohu.kit.money import div_half_up, percent_of, plain_yuan, yuan


@given(st.integers(-(10**12), 10**12), st.integers(1, 10**6))
def test_div_half_up_is_exact_rounding(n: int, d: int) -> None:
    exact = Fraction(n, d)
    got = div_half_up(n, d)
    assert abs(Fraction(got) - exact) <= Fraction(1, 2)
    if abs(Fraction(got) - exact) == Fraction(1, 2):
        assert abs(got) > abs(exact)  # halves go away from zero


def test_half_up_examples() -> None:
    assert div_half_up(5, 2) == 3
    assert div_half_up(-5, 2) == -3
    assert div_half_up(4, 3) == 1
    assert percent_of(60000, 30) == 18000
    assert percent_of(1, 50) == 1


def test_denominator_must_be_positive() -> None:
    with pytest.raises(ValueError):
        div_half_up(1, 0)


def test_yuan_formatting() -> None:
    assert yuan(123456) == "¥1,234.56"
    assert yuan(-5) == "-¥0.05"


def test_plain_yuan_is_exact_and_ungrouped() -> None:
    assert plain_yuan(123456) == "1234.56"
    assert plain_yuan(5) == "0.05"
    assert plain_yuan(-1200) == "-12.00"
    assert plain_yuan(10**11 + 1) == "1000000000.01"
