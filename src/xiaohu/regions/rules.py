"""From a mobile number to its home province, using the prefix data `phonenumbers` ships."""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import phonenumbers
from phonenumbers import geocoder

from xiaohu.kit.bounds import is_digits
from xiaohu.regions.provinces import PROVINCES

# The geocoder writes '江苏省常州市' or '北京市', but the autonomous regions by short name
# ('广西南宁市', '新疆乌鲁木齐市', '内蒙古包头市'); match the longest name at the start.
_BY_NAME = sorted(
    {(n, p.code) for p in PROVINCES.values() for n in (p.name, p.short)},
    key=lambda t: (-len(t[0]), t[0]),
)


class Home(NamedTuple):
    province_code: str
    city: str | None


class NumberProblem(ValueError):
    pass


def check_msisdn(msisdn: str) -> phonenumbers.PhoneNumber:
    """An 11-digit Chinese mobile number that phonenumbers accepts as valid, or NumberProblem."""
    if (
        not isinstance(msisdn, str)
        or len(msisdn) != 11
        or not is_digits(msisdn)
        or msisdn[0] != "1"
    ):
        raise NumberProblem("must be an 11-digit mobile number starting with 1")
    parsed = phonenumbers.parse(msisdn, "CN")
    if not phonenumbers.is_valid_number(parsed):
        raise NumberProblem("is not an allocated mobile number range")
    if phonenumbers.number_type(parsed) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise NumberProblem("is not a mobile number")
    return parsed


@lru_cache(maxsize=65536)
def home_of_prefix(prefix7: str) -> Home | None:
    """Home province and city of a 7-digit prefix (the HLR block), or None when unknown."""
    parsed = phonenumbers.parse(prefix7 + "0000", "CN")
    text = geocoder.description_for_number(parsed, "zh")
    for name, code in _BY_NAME:
        if text.startswith(name):
            city = text[len(name) :] or PROVINCES[code].short
            return Home(code, city)
    return None


def home_of(msisdn: str) -> Home | None:
    return home_of_prefix(msisdn[:7])


def province_problem(code: str) -> str | None:
    """Why a province code is refused, or None for one of the 31 GB/T 2260 provinces."""
    if code in PROVINCES:
        return None
    return f"unknown province {code!r} (GB/T 2260 two-digit code)"
