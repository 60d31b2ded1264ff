"""Posting journal transactions and reading balances.

Postings are written with Core statements on the session's connection, not as ORM objects:
a cancellation posts four or five transactions, and two multi-row inserts cost a fraction of
flushing each transaction and then its entries. Nothing reads journal rows back through the ORM
identity map within a unit of work, so there is nothing to keep in step.
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Table, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from xiaohu.ledger.models import JournalEntry, JournalTransaction, LedgerAccount
from xiaohu.ledger.rules import Posting, account_type, check_balanced

# Accounts seen committed in the database, per engine, so a hot path does not look them up every
# time. Only codes a lookup found are cached, never ones a transaction inserted itself: that
# transaction may still roll back, and another thread trusting the cache would then post to an
# account that does not exist (a foreign key violation). Held weakly by the engine (or the
# connection a session is bound to): the cache ends with it, and nothing has to reset it.
_KNOWN: weakref.WeakKeyDictionary[object, set[str]] = weakref.WeakKeyDictionary()
_INSERTED = "xiaohu_accounts_inserted"  # session.info: codes this session's transaction added


def ensure_accounts(session: Session, codes: Iterable[str]) -> None:
    """Make sure the accounts exist before a posting names them.

    The whole chart is seeded by the first migration, so this normally only reads (and after
    the first time, not even that). An account added to the chart later is created on first
    use, each in a savepoint: when two transactions create it at once, the loser's insert
    fails on the primary key once the winner commits, and the account is there all the same."""
    known = known_accounts(session)
    missing = [c for c in set(codes) if c not in known]
    if not missing:
        return
    present = set(
        session.scalars(select(LedgerAccount.code).where(LedgerAccount.code.in_(missing)))
    )
    inserted: set[str] = session.info.setdefault(_INSERTED, set())
    for code in sorted(missing):
        if code not in present:
            kind, name, province = account_type(code)
            try:
                with session.begin_nested():
                    session.add(
                        LedgerAccount(code=code, type=kind, name=name, province_code=province)
                    )
                inserted.add(code)
            except IntegrityError:  # created by a concurrent transaction: fine
                pass
    session.flush()
    # Found by the lookup and not added by this very transaction: committed, safe to remember.
    known.update(present - inserted)


def known_accounts(session: Session) -> set[str]:
    """The account codes known committed in the database `session` is bound to."""
    bind = session.get_bind()
    known = _KNOWN.get(bind)
    if known is None:
        known = _KNOWN.setdefault(bind, set())
    return known


@dataclass(frozen=True)
class Txn:
    """One journal transaction to post: its kind, legs, reference and memo."""

    kind: str
    postings: Sequence[Posting]
    ref: str | None = None
    memo: str | None = None


_TRANSACTIONS: Table = JournalTransaction.__table__  # type: ignore[assignment]
_ENTRIES: Table = JournalEntry.__table__  # type: ignore[assignment]
_INSERT_TRANSACTIONS = _TRANSACTIONS.insert().returning(
    _TRANSACTIONS.c.id, sort_by_parameter_order=True
)
_INSERT_ENTRIES = _ENTRIES.insert()


def post_many(
    session: Session, txns: Iterable[Txn], *, at: dt.datetime, province_code: str | None = None
) -> list[int]:
    """Write several balanced journal transactions in two statements (the transactions, then
    every entry); return their ids. All are checked before anything is written; a transaction
    whose legs are all zero is left out."""
    checked = [(t, legs) for t in txns if (legs := check_balanced(t.postings))]
    if not checked:
        return []
    ensure_accounts(session, (p.account for _, legs in checked for p in legs))
    connection = session.connection()
    rows = [
        {"kind": t.kind, "memo": t.memo, "ref": t.ref, "province_code": province_code,
         "posted_at": at}
        for t, _ in checked
    ]  # fmt: skip
    ids = [int(i) for i in connection.execute(_INSERT_TRANSACTIONS, rows).scalars()]
    entries = [
        {
            "transaction_id": txn_id,
            "account_code": p.account,
            "line_id": p.line_id,
            "debit_fen": p.debit_fen,
            "credit_fen": p.credit_fen,
        }
        for txn_id, (_, legs) in zip(ids, checked, strict=True)
        for p in legs
    ]
    connection.execute(_INSERT_ENTRIES, entries)
    return ids


def post(
    session: Session,
    kind: str,
    postings: Iterable[Posting],
    *,
    at: dt.datetime,
    ref: str | None = None,
    memo: str | None = None,
    province_code: str | None = None,
) -> int | None:
    """Write one balanced journal transaction (its id; None when every leg is zero). An
    unbalanced one raises before any write."""
    ids = post_many(
        session, [Txn(kind, list(postings), ref, memo)], at=at, province_code=province_code
    )
    return ids[0] if ids else None


def line_balance(session: Session, account: str, line_id: int) -> int:
    """Credit-normal balance of one line's sub-ledger on a liability account."""
    row = session.execute(
        select(
            func.coalesce(func.sum(JournalEntry.credit_fen), 0),
            func.coalesce(func.sum(JournalEntry.debit_fen), 0),
        ).where(JournalEntry.account_code == account, JournalEntry.line_id == line_id)
    ).one()
    return int(row[0]) - int(row[1])


def trial_balance(session: Session, province_code: str | None = None) -> dict[str, object]:
    """Every account's debits and credits, national or of one province's books. A province's
    books are its journal transactions (each touches that province's accounts only, and the
    national gateway clearing for the province's share of it), so they balance on their own."""
    stmt = (
        select(
            JournalEntry.account_code,
            LedgerAccount.type,
            func.coalesce(func.sum(JournalEntry.debit_fen), 0),
            func.coalesce(func.sum(JournalEntry.credit_fen), 0),
        )
        .join(LedgerAccount, LedgerAccount.code == JournalEntry.account_code)
        .group_by(JournalEntry.account_code, LedgerAccount.type)
        .order_by(JournalEntry.account_code)
    )
    if province_code is not None:
        stmt = stmt.join(
            JournalTransaction, JournalTransaction.id == JournalEntry.transaction_id
        ).where(JournalTransaction.province_code == province_code)
    rows = session.execute(stmt).all()
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
    scope = {} if province_code is None else {"province_code": province_code}
    return {
        **scope,
        "balanced": debits == credits,
        "debits_fen": debits,
        "credits_fen": credits,
        "accounts": accounts,
    }
