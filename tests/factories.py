"""Test data: keyword-only factories with safe defaults.

`line_record()` is a valid import record (the API.md "Import format"); `load(ctx, ...)` imports
records through the real importer and returns the `Line` rows, so every test starts from data
the import accepted (ledger opening balances included).
"""

from __future__ import annotations

import datetime as dt
import itertools
from functools import lru_cache
from typing import Any

from faker import Faker
from sqlalchemy import select

from xiaohu.demo.data import prefix_table
from xiaohu.identity.passwords import hash_password
from xiaohu.identity.rules import resident_id_check_char
from xiaohu.intake.importer import import_records
from xiaohu.lines.models import Line
from xiaohu.runtime import Context
from xiaohu.staff.models import StaffMember
from xiaohu.staff.service import issue_token
from xiaohu.stores.models import Store

SERVICE_PASSWORD = "135790"
PLAN = {"code": "5G-129", "name": "5G畅享129元", "monthly_fee_fen": 12900}

_numbers = itertools.count()
_people = itertools.count()


@lru_cache(maxsize=1)
def _faker() -> Faker:
    fake = Faker("zh_CN")
    fake.seed_instance(11643)
    return fake


def resident_id(birth: str = "19900307", region: str = "110101", seq: int | None = None) -> str:
    """A GB 11643-1999 resident ID with the right check character."""
    n = next(_people) if seq is None else seq
    first17 = f"{region}{birth}{n % 1000:03d}"
    return first17 + resident_id_check_char(first17)


def new_resident_id() -> str:
    """A resident ID no other factory call returns (birth date moves every 1000 IDs)."""
    n = next(_people)
    birth = dt.date(1990, 3, 7) + dt.timedelta(days=n // 1000)
    return resident_id(birth.strftime("%Y%m%d"), seq=n)


def msisdn(province: str = "11") -> str:
    """A unique valid mobile number from a real prefix of the province."""
    prefixes = prefix_table()[province]
    n = next(_numbers)
    prefix = prefixes[(n // 10000) % len(prefixes)]
    return f"{prefix}{n % 10000:04d}"


def owner(
    *, name: str | None = None, id_type: str = "resident_id", id_number: str | None = None
) -> dict[str, str]:
    if id_number is None:
        id_number = new_resident_id() if id_type == "resident_id" else f"E{next(_people):08d}"
    return {"name": name or _faker().name(), "id_type": id_type, "id_number": id_number}


def example_contracts() -> list[dict[str, Any]]:
    """The two contracts of the API.md import example (a handset term and a lifetime premium
    number), fresh each call so a test may change them."""
    return [
        {
            "id": "C-1",
            "kind": "handset",
            "starts_on": "2025-01-01",
            "ends_on": "2026-12-31",
            "handset_list_price_fen": 599900,
            "handset_promo_price_fen": 299900,
            "gift_prestore_remaining_fen": 60000,
        },
        {
            "id": "C-2",
            "kind": "premium_number",
            "starts_on": "2024-01-01",
            "ends_on": None,
            "monthly_minimum_fen": 13800,
        },
    ]


def line_record(*, province: str = "11", **overrides: Any) -> dict[str, Any]:
    """A valid import record; top-level keys in `overrides` replace the record's (nested
    objects wholesale). `owner=` lets several lines share one owner."""
    record: dict[str, Any] = {
        "msisdn": msisdn(province),
        "status": "active",
        "opened_on": "2019-05-01",
        "real_name_verified": True,
        "owner": owner(),
        "service_password": SERVICE_PASSWORD,
        "plan": dict(PLAN),
        "balance": {"cash_fen": 5000, "gift_fen": 0},
        "usage_history_fen": [2100, 1800, 2500],
        "payment_route": {"kind": "alipay", "account": "zh***@example.com"},
    }
    record.update(overrides)
    return record


def load(ctx: Context, *records: dict[str, Any]) -> list[Line]:
    """Import the records (in the test's session) and return their lines in the same order."""
    import_records(ctx, list(records))
    numbers = [r["msisdn"] for r in records]
    lines = {
        line.msisdn: line
        for line in ctx.session.scalars(
            select(Line).where(Line.msisdn.in_(numbers)).execution_options(populate_existing=True)
        )
    }
    return [lines[n] for n in numbers]


STAFF_PASSWORD = "counter-pass-2026"


def add_store(
    ctx: Context,
    *,
    code: str = "11-BJ-0001",
    name: str = "北京西单营业厅",
    province_code: str = "11",
    city: str = "北京",
    kind: str = "own_flagship",
) -> Store:
    """A store row (flushed)."""
    now = ctx.now()
    store = Store(
        code=code,
        name=name,
        province_code=province_code,
        city=city,
        kind=kind,
        created_at=now,
        updated_at=now,
    )
    ctx.session.add(store)
    ctx.session.flush()
    return store


def add_staff(
    ctx: Context,
    *,
    login: str = "bj.wang",
    role: str = "clerk",
    province_code: str = "11",
    store_code: str | None = "11-BJ-0001",
    password: str = STAFF_PASSWORD,
    name: str = "王五",
) -> StaffMember:
    """A member of staff (flushed), with an argon2 password hash."""
    now = ctx.now()
    member = StaffMember(
        login=login,
        name=name,
        role=role,
        province_code=province_code,
        store_code=store_code if role == "clerk" else None,
        password_hash=hash_password(password),
        failures=0,
        created_at=now,
        updated_at=now,
    )
    ctx.session.add(member)
    ctx.session.flush()
    return member


def staff_token(ctx: Context, member: StaffMember, *, ttl_seconds: int = 3600) -> str:
    """A staff bearer token for this member, as the sign-in would issue it."""
    return issue_token(ctx, member, ctx.now(), ttl_seconds)
