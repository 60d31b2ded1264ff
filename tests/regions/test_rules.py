"""Provinces (GB/T 2260) and msisdn -> home province from phonenumbers' prefix data."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xiaohu.regions.provinces import PROVINCES, province_name
from xiaohu.regions.rules import NumberProblem, check_msisdn, home_of, home_of_prefix


def test_thirty_one_mainland_provinces_with_two_digit_codes() -> None:
    assert len(PROVINCES) == 31
    for code, p in PROVINCES.items():
        assert code == p.code and len(code) == 2 and code.isdigit()
        assert p.name.startswith(p.short)
    assert "71" not in PROVINCES and "81" not in PROVINCES  # not operator home provinces


@pytest.mark.parametrize(("code", "short"), [("11", "北京"), ("31", "上海"), ("44", "广东")])
def test_province_name(code: str, short: str) -> None:
    assert province_name(code) == short


def test_unknown_province_code_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        province_name("99")


@pytest.mark.parametrize(
    ("msisdn", "province", "city"),
    [
        ("13800138000", "11", "北京"),
        ("18621234567", "31", "上海"),
        ("13912345678", "32", "常州市"),
        ("13512345678", "50", "重庆"),
    ],
)
def test_home_of_known_prefixes(msisdn: str, province: str, city: str) -> None:
    home = home_of(msisdn)
    assert home is not None
    assert (home.province_code, home.city) == (province, city)


def test_prefix_without_geography_has_no_home() -> None:
    # 170/199 blocks (virtual operators, new ranges) carry no province in the data.
    assert home_of("17012345678") is None


def test_home_depends_only_on_the_seven_digit_prefix() -> None:
    assert home_of("13800138000") == home_of("13800139999") == home_of_prefix("1380013")


@pytest.mark.parametrize("msisdn", ["13800138000", "18621234567", "15012345678"])
def test_valid_mobile_numbers_pass(msisdn: str) -> None:
    assert check_msisdn(msisdn).national_number == int(msisdn)


@pytest.mark.parametrize(
    ("msisdn", "reason"),
    [
        ("1380013800", "11-digit"),
        ("138001380001", "11-digit"),
        ("2380013800a", "11-digit"),
        ("23800138000", "starting with 1"),
        ("1380013800a", "11-digit"),
        ("12345678901", "not an allocated"),
    ],
)
def test_bad_numbers_say_why(msisdn: str, reason: str) -> None:
    with pytest.raises(NumberProblem, match=reason):
        check_msisdn(msisdn)


def test_non_string_is_refused() -> None:
    with pytest.raises(NumberProblem):
        check_msisdn(13800138000)  # type: ignore[arg-type]


@given(st.from_regex(r"^1[3-9]\d{9}$", fullmatch=True))
def test_a_home_when_found_is_a_known_province(msisdn: str) -> None:
    home = home_of(msisdn)
    if home is not None:
        assert home.province_code in PROVINCES
        assert home.city


@given(st.text(max_size=15))
def test_anything_not_eleven_digits_starting_with_1_is_refused(value: str) -> None:
    if len(value) == 11 and value.isdigit() and value.isascii() and value[0] == "1":
        return
    with pytest.raises(NumberProblem):
        check_msisdn(value)
