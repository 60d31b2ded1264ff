"""Bills, rated usage, usage history, payments and refunds."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xiaohu.kit.db import Base, BigId, Fen, JsonDoc, UTCDateTime


class Bill(Base):
    __tablename__ = "bills"
    __table_args__ = (
        UniqueConstraint("line_id", "period", "kind"),
        Index("ix_bills_line_id_status", "line_id", "status"),
        # The lifecycle run finds what went overdue: unpaid bills by due date.
        Index("ix_bills_status_due_on", "status", "due_on"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    province_code: Mapped[str] = mapped_column(String(2))
    period: Mapped[str] = mapped_column(String(7))
    # cycle (the monthly bill) | retention (a retained line's month) | final | late_usage
    kind: Mapped[str] = mapped_column(String(16), default="cycle")
    amount_fen: Mapped[int] = mapped_column(Fen)
    paid_fen: Mapped[int] = mapped_column(Fen, default=0)
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    # unpaid | paid | void | written_off (an automatic cancellation's bad debt, policy)
    status: Mapped[str] = mapped_column(String(12), default="unpaid")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class UsageRecord(Base):
    """Rated usage. Unbilled until a bill or a final bill takes it (`bill_id`)."""

    __tablename__ = "usage_records"
    __table_args__ = (Index("ix_usage_records_line_id_billed", "line_id", "billed"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    province_code: Mapped[str] = mapped_column(String(2))
    amount_fen: Mapped[int] = mapped_column(Fen)
    source: Mapped[str] = mapped_column(String(16), default="import")  # import | network | late
    period: Mapped[str | None] = mapped_column(String(7))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    billed: Mapped[bool] = mapped_column(default=False)
    bill_id: Mapped[int | None] = mapped_column(ForeignKey("bills.id"))


class UsageHistory(Base):
    """Usage of past cycles, for the late-usage reserve (average of the last cycles)."""

    __tablename__ = "usage_history"

    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True)  # 1 = most recent cycle
    province_code: Mapped[str] = mapped_column(String(2))
    amount_fen: Mapped[int] = mapped_column(Fen)


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), index=True)
    province_code: Mapped[str] = mapped_column(String(2))
    amount_fen: Mapped[int] = mapped_column(Fen)
    gateway: Mapped[str] = mapped_column(String(24))
    gateway_ref: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))  # succeeded | declined
    applied: Mapped[list[dict[str, object]]] = mapped_column(JsonDoc, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # Taken at a store's counter: the store (cash goes into its drawer), cash or card, the clerk.
    store_code: Mapped[str | None] = mapped_column(String(32))
    method: Mapped[str | None] = mapped_column(String(8))
    staff_login: Mapped[str | None] = mapped_column(String(40))


class Refund(Base):
    """Cash paid back to a subscriber: at cancellation (`now`) or at cycle close (`true_up`)."""

    __tablename__ = "refunds"
    __table_args__ = (UniqueConstraint("cancellation_id", "kind"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    cancellation_id: Mapped[str] = mapped_column(ForeignKey("cancellations.id"))
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), index=True)
    province_code: Mapped[str] = mapped_column(String(2))
    kind: Mapped[str] = mapped_column(String(12))  # now | true_up
    amount_fen: Mapped[int] = mapped_column(Fen)
    route: Mapped[dict[str, object]] = mapped_column(JsonDoc)
    # pending (owed: the payout is on its way) | paid (the gateway confirmed it, or a transfer
    # to another line) | failed (the payout gave up: `xiaohu refunds retry`)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    declines: Mapped[int] = mapped_column(default=0)  # payouts the gateway declined so far
    last_error: Mapped[str | None] = mapped_column(Text)
    gateway_ref: Mapped[str | None] = mapped_column(String(64))
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
