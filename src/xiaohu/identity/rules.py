"""Identity documents: the GB 11643-1999 resident ID check and masking. No I/O."""

from __future__ import annotations

import datetime as dt
import operator

from xiaohu.kit.bounds import is_digits
from xiaohu.regions.provinces import PROVINCES

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"  # ISO 7064 MOD 11-2: index = sum % 11


class IdProblem(ValueError):
    pass


def resident_id_check_char(first17: str) -> str:
    if len(first17) != 17:
        raise ValueError("a resident ID check character needs exactly 17 digits")
    # map() rather than a generator: this runs once per line of a million-line import.
    return _CHECK[sum(map(operator.mul, map(int, first17), _WEIGHTS)) % 11]


def check_resident_id(number: str) -> str:
    """Return the normalised ID (upper-case X) or raise IdProblem saying what is wrong."""
    if not isinstance(number, str):
        raise IdProblem("must be a string")
    n = number.strip().upper()
    if len(n) != 18:
        raise IdProblem("must be 18 characters")
    if not is_digits(n[:17]) or not (is_digits(n[17]) or n[17] == "X"):
        raise IdProblem("must be 17 digits and a digit or X")
    if n[:2] not in PROVINCES and n[:2] not in ("71", "81", "82"):
        raise IdProblem(f"region code {n[:6]} is not a GB/T 2260 division")
    try:
        dt.date(int(n[6:10]), int(n[10:12]), int(n[12:14]))
    except ValueError as exc:
        raise IdProblem(f"birth date {n[6:14]} is not a real date") from exc
    expected = resident_id_check_char(n[:17])
    if n[17] != expected:
        raise IdProblem(f"check character is {n[17]}, expected {expected}")
    return n


def normalise_document(id_type: str, number: str) -> str:
    if id_type == "resident_id":
        return check_resident_id(number)
    n = number.strip().upper()
    if not 5 <= len(n) <= 30 or not n.replace("-", "").isalnum():
        raise IdProblem("must be 5-30 letters or digits")
    return n


def mask_id(number: str) -> str:
    """'110101********123X': region and the last four, never the birth date."""
    if len(number) <= 8:
        return number[:1] + "*" * (len(number) - 1)
    if len(number) < 14:  # passports and permits: region+last four would show nearly all
        return number[:2] + "*" * (len(number) - 4) + number[-2:]
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def mask_name(name: str) -> str:
    """'张三' -> '*三', '欧阳娜娜' -> '**娜娜'... keep the last character(s) only."""
    if len(name) <= 1:
        return "*"
    keep = 1 if len(name) <= 3 else 2
    return "*" * (len(name) - keep) + name[-keep:]


def mask_msisdn(msisdn: str) -> str:
    return msisdn[:3] + "****" + msisdn[-4:]
