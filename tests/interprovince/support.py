"""Checks of the books between provinces: each province's books balance on their own, every
journal transaction touches one province's accounts, and the two halves of each due match."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from xiaohu.ledger.models import JournalEntry, JournalTransaction, LedgerAccount
from xiaohu.ledger.service import trial_balance

GZ_STORE = "44-GZ-0001"  # Guangzhou, own flagship
NJ_STORE = "32-NJ-0001"  # Nanjing, own flagship


def dues(session: Session) -> dict[tuple[str, str], tuple[int, int]]:
    """(debtor, creditor) → (the debtor's `due_to` balance, the creditor's `due_from` one)."""
    out: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for a in trial_balance(session)["accounts"]:  # type: ignore[attr-defined]
        head, _, rest = str(a["code"]).partition(":")
        own, _, other = rest.partition(":")
        if head == "due_to":
            out[(own, other)][0] += -int(a["balance_fen"])  # a liability: credit-normal
        elif head == "due_from":
            out[(other, own)][1] += int(a["balance_fen"])
    return {k: (v[0], v[1]) for k, v in out.items() if v != [0, 0]}


def assert_provinces_balance(session: Session) -> set[str]:
    """Every transaction touches one province's accounts (and the national clearing), tagged
    with it; each province's trial balance and the national one are zero; every due is held
    by both sides alike. Returns the provinces whose books have entries."""
    rows = session.execute(
        select(JournalTransaction.id, JournalTransaction.province_code, LedgerAccount.province_code)
        .join(JournalEntry, JournalEntry.transaction_id == JournalTransaction.id)
        .join(LedgerAccount, LedgerAccount.code == JournalEntry.account_code)
    ).all()
    by_txn: dict[int, set[str | None]] = defaultdict(set)
    tagged: dict[int, str | None] = {}
    for txn, tag, province in rows:
        tagged[txn] = tag
        if province is not None:
            by_txn[txn].add(province)
    for txn, provinces in by_txn.items():
        assert provinces == {tagged[txn]}, (txn, tagged[txn], provinces)
    assert trial_balance(session)["balanced"] is True
    seen = {p for p in tagged.values() if p is not None}
    for p in seen:
        tb = trial_balance(session, p)
        assert tb["balanced"] is True and tb["debits_fen"] == tb["credits_fen"], (p, tb)
    for pair, (owed, held) in dues(session).items():
        assert owed == held, (pair, owed, held)
    return seen
