"""Field-level checks of an import record: read one JSON value, or say why it is refused.

Each reader takes the record's `RecordErrors` and a dotted field path (`contracts[1].kind`), adds
every problem it finds and returns a usable value (or None / 0) so checking can go on: an operator
fixes a file of a million lines in one pass. Pure: no database, no clock.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

from xiaohu.kit.bounds import MAX_FEN, is_digits
from xiaohu.kit.import_records import RecordErrors, read_choice, read_object, read_str, type_name
from xiaohu.regions.rules import NumberProblem, check_msisdn

__all__ = [
    "RecordErrors",
    "check_number",
    "read_array",
    "read_bool",
    "read_choice",
    "read_date",
    "read_fen",
    "read_object",
    "read_opt_fen",
    "read_period",
    "read_str",
    "type_name",
]


def read_fen(e: RecordErrors, value: object, path: str) -> int:
    """A non-negative integer amount in fen; booleans, floats and strings are refused."""
    if type(value) is not int:
        e.add(path, f"must be a whole number of fen, not {type_name(value)}")
        return 0
    if value < 0:
        e.add(path, f"must not be negative ({value})")
        return 0
    if value > MAX_FEN:
        e.add(path, f"must be at most {MAX_FEN} fen ({value})")
        return 0
    return value


def read_opt_fen(e: RecordErrors, obj: dict[str, Any], key: str, path: str) -> int:
    if obj.get(key) is None:
        return 0
    return read_fen(e, obj[key], path)


def read_date(e: RecordErrors, obj: dict[str, Any], key: str, path: str) -> dt.date | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        e.add(path, f"must be a date string YYYY-MM-DD, not {type_name(value)}")
        return None
    try:
        if len(value) != 10:
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        e.add(path, f"must be a date YYYY-MM-DD, not {value!r}")
        return None


def read_period(e: RecordErrors, value: object, path: str) -> str | None:
    if not isinstance(value, str):
        e.add(path, f"must be a period string YYYY-MM, not {type_name(value)}")
        return None
    ok = len(value) == 7 and value[4] == "-" and is_digits(value[:4]) and is_digits(value[5:])
    if not ok or not 1 <= int(value[5:]) <= 12:
        e.add(path, f"must be a period YYYY-MM, not {value!r}")
        return None
    return value


def read_bool(e: RecordErrors, obj: dict[str, Any], key: str, path: str, default: bool) -> bool:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        e.add(path, f"must be true or false, not {type_name(value)}")
        return default
    return value


def read_array(e: RecordErrors, value: object, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        e.add(path, f"must be an array, not {type_name(value)}")
        return []
    return value


@lru_cache(maxsize=65536)
def _prefix_problem(prefix7: str) -> str | None:
    """Whether a 7-digit block is an allocated mobile range: the same answer for every number
    in the block, so it is asked once per block (a million-line import has a few thousand)."""
    try:
        check_msisdn(prefix7 + "0000")
    except NumberProblem as exc:
        return str(exc)
    return None


def check_number(msisdn: object) -> str | None:
    """The reason an msisdn is refused, or None. Same rules as `regions.rules.check_msisdn`."""
    if (
        not isinstance(msisdn, str)
        or len(msisdn) != 11
        or not is_digits(msisdn)
        or msisdn[0] != "1"
    ):
        return "must be an 11-digit mobile number starting with 1"
    return _prefix_problem(msisdn[:7])
