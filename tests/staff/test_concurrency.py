"""Guessing a staff password in parallel: the row lock serialises the attempts, so no failure
is lost and the lock-out comes exactly at the limit (PostgreSQL, real threads, real commits)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from tests.factories import add_staff, add_store
from xiaohu.kit.db import transaction
from xiaohu.kit.errors import DomainError
from xiaohu.runtime import Runtime
from xiaohu.staff.models import StaffMember
from xiaohu.staff.service import sign_in

pytestmark = pytest.mark.postgres


def test_parallel_wrong_passwords_lock_after_exactly_the_limit(committed_runtime: Runtime) -> None:
    rt = committed_runtime
    with transaction(rt.sessions) as session:
        ctx = rt.context(session)
        add_store(ctx)
        add_staff(ctx)

    def attempt(_: int) -> str:
        with rt.sessions() as session:
            ctx = rt.context(session)
            try:
                sign_in(ctx, "bj.wang", "a-wrong-password")
            except DomainError as err:
                # What the unit of work does: a refusal whose writes are evidence commits them.
                if err.keep_writes:
                    session.commit()
                else:
                    session.rollback()
                return err.code
            session.commit()
        return "SIGNED_IN"

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(attempt, range(9)))

    assert answers.count("VERIFICATION_FAILED") == 4
    assert answers.count("VERIFICATION_LOCKED") == 5
    with transaction(rt.sessions, readonly=True) as session:
        member = session.scalars(select(StaffMember).where(StaffMember.login == "bj.wang")).one()
        assert member.failures == 5 and member.locked_until is not None
