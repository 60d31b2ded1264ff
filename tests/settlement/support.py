"""Dues between provinces for settlement tests, posted as the cross-region flows post them:
each side in its own province's transaction (API.md, the shared due accounts)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from xiaohu.kit.clock import SHANGHAI
from xiaohu.ledger.models import JournalEntry, JournalTransaction, LedgerAccount
from xiaohu.ledger.rules import credit, debit, store_drawer
from xiaohu.ledger.service import Txn, post_many

BALANCE = func.sum(JournalEntry.debit_fen - JournalEntry.credit_fen)

OCTOBER = dt.datetime(2026, 10, 1, tzinfo=SHANGHAI)  # the settled month in these tests
CODES = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65",
]  # fmt: skip


def drawer(province: str) -> str:
    return store_drawer(f"{province}-XX-0001")


def post_due(session: Session, payer: str, receiver: str, amount: int, at: dt.datetime) -> None:
    """`payer` comes to owe `receiver` `amount` fen: a cash refund the receiver's store paid
    for the payer's line, in both books."""
    ref = f"test-{payer}-{receiver}-{amount}-{at.timestamp()}"
    post_many(
        session,
        [Txn("interprovince.cash_refund", [
            debit(f"subscriber_cash:{payer}", amount), credit(f"due_to:{payer}:{receiver}", amount)
        ], ref)],
        at=at,
        province_code=payer,
    )  # fmt: skip
    post_many(
        session,
        [Txn("interprovince.cash_refund", [
            debit(f"due_from:{receiver}:{payer}", amount), credit(drawer(receiver), amount)
        ], ref)],
        at=at,
        province_code=receiver,
    )  # fmt: skip


def province_balances(session: Session) -> dict[str | None, int]:
    """Debits less credits of each province's accounts: every one is zero when each
    province's books balance on their own."""
    rows = session.execute(
        select(LedgerAccount.province_code, BALANCE)
        .join(LedgerAccount, LedgerAccount.code == JournalEntry.account_code)
        .group_by(LedgerAccount.province_code)
    ).all()
    return {p: int(total or 0) for p, total in rows}


def mixed_transactions(session: Session) -> list[int]:
    """Journal transactions that touch the accounts of more than one province (must be none)."""
    rows = session.execute(
        select(JournalTransaction.id)
        .join(JournalEntry, JournalEntry.transaction_id == JournalTransaction.id)
        .join(LedgerAccount, LedgerAccount.code == JournalEntry.account_code)
        .group_by(JournalTransaction.id)
        .having(func.count(func.distinct(LedgerAccount.province_code)) > 1)
    ).all()
    return [r[0] for r in rows]


def account_balances(session: Session, prefix: str) -> dict[str, int]:
    """Debits less credits of every account whose code starts with `prefix`."""
    rows = session.execute(
        select(JournalEntry.account_code, BALANCE)
        .where(JournalEntry.account_code.like(f"{prefix}%"))
        .group_by(JournalEntry.account_code)
    ).all()
    return {code: int(total) for code, total in rows}


def expected_nets(dues: dict[tuple[str, str], int]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for (payer, receiver), amount in dues.items():
        out[payer] -= amount
        out[receiver] += amount
    return {p: n for p, n in out.items() if n}


def moved(transfers: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for t in transfers:
        assert t["amount_fen"] > 0
        out[t["from"]] -= t["amount_fen"]
        out[t["to"]] += t["amount_fen"]
    return {p: n for p, n in out.items() if n}
