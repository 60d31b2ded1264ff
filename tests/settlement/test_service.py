"""The settlement run against the ledger, on either engine: a month of random cross-region
dues netted, posted and cleared; each province's books balancing on their own; run twice."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.settlement.support import (
    CODES,
    OCTOBER,
    account_balances,
    expected_nets,
    mixed_transactions,
    moved,
    post_due,
    province_balances,
)
from xiaohu.kit.clock import FrozenClock
from xiaohu.kit.errors import DomainError
from xiaohu.ledger.models import JournalTransaction
from xiaohu.ledger.service import trial_balance
from xiaohu.runtime import Context
from xiaohu.settlement import service
from xiaohu.settlement.models import Settlement

NOVEMBER_24 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
SECONDS_IN_OCTOBER = 31 * 86400

events = st.lists(
    st.tuples(
        st.sampled_from(CODES),
        st.sampled_from(CODES),
        st.integers(1, 500_000),
        st.integers(0, SECONDS_IN_OCTOBER - 1),
    ).filter(lambda e: e[0] != e[1]),
    min_size=0,
    max_size=60,
)


def fast(ctx: Context) -> Context:
    """The context with a short time limit for the exact netting (tests run many months)."""
    runtime = ctx.runtime
    runtime.settings = runtime.settings.model_copy(
        update={"settlement_solver_seconds": 1.0, "settlement_solver_workers": 2}
    )
    return Context(runtime, ctx.session, FrozenClock(NOVEMBER_24), actor="test")


def transactions(ctx: Context) -> int:
    return int(ctx.session.scalar(select(func.count()).select_from(JournalTransaction)) or 0)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(month=events, small=st.booleans())
def test_a_month_of_random_dues_nets_clears_and_runs_once(
    ctx: Context, month: list[tuple[str, str, int, int]], small: bool
) -> None:
    work = fast(ctx)
    outer = work.session.begin_nested()
    try:
        dues: dict[tuple[str, str], int] = {}
        for payer, receiver, amount, second in month:
            amount = amount % 7 + 1 if small else amount  # small amounts: zero-sum parts
            post_due(work.session, payer, receiver, amount, OCTOBER + dt.timedelta(seconds=second))
            dues[payer, receiver] = dues.get((payer, receiver), 0) + amount
        # Dues of the next month and of the month before are not October's.
        post_due(work.session, "44", "32", 999, OCTOBER - dt.timedelta(seconds=1))
        post_due(work.session, "32", "44", 777, OCTOBER + dt.timedelta(days=31))

        shown = service.dues_answer(work, "2026-10")
        assert {(d["from"], d["to"]): d["amount_fen"] for d in shown["dues"]} == dues
        assert shown["total_fen"] == sum(dues.values())

        result = service.settle(work, "2026-10")
        net = expected_nets(dues)
        assert moved(result["transfers"]) == net
        assert len(result["transfers"]) <= max(0, len(net) - 1) == result["transfer_bound"]
        assert len(result["transfers"]) <= result["greedy_transfers"]
        assert result["gross_fen"] == sum(dues.values())
        for s in result["statements"]:
            assert s["net_fen"] == s["receivable_fen"] - s["payable_fen"]
            assert s["net_fen"] == net.get(s["province_code"], 0)

        # Every province's books balance on their own; October's dues are cleared.
        assert trial_balance(work.session)["balanced"]
        assert set(province_balances(work.session).values()) <= {0}
        assert mixed_transactions(work.session) == []
        due = {**account_balances(work.session, "due_to:"),
               **account_balances(work.session, "due_from:")}  # fmt: skip
        outside = {"due_to:44:32": -999, "due_from:32:44": 999,
                   "due_to:32:44": -777, "due_from:44:32": 777}  # fmt: skip
        for code, balance in due.items():
            assert balance == outside.get(code, 0), code
        bank = account_balances(work.session, "settlement_bank:")
        assert {c.split(":")[1]: b for c, b in bank.items() if b} == net

        before = transactions(work)
        assert service.settle(work, "2026-10") == result
        assert transactions(work) == before
        assert service.find(work, "2026-10") == result
    finally:
        outer.rollback()


def test_a_month_not_over_is_refused(ctx: Context) -> None:
    work = fast(ctx)
    with pytest.raises(DomainError) as refused:
        service.settle(work, "2026-11")
    assert refused.value.code == "PERIOD_NOT_ENDED"
    with pytest.raises(DomainError) as invalid:
        service.settle(work, "2026-13")
    assert invalid.value.code == "PERIOD_INVALID"
    assert work.session.get(Settlement, "2026-11") is None


def test_an_empty_month_settles_to_nothing(ctx: Context) -> None:
    work = fast(ctx)
    before = transactions(work)
    result = service.settle(work, "2026-09")
    assert (result["gross_fen"], result["transfers"], result["statements"]) == (0, [], [])
    assert transactions(work) == before


def test_the_ledger_view_matches_the_statement(ctx: Context) -> None:
    work = fast(ctx)
    post_due(work.session, "32", "44", 12_345, OCTOBER + dt.timedelta(days=3))
    post_due(work.session, "44", "32", 345, OCTOBER + dt.timedelta(days=4))
    post_due(work.session, "44", "11", 1_000, OCTOBER + dt.timedelta(days=5))
    result = service.settle(work, "2026-10")
    view = service.ledger_view(work, "2026-10", "44")
    assert view["payable"] == {"11": 1_000, "32": 345}
    assert view["receivable"] == {"32": 12_345}
    assert view["cleared_payable_fen"] == 1_345 and view["cleared_receivable_fen"] == 12_345
    mine = next(s for s in result["statements"] if s["province_code"] == "44")
    assert mine == {"province_code": "44", "receivable_fen": 12_345, "payable_fen": 1_345,
                    "net_fen": 11_000}  # fmt: skip
    assert view["settlement_bank_fen"] == 11_000
