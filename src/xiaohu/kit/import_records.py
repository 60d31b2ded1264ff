"""What every import shares (lines, stores, staff): the error of one invalid record, `line N:
field: reason`, and the readers of plain fields that collect such errors. One shape, so an
operator reads every import's errors alike and the sandbox answers them all as
`IMPORT_INVALID` with `errors: [{line, field, reason}]`.

A reader takes the record's `RecordErrors` and a dotted field path, adds every problem it finds
and returns a usable value (or None) so checking can go on: a file is fixed in one pass."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

RECORD = "(record)"  # the field name of an error about the record as a whole


@dataclass(frozen=True, slots=True)
class FieldError:
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "reason": self.reason}


class RecordErrors:
    """Collects the errors of one record."""

    __slots__ = ("errors", "line")

    def __init__(self, line: int) -> None:
        self.line = line
        self.errors: list[FieldError] = []

    def add(self, path: str, reason: str) -> None:
        self.errors.append(FieldError(self.line, path, reason))


def type_name(value: object) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def record_object(e: RecordErrors, value: object, fields: Iterable[str]) -> dict[str, Any] | None:
    """The record as a JSON object, each key not among `fields` an error; None (and the error)
    when it is not an object at all."""
    if not isinstance(value, dict):
        e.add(RECORD, f"must be a JSON object, not {type_name(value)}")
        return None
    known = set(fields)
    for key in value:
        if key not in known:
            e.add(str(key), "unknown field")
    return value


def read_str(
    e: RecordErrors, obj: dict[str, Any], key: str, path: str, *, max_len: int, required: bool
) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            e.add(path, "required" if key not in obj else "must not be null")
        return None
    if not isinstance(value, str):
        e.add(path, f"must be a string, not {type_name(value)}")
        return None
    value = value.strip()
    if required and not value:
        e.add(path, "must not be empty")
        return None
    if len(value) > max_len:
        e.add(path, f"must be at most {max_len} characters")
        return None
    return value


def read_choice(
    e: RecordErrors, obj: dict[str, Any], key: str, path: str, allowed: Iterable[str], what: str
) -> str | None:
    value = read_str(e, obj, key, path, max_len=40, required=True)
    if value is None:
        return None
    options = tuple(allowed)
    if value not in options:
        e.add(path, f"unknown {what} {value!r}; one of {', '.join(options)}")
        return None
    return value


def read_object(
    e: RecordErrors, value: object, path: str, allowed: frozenset[str]
) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        e.add(path, f"must be an object, not {type_name(value)}")
        return None
    for key in value:
        if key not in allowed:
            e.add(f"{path}.{key}", "unknown field")
    return value
