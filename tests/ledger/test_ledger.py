"""The ledger refuses unbalanced transactions, and random balanced ones keep it at zero."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xiaohu.ledger import service
from xiaohu.ledger.rules import (
    Posting,
    UnbalancedTransaction,
    account_type,
    check_balanced,
    credit,
    debit,
)
from xiaohu.runtime import Context

ACCOUNTS = [
    "subscriber_cash:44",
    "receivables:11",
    "revenue:31",
    "gateway_clearing",
    "opening_balances:65",
]


def test_unbalanced_transaction_is_refused_before_any_write(ctx: Context) -> None:
    with pytest.raises(UnbalancedTransaction):
        service.post(
            ctx.session,
            "bad",
            [debit("gateway_clearing", 100), credit("revenue:44", 99)],
            at=ctx.now(),
        )
    assert service.trial_balance(ctx.session)["debits_fen"] == 0


@pytest.mark.parametrize(
    "leg",
    [Posting("revenue:44", debit_fen=-1), Posting("revenue:44", debit_fen=1, credit_fen=1)],
)
def test_a_leg_is_one_non_negative_side(leg: Posting) -> None:
    with pytest.raises(UnbalancedTransaction):
        check_balanced([leg])


def test_unknown_account_is_refused() -> None:
    with pytest.raises(KeyError):
        account_type("petty_cash:44")
    with pytest.raises(KeyError):
        account_type("revenue:4")


def _balanced(amounts: list[int], accounts: list[str]) -> list[Posting]:
    """Random debits, and credits that split the same total over other accounts."""
    legs = [debit(accounts[i % len(accounts)], a) for i, a in enumerate(amounts)]
    total = sum(amounts)
    half = total // 2
    legs += [credit(accounts[-1], half), credit(accounts[0], total - half)]
    return legs


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.lists(st.integers(0, 10**9), min_size=1, max_size=5), st.permutations(ACCOUNTS)
        ),
        min_size=1,
        max_size=6,
    )
)
def test_random_balanced_transactions_keep_the_trial_balance_at_zero(
    ctx: Context, txns: list[tuple[list[int], list[str]]]
) -> None:
    before = service.trial_balance(ctx.session)
    expected = int(before["debits_fen"])  # type: ignore[call-overload]
    for amounts, accounts in txns:
        service.post(ctx.session, "random", _balanced(amounts, accounts), at=ctx.now())
        expected += sum(amounts)
    tb = service.trial_balance(ctx.session)
    assert tb["balanced"] is True
    assert tb["debits_fen"] == tb["credits_fen"] == expected
