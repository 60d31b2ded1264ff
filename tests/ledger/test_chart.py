"""The chart of accounts: seeded whole by the first migration; created on first use at most
once even when two transactions need a new account at the same instant."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, func, select

from xiaohu.kit.db import transaction
from xiaohu.ledger.models import LedgerAccount
from xiaohu.ledger.rules import ACCOUNTS, NATIONAL_ACCOUNTS, account_code, account_type
from xiaohu.ledger.service import ensure_accounts, known_accounts
from xiaohu.regions.provinces import PROVINCES
from xiaohu.runtime import Context, Runtime


def test_the_migration_seeds_every_account_of_the_chart(ctx: Context) -> None:
    expected = {account_code(t, p) for t in ACCOUNTS for p in PROVINCES} | set(NATIONAL_ACCOUNTS)
    assert len(expected) == len(ACCOUNTS) * 31 + len(NATIONAL_ACCOUNTS)
    rows = {a.code: a for a in ctx.session.scalars(select(LedgerAccount))}
    assert set(rows) == expected
    for code, row in rows.items():  # the frozen data agrees with the rules
        assert (row.type, row.name, row.province_code) == account_type(code), code


def test_a_seeded_account_is_found_not_created(ctx: Context) -> None:
    ensure_accounts(ctx.session, ["revenue:44", "gateway_clearing"])
    assert not ctx.session.new
    assert ctx.session.scalar(select(func.count()).select_from(LedgerAccount)) == len(
        ACCOUNTS
    ) * 31 + len(NATIONAL_ACCOUNTS)
    known = known_accounts(ctx.session)
    assert {"revenue:44", "gateway_clearing"} <= known


def test_an_account_this_transaction_created_is_not_remembered(ctx: Context) -> None:
    """Cached, it would let another transaction post to it before this one commits (or after
    it rolled back): a foreign key violation. Found again in the same transaction, still not."""
    ensure_accounts(ctx.session, ["revenue:99", "revenue:44"])
    ensure_accounts(ctx.session, ["revenue:99"])
    known = known_accounts(ctx.session)
    assert "revenue:44" in known and "revenue:99" not in known
    assert ctx.session.get(LedgerAccount, "revenue:99") is not None


@pytest.mark.postgres
def test_two_first_uses_of_a_new_account_at_once(committed_runtime: Runtime) -> None:
    rt = committed_runtime
    code = "revenue:99"  # a province the seed does not know: created on first use
    first = rt.sessions()
    ensure_accounts(first, [code])  # inserted, not yet committed: must not be cached as known
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with transaction(rt.sessions) as s:
                ensure_accounts(s, [code])  # blocks on the key until the first commits
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    worker = threading.Thread(target=second)
    worker.start()
    worker.join(0.5)
    assert worker.is_alive(), "the second insert should wait for the first transaction"
    first.commit()
    first.close()
    worker.join(30)
    try:
        assert not worker.is_alive() and errors == []
        with rt.sessions() as s:
            assert s.scalar(select(func.count()).where(LedgerAccount.code == code)) == 1
    finally:
        with transaction(rt.sessions) as s:
            s.execute(delete(LedgerAccount).where(LedgerAccount.code == code))
