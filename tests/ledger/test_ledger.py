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


def test_post_many_writes_each_transaction_with_its_own_entries(ctx: Context) -> None:
    from sqlalchemy import select

    from xiaohu.ledger.models import JournalEntry, JournalTransaction

    ids = service.post_many(
        ctx.session,
        [
            service.Txn("a", [debit("gateway_clearing", 100), credit("revenue:44", 100)], "r1"),
            service.Txn("empty", [debit("gateway_clearing", 0), credit("revenue:44", 0)], "r1"),
            service.Txn("b", [debit("receivables:11", 7), credit("revenue:11", 7)], "r2", "m"),
        ],
        at=ctx.now(),
        province_code="44",
    )
    assert len(ids) == 2 and ids[0] < ids[1]
    rows = ctx.session.execute(
        select(JournalTransaction.id, JournalTransaction.kind, JournalTransaction.ref)
        .where(JournalTransaction.id.in_(ids))
        .order_by(JournalTransaction.id)
    ).all()
    assert [tuple(r)[1:] for r in rows] == [("a", "r1"), ("b", "r2")]
    entries = ctx.session.execute(
        select(JournalEntry.transaction_id, JournalEntry.account_code, JournalEntry.debit_fen)
        .where(JournalEntry.transaction_id.in_(ids))
        .order_by(JournalEntry.id)
    ).all()
    assert [tuple(e) for e in entries] == [
        (ids[0], "gateway_clearing", 100),
        (ids[0], "revenue:44", 0),
        (ids[1], "receivables:11", 7),
        (ids[1], "revenue:11", 0),
    ]


def test_post_many_checks_every_transaction_before_writing_any(ctx: Context) -> None:
    good = service.Txn("good", [debit("gateway_clearing", 5), credit("revenue:44", 5)])
    bad = service.Txn("bad", [debit("gateway_clearing", 5), credit("revenue:44", 4)])
    with pytest.raises(UnbalancedTransaction):
        service.post_many(ctx.session, [good, bad], at=ctx.now())
    assert service.trial_balance(ctx.session)["debits_fen"] == 0
