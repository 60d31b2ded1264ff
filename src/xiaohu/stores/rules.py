"""A store import record, checked: pure, no database. The same `line N: field: reason` errors as
the line import; an unknown field is an error (a typo must not be dropped in silence)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from xiaohu.kit.import_records import (
    FieldError,
    RecordErrors,
    read_choice,
    read_str,
    record_object,
)
from xiaohu.regions.rules import province_problem
from xiaohu.stores.models import StoreKind

FIELDS = frozenset({"code", "name", "province_code", "city", "kind"})
KINDS = tuple(StoreKind)
# Province, a city tag, a number: 44-GZ-0001. The tag is the operator's (letters or digits).
CODE_PATTERN = re.compile(r"[0-9]{2}-[A-Z0-9]{2,6}-[0-9]{4,8}")


@dataclass(frozen=True, slots=True)
class StoreRecord:
    line: int
    code: str
    name: str
    province_code: str
    city: str
    kind: str

    @property
    def key(self) -> str:
        return self.code


def validate_store(value: object, line: int) -> tuple[StoreRecord | None, list[FieldError]]:
    """The record, or None and every error it has."""
    e = RecordErrors(line)
    obj = record_object(e, value, FIELDS)
    if obj is None:
        return None, e.errors
    code = read_str(e, obj, "code", "code", max_len=32, required=True)
    name = read_str(e, obj, "name", "name", max_len=100, required=True)
    province = province_of(e, obj)
    city = read_str(e, obj, "city", "city", max_len=40, required=True)
    kind = read_choice(e, obj, "kind", "kind", KINDS, "store kind")
    if code is not None:
        if not CODE_PATTERN.fullmatch(code):
            e.add("code", f"must look like 44-GZ-0001 (province-TAG-number), not {code!r}")
            code = None
        elif province is not None and code[:2] != province:
            e.add("code", f"starts with {code[:2]}, not its province_code {province}")
            code = None
    if code is None or name is None or province is None or city is None or kind is None:
        return None, e.errors
    if e.errors:
        return None, e.errors
    return StoreRecord(line, code, name, province, city, kind), []


def province_of(e: RecordErrors, obj: dict[str, Any]) -> str | None:
    """`province_code`: a GB/T 2260 province."""
    code = read_str(e, obj, "province_code", "province_code", max_len=2, required=True)
    problem = None if code is None else province_problem(code)
    if problem is not None:
        e.add("province_code", problem)
        return None
    return code
