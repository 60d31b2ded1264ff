"""The ledger postings of an import: opening balances in one journal transaction per province
of a batch (each province's books balance on their own: a transaction touches one province).

Opening cash = Dr opening_balances / Cr subscriber_cash(line); gift = Dr opening_balances /
Cr subscriber_gift(line); unpaid bill = Dr receivables(line) / Cr opening_balances. A re-imported
number posts only the difference, so the trial balance holds from the first import and the line
columns stay equal to the sub-ledger.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Table

from xiaohu.ledger.models import JournalEntry, JournalTransaction
from xiaohu.ledger.rules import UnbalancedTransaction
from xiaohu.ledger.service import ensure_accounts

if TYPE_CHECKING:
    from xiaohu.intake.batch import BatchWriter

_entries: Table = JournalEntry.__table__  # type: ignore[assignment]
_transactions: Table = JournalTransaction.__table__  # type: ignore[assignment]


def post_opening_balances(
    batch: BatchWriter,
    old: dict[str, Any],
    receivable_before: dict[int, int],
    kept: set[tuple[int, str]],
) -> None:
    """Post opening balances (or, for a re-import, the difference) in one transaction."""
    # Legs as (province, account, line_id, debit, credit): a million lines, a million legs.
    legs: list[tuple[str, str, int | None, int, int]] = []
    opening: dict[str, int] = {}  # province -> net debit to opening_balances

    def post(account: str, lid: int, province: str, credit_amount: int) -> None:
        """A credit (negative: a debit) to a line's sub-account, opposite opening."""
        if credit_amount > 0:
            legs.append((province, f"{account}:{province}", lid, 0, credit_amount))
        elif credit_amount < 0:
            legs.append((province, f"{account}:{province}", lid, -credit_amount, 0))
        else:
            return
        opening[province] = opening.get(province, 0) + credit_amount

    for r, _, _ in batch.records:
        lid, p = batch.line_id[r.msisdn], r.province_code
        row = old.get(r.msisdn)
        receivable = sum(b.amount_fen for b in r.unpaid_bills if (lid, b.period) not in kept)
        if row is None or row.province_code == p:
            was_cash, was_gift = (0, 0) if row is None else (row.cash_fen, row.gift_fen)
            post("subscriber_cash", lid, p, r.cash_fen - was_cash)
            post("subscriber_gift", lid, p, r.gift_fen - was_gift)
            post("receivables", lid, p, -(receivable - receivable_before.get(lid, 0)))
        else:  # the home province changed: close the old sub-accounts, open the new
            q = row.province_code
            post("subscriber_cash", lid, q, -row.cash_fen)
            post("subscriber_gift", lid, q, -row.gift_fen)
            post("receivables", lid, q, receivable_before.get(lid, 0))
            post("subscriber_cash", lid, p, r.cash_fen)
            post("subscriber_gift", lid, p, r.gift_fen)
            post("receivables", lid, p, -receivable)
    for province, amount in sorted(opening.items()):
        if amount > 0:
            legs.append((province, f"opening_balances:{province}", None, amount, 0))
        elif amount < 0:
            legs.append((province, f"opening_balances:{province}", None, 0, -amount))
    if not legs:
        return
    provinces = sorted({leg[0] for leg in legs})
    for province in provinces:  # each leg is one-sided by construction; the sums must agree
        debits = sum(leg[3] for leg in legs if leg[0] == province)
        credits = sum(leg[4] for leg in legs if leg[0] == province)
        if debits != credits:
            raise UnbalancedTransaction(
                f"import batch, province {province}: debits {debits} != credits {credits}"
            )
    imp = batch.imp
    codes = {leg[1] for leg in legs} - imp.accounts_ready
    if codes:
        batch.flush()
        ensure_accounts(imp.session, codes)
        imp.accounts_ready.update(codes)
    txn_ids = dict(zip(provinces, imp.bulk.ids(_transactions, len(provinces)), strict=True))
    batch.insert(
        _transactions,
        ("id", "kind", "memo", "ref", "province_code", "posted_at"),
        [(txn_id, "import.opening_balances",
          f"opening balances of imported lines (batch of {len(batch.records)})", None, province,
          batch.now)
         for province, txn_id in txn_ids.items()],
    )  # fmt: skip
    batch.insert(
        _entries,
        ("transaction_id", "account_code", "line_id", "debit_fen", "credit_fen"),
        [(txn_ids[province], account, lid, d, c) for province, account, lid, d, c in legs],
    )
