"""E-invoices (电子发票) and the per-province, per-year counters that number them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xiaohu.kit.db import Base, Fen, UTCDateTime


class InvoiceCounter(Base):
    """The last sequence number a province issued in a year. Its row is locked by each issue
    (an UPDATE) until the transaction ends, so numbers follow each other without gaps: a
    rolled-back issue takes its number back with it."""

    __tablename__ = "invoice_counters"

    province_code: Mapped[str] = mapped_column(String(2), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class Invoice(Base):
    """One invoice. `amount_fen` is positive for both kinds: a red invoice takes that much of
    its `original_number` back. A blue one names an original only when it reissues a red
    one's amount (a reversed cancellation)."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("province_code", "year", "seq"),
        Index("ix_invoices_line_id_kind", "line_id", "kind"),
    )

    number: Mapped[str] = mapped_column(String(20), primary_key=True)
    province_code: Mapped[str] = mapped_column(String(2))  # the issuer: the line's home
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(4))  # blue | red
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    msisdn: Mapped[str] = mapped_column(String(11))
    amount_fen: Mapped[int] = mapped_column(Fen)
    item: Mapped[str] = mapped_column(String(16))  # rules.ITEMS
    original_number: Mapped[str | None] = mapped_column(ForeignKey("invoices.number"), index=True)
    # The payment a blue invoice is for: one invoice per payment, whatever retries it.
    payment_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    # The event a red or reissued invoice records: `<cancellation id>` (the refund at
    # cancellation, and its reversal) or `true_up:<cancellation id>` (the cycle's refund).
    ref: Mapped[str | None] = mapped_column(String(64), index=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
