"""A staff import record, checked (pure, no database), and who an audit actor is.

A password is read and kept only until it is hashed: it is never echoed in an error, and the
record's repr hides it, so it cannot reach a log."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from xiaohu.kit.import_records import (
    FieldError,
    RecordErrors,
    read_choice,
    read_str,
    record_object,
    type_name,
)
from xiaohu.regions.rules import province_problem
from xiaohu.staff.models import Role

FIELDS = frozenset({"login", "name", "role", "province_code", "store_code", "password"})
ROLES = tuple(Role)
LOGIN_PATTERN = re.compile(r"[a-z0-9._-]{2,40}")
PASSWORD_MIN = 8
PASSWORD_MAX = 128  # argon2 takes any length; a bound keeps a hash request cheap to refuse


@dataclass(frozen=True, slots=True)
class StaffRecord:
    line: int
    login: str
    name: str
    role: str
    province_code: str
    store_code: str | None
    password: str | None = field(default=None, repr=False)  # None: keep the current one

    @property
    def key(self) -> str:
        return self.login


def validate_staff(value: object, line: int) -> tuple[StaffRecord | None, list[FieldError]]:
    """The record, or None and every error it has. A password may be left out only by a
    re-import of a login already loaded (the service checks that)."""
    e = RecordErrors(line)
    obj = record_object(e, value, FIELDS)
    if obj is None:
        return None, e.errors
    login = read_str(e, obj, "login", "login", max_len=40, required=True)
    if login is not None and not LOGIN_PATTERN.fullmatch(login):
        e.add("login", "2-40 lowercase letters, digits, dots, dashes or underscores")
        login = None
    name = read_str(e, obj, "name", "name", max_len=100, required=True)
    role = read_choice(e, obj, "role", "role", ROLES, "role")
    province = read_str(e, obj, "province_code", "province_code", max_len=2, required=True)
    if province is not None and (problem := province_problem(province)) is not None:
        e.add("province_code", problem)
        province = None
    store_code = read_str(e, obj, "store_code", "store_code", max_len=32, required=False)
    if role == Role.CLERK and store_code is None and "store_code" not in _reported(e):
        e.add("store_code", "required for a clerk: the store they work at")
    if role is not None and role != Role.CLERK and obj.get("store_code") is not None:
        e.add("store_code", f"only a clerk works at a store; leave it out for the role {role}")
    password = _password(e, obj)
    if login is None or name is None or role is None or province is None or e.errors:
        return None, e.errors
    return StaffRecord(line, login, name, role, province, store_code, password), []


def _reported(e: RecordErrors) -> set[str]:
    return {err.field for err in e.errors}


def _password(e: RecordErrors, obj: dict[str, Any]) -> str | None:
    """Checked without ever quoting it (no `read_str`: it strips and would say the length)."""
    value = obj.get("password")
    if value is None:
        if "password" in obj:
            e.add("password", "must not be null")
        return None
    if not isinstance(value, str):
        e.add("password", f"must be a string, not {type_name(value)}")
        return None
    if len(value) < PASSWORD_MIN:
        e.add("password", f"must be at least {PASSWORD_MIN} characters")
        return None
    if len(value) > PASSWORD_MAX:
        e.add("password", f"must be at most {PASSWORD_MAX} characters")
        return None
    return value


ActorKind = Literal["subscriber", "staff", "system"]


def actor_kind(actor: str) -> tuple[ActorKind, str | None]:
    """Who an audit event's actor is: the subscriber, a member of staff (`<role>:<login>`,
    with the login), or the system (an import, a run, an API client without a token)."""
    if actor == "subscriber":
        return "subscriber", None
    role, sep, login = actor.partition(":")
    if sep and role in ROLES and LOGIN_PATTERN.fullmatch(login):
        return "staff", login
    return "system", None
