"""Brute force in parallel: the line lock serialises attempts, so no failure is lost and the
lock-out comes exactly at the fifth (PostgreSQL, real threads, real commits)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.factories import line_record, load
from xiaohu.identity import service
from xiaohu.identity.models import SignInState
from xiaohu.kit.db import transaction
from xiaohu.kit.errors import DomainError
from xiaohu.runtime import Runtime

pytestmark = pytest.mark.postgres


def test_parallel_wrong_attempts_lock_after_exactly_five(committed_runtime: Runtime) -> None:
    rt = committed_runtime
    with transaction(rt.sessions) as session:
        ctx = rt.context(session)
        (line,) = load(ctx, line_record(msisdn="13800138000"))
        service.request_otp(ctx, line.msisdn)
        line_id = line.id

    def attempt(_: int) -> str:
        with rt.sessions() as session:
            ctx = rt.context(session)
            try:
                service.sign_in(ctx, "13800138000", "123456", "000000")  # wrong password
            except DomainError as err:
                # What the unit of work does: a refusal whose writes are evidence commits them.
                if err.keep_writes:
                    session.commit()
                else:
                    session.rollback()
                return err.code
            session.commit()
        return "SIGNED_IN"

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(attempt, range(12)))

    assert answers.count("VERIFICATION_FAILED") == 4
    assert answers.count("VERIFICATION_LOCKED") == 8
    with transaction(rt.sessions, readonly=True) as session:
        state = session.get(SignInState, line_id)
        assert state is not None
        assert state.failures == 5 and state.locked_until is not None
