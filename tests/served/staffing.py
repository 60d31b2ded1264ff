"""Staff for served tests: rows written straight into the served database (the staff import
is a route of its own elsewhere), and the token a sign-in would issue under the served key."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from tests.factories import STAFF_PASSWORD
from tests.served.flows import NOW
from tests.served.harness import SERVED_KEY, Served
from xiaohu.identity.passwords import hash_password
from xiaohu.kit.db import make_engine
from xiaohu.principals import issue_staff
from xiaohu.staff.models import StaffMember
from xiaohu.stores.models import Store


def add_store(
    server: Served, code: str, name: str, province: str, city: str, kind: str = "own_flagship"
) -> None:
    now = dt.datetime.fromisoformat(NOW)
    engine = make_engine(server.database_url)
    try:
        with Session(engine) as s, s.begin():
            s.add(
                Store(
                    code=code,
                    name=name,
                    province_code=province,
                    city=city,
                    kind=kind,
                    created_at=now,
                    updated_at=now,
                )
            )
    finally:
        engine.dispose()


def add_staff(
    server: Served,
    login: str,
    *,
    role: str = "hotline_agent",
    province: str = "11",
    store_code: str | None = None,
) -> str:
    """A member of staff in the served database; returns their bearer token (valid an hour
    from the suite's 'now')."""
    now = dt.datetime.fromisoformat(NOW)
    engine = make_engine(server.database_url)
    try:
        with Session(engine) as s, s.begin():
            member = StaffMember(
                login=login,
                name="测试员",
                role=role,
                province_code=province,
                store_code=store_code,
                password_hash=hash_password(STAFF_PASSWORD),
                failures=0,
                created_at=now,
                updated_at=now,
            )
            s.add(member)
            s.flush()
            staff_id = member.id
    finally:
        engine.dispose()
    return served_token(staff_id, login, role, province, store_code)


def served_token(
    staff_id: int,
    login: str,
    role: str,
    province: str,
    store_code: str | None,
    *,
    ttl_seconds: int = 3600,
) -> str:
    """The staff token a sign-in would issue under the served key, from the suite's 'now'."""
    return issue_staff(
        SERVED_KEY.encode(),
        staff_id=staff_id,
        login=login,
        role=role,
        province_code=province,
        store_code=store_code,
        now=dt.datetime.fromisoformat(NOW),
        ttl_seconds=ttl_seconds,
    )
