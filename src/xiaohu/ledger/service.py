"""Posting journal transactions and reading balances."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from xiaohu.ledger.models import JournalEntry, JournalTransaction, LedgerAccount
from xiaohu.ledger.rules import Posting, account_type, check_balanced

# Accounts known to exist in this process, so a hot path does not look them up every time.
_known_accounts: set[tuple[int, str]] = set()


def ensure_accounts(session: Session, codes: Iterable[str]) -> None:
    """Make sure the accounts exist before a posting names them.

    The whole chart is seeded by the first migration, so this normally only reads. An account
    added to the chart later is created on first use, each in a savepoint: when two
    transactions create it at once, the loser's insert fails on the primary key once the
    winner commits, and the account is there all the same."""
    key = id(session.get_bind())
    missing = [c for c in set(codes) if (key, c) not in _known_accounts]
    if not missing:
        return
    present = set(
        session.scalars(select(LedgerAccount.code).where(LedgerAccount.code.in_(missing)))
    )
    for code in sorted(missing):
        if code not in present:
            kind, name, province = account_type(code)
            try:
                with session.begin_nested():
                    session.add(
                        LedgerAccount(code=code, type=kind, name=name, province_code=province)
                    )
            except IntegrityError:  # created by a concurrent transaction: fine
                pass
    session.flush()
    _known_accounts.update((key, c) for c in missing)


def forget_known_accounts() -> None:
    """Tests roll back account rows; the cache must not outlive them."""
    _known_accounts.clear()


def post(
    session: Session,
    kind: str,
    postings: Iterable[Posting],
    *,
    at: dt.datetime,
    ref: str | None = None,
    memo: str | None = None,
    province_code: str | None = None,
) -> JournalTransaction | None:
    """Write one balanced journal transaction; an unbalanced one raises before any write."""
    legs = check_balanced(postings)
    if not legs:
        return None
    ensure_accounts(session, (p.account for p in legs))
    txn = JournalTransaction(
        kind=kind, memo=memo, ref=ref, province_code=province_code, posted_at=at
    )
    session.add(txn)
    session.flush()
    session.add_all(
        JournalEntry(
            transaction_id=txn.id,
            account_code=p.account,
            line_id=p.line_id,
            debit_fen=p.debit_fen,
            credit_fen=p.credit_fen,
        )
        for p in legs
    )
    session.flush()
    return txn


def line_balance(session: Session, account: str, line_id: int) -> int:
    """Credit-normal balance of one line's sub-ledger on a liability account."""
    row = session.execute(
        select(
            func.coalesce(func.sum(JournalEntry.credit_fen), 0),
            func.coalesce(func.sum(JournalEntry.debit_fen), 0),
        ).where(JournalEntry.account_code == account, JournalEntry.line_id == line_id)
    ).one()
    return int(row[0]) - int(row[1])


def trial_balance(session: Session) -> dict[str, object]:
    rows = session.execute(
        select(
            JournalEntry.account_code,
            LedgerAccount.type,
            func.coalesce(func.sum(JournalEntry.debit_fen), 0),
            func.coalesce(func.sum(JournalEntry.credit_fen), 0),
        )
        .join(LedgerAccount, LedgerAccount.code == JournalEntry.account_code)
        .group_by(JournalEntry.account_code, LedgerAccount.type)
        .order_by(JournalEntry.account_code)
    ).all()
    accounts = [
        {
            "code": code,
            "type": kind,
            "debits_fen": int(d),
            "credits_fen": int(c),
            "balance_fen": int(d) - int(c),
        }
        for code, kind, d, c in rows
    ]
    debits = sum(a["debits_fen"] for a in accounts)  # type: ignore[misc]
    credits = sum(a["credits_fen"] for a in accounts)  # type: ignore[misc]
    return {
        "balanced": debits == credits,
        "debits_fen": debits,
        "credits_fen": credits,
        "accounts": accounts,
    }
