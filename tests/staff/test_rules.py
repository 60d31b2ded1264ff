"""A staff record (role, province, a clerk's store, a password never echoed) and who an audit
event's actor is."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from xiaohu.staff.rules import LOGIN_PATTERN, actor_kind, validate_staff

SECRET = "not-to-be-echoed"


def member(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "login": "gz.wang",
        "name": "王五",
        "role": "clerk",
        "province_code": "44",
        "store_code": "44-GZ-0001",
        "password": SECRET,
    }
    record.update(overrides)
    return {k: v for k, v in record.items() if v is not None}


def errors_of(value: object) -> list[tuple[str, str]]:
    return [(e.field, e.reason) for e in validate_staff(value, 2)[1]]


def test_a_valid_clerk_is_read_and_its_password_is_not_in_its_repr() -> None:
    record, errors = validate_staff(member(), 4)
    assert errors == [] and record is not None
    assert (record.key, record.role, record.store_code, record.password) == (
        "gz.wang",
        "clerk",
        "44-GZ-0001",
        SECRET,
    )
    assert SECRET not in repr(record)


def test_a_clerk_needs_a_store_and_other_roles_have_none() -> None:
    assert [f for f, _ in errors_of(member(store_code=None))] == ["store_code"]
    for role in ("hotline_agent", "backoffice", "admin"):
        assert [f for f, _ in errors_of(member(role=role))] == ["store_code"]
        assert errors_of(member(role=role, store_code=None)) == []


def test_unknown_fields_roles_and_provinces_are_named() -> None:
    found = errors_of(member(role="manager", province_code="00", email="x@example.com"))
    assert {f for f, _ in found} == {"email", "role", "province_code"}


def test_a_short_password_is_refused_without_quoting_it() -> None:
    found = errors_of(member(password="abc1234"))
    assert found == [("password", "must be at least 8 characters")]
    assert all("abc1234" not in reason for _, reason in found)


def test_the_password_may_be_left_out_by_the_record() -> None:
    record, errors = validate_staff(member(password=None), 1)
    assert errors == [] and record is not None and record.password is None


def test_a_null_or_non_string_password_is_refused() -> None:
    assert errors_of({**member(), "password": None}) == [("password", "must not be null")]
    assert [f for f, _ in errors_of(member(password=12345678))] == ["password"]


@given(st.text(max_size=45))
def test_logins_are_lowercase_letters_digits_dots_dashes_underscores(login: str) -> None:
    record, errors = validate_staff(member(login=login), 1)
    ok = 2 <= len(login.strip()) <= 40 and all(
        c in "abcdefghijklmnopqrstuvwxyz0123456789._-" for c in login.strip()
    )
    if ok:
        assert errors == [] and record is not None
    else:
        assert record is None and [e.field for e in errors] == ["login"]


@given(st.text(min_size=8, max_size=128))
def test_any_password_of_eight_to_128_characters_is_taken_as_given(password: str) -> None:
    record, errors = validate_staff(member(password=password), 1)
    assert errors == [] and record is not None and record.password == password


@given(
    st.sampled_from(["clerk", "hotline_agent", "backoffice", "admin"]),
    st.from_regex(LOGIN_PATTERN, fullmatch=True),
)
def test_a_staff_actor_gives_its_login(role: str, login: str) -> None:
    assert actor_kind(f"{role}:{login}") == ("staff", login)


def test_the_subscriber_and_the_system() -> None:
    assert actor_kind("subscriber") == ("subscriber", None)
    for actor in ("system", "cli:import", "api:127.0.0.1", "run:close-cycle", "manager:x", ""):
        assert actor_kind(actor) == ("system", None)
