"""A store record: every field checked, every error named, the code tied to its province."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from xiaohu.regions.provinces import PROVINCES
from xiaohu.stores.rules import validate_store


def store(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "code": "44-GZ-0001",
        "name": "广州天河营业厅",
        "province_code": "44",
        "city": "广州",
        "kind": "own_flagship",
    }
    record.update(overrides)
    return {k: v for k, v in record.items() if v is not None}


def fields(value: object) -> list[str]:
    return [e.field for e in validate_store(value, 3)[1]]


def test_a_valid_store_is_read() -> None:
    record, errors = validate_store(store(name=" 广州天河营业厅 "), 7)
    assert errors == []
    assert record is not None
    assert (record.line, record.key, record.name, record.kind) == (
        7,
        "44-GZ-0001",
        "广州天河营业厅",
        "own_flagship",
    )


def test_every_error_of_a_record_is_named_with_its_line() -> None:
    record, errors = validate_store({"code": "GZ1", "kind": "kiosk", "phone": "x"}, 5)
    assert record is None
    assert {e.line for e in errors} == {5}
    assert {e.field for e in errors} == {"phone", "code", "name", "province_code", "city", "kind"}
    assert any("kiosk" in e.reason for e in errors)


def test_unknown_field_is_an_error() -> None:
    assert fields(store(opened="2020")) == ["opened"]


def test_code_must_start_with_its_province() -> None:
    errors = validate_store(store(code="11-BJ-0001"), 1)[1]
    assert [(e.field, e.reason) for e in errors] == [
        ("code", "starts with 11, not its province_code 44")
    ]


def test_province_must_be_real() -> None:
    assert fields(store(code="99-XX-0001", province_code="99")) == ["province_code"]


def test_not_an_object() -> None:
    assert fields(["44-GZ-0001"]) == ["(record)"]


@given(
    st.sampled_from(sorted(PROVINCES)),
    st.from_regex(r"[A-Z0-9]{2,6}", fullmatch=True),
    st.integers(0, 99_999_999),
    st.sampled_from(["own_flagship", "own_standard", "partner"]),
)
def test_any_well_formed_code_of_its_province_is_accepted(
    province: str, tag: str, number: int, kind: str
) -> None:
    code = f"{province}-{tag}-{number:04d}"
    record, errors = validate_store(store(code=code, province_code=province, kind=kind), 1)
    assert errors == [] and record is not None and record.code == code


@given(st.text(max_size=20))
def test_a_malformed_code_is_refused_never_crashes(code: str) -> None:
    record, errors = validate_store(store(code=code), 1)
    if re.fullmatch(r"44-[A-Z0-9]{2,6}-[0-9]{4,8}", code.strip()):
        assert errors == []
    else:
        assert record is None and [e.field for e in errors] == ["code"]
