"""Double-entry ledger: accounts, journal transactions, entries.

Accounts are few and named by code (`subscriber_cash:44`); a line is a sub-ledger dimension on
each entry (`line_id`), so a million subscribers do not become a million accounts.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from xiaohu.kit.db import Base, BigId, Fen, UTCDateTime

ACCOUNT_TYPES = ("asset", "liability", "equity", "revenue", "expense")


class LedgerAccount(Base):
    __tablename__ = "ledger_accounts"

    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    type: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(120))
    province_code: Mapped[str | None] = mapped_column(String(2))


class JournalTransaction(Base):
    __tablename__ = "journal_transactions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    memo: Mapped[str | None] = mapped_column(String(200))
    ref: Mapped[str | None] = mapped_column(String(64), index=True)
    province_code: Mapped[str | None] = mapped_column(String(2))
    posted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class JournalEntry(Base):
    __tablename__ = "journal_entries"
    __table_args__ = (
        CheckConstraint(
            "(debit_fen >= 0 AND credit_fen >= 0) AND (debit_fen = 0 OR credit_fen = 0)",
            name="one_side",
        ),
        Index("ix_journal_entries_line_id_account_code", "line_id", "account_code"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("journal_transactions.id"), index=True)
    account_code: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.code"))
    line_id: Mapped[int | None] = mapped_column(ForeignKey("lines.id"))
    debit_fen: Mapped[int] = mapped_column(Fen, default=0)
    credit_fen: Mapped[int] = mapped_column(Fen, default=0)
