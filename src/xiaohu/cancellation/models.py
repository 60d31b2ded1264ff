"""Cancellations and logged refusals. (A quote is a signed token, not a row: `quotes.py`.)"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from xiaohu.kit.db import Base, BigId, Fen, JsonDoc, UTCDateTime


class Cancellation(Base):
    __tablename__ = "cancellations"
    __table_args__ = (
        Index("ix_cancellations_line_id_status", "line_id", "status"),
        # The recycled-number check asks by number: was it cancelled since a date?
        Index("ix_cancellations_msisdn_cancelled_at", "msisdn", "cancelled_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    msisdn: Mapped[str] = mapped_column(String(11))
    province_code: Mapped[str] = mapped_column(String(2))
    handling_province_code: Mapped[str] = mapped_column(String(2))
    channel: Mapped[str] = mapped_column(String(16))  # online | store | hotline | auto
    status: Mapped[str] = mapped_column(String(16))  # cancelled | reversed
    account_status: Mapped[str] = mapped_column(String(16))  # settling | closed | reversed
    quote_id: Mapped[str | None] = mapped_column(String(100))  # the signed quote token
    cancelled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    undo_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    period: Mapped[str] = mapped_column(String(7))
    final_charges: Mapped[list[dict[str, object]]] = mapped_column(JsonDoc)
    charges_fen: Mapped[int] = mapped_column(Fen)
    refund_now_fen: Mapped[int] = mapped_column(Fen)
    reserve_fen: Mapped[int] = mapped_column(Fen)
    forfeited_fen: Mapped[int] = mapped_column(Fen)
    route: Mapped[dict[str, object]] = mapped_column(JsonDoc)
    # What a reversal needs to put back exactly: the status before, the gift spent on charges.
    previous_status: Mapped[str | None] = mapped_column(String(24))
    gift_applied_fen: Mapped[int | None] = mapped_column(Fen)
    shortfall_fen: Mapped[int | None] = mapped_column(Fen)  # late usage beyond the cash held
    late_usage_fen: Mapped[int | None] = mapped_column(Fen)
    trued_up_fen: Mapped[int | None] = mapped_column(Fen)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reversed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Who handled it away from the app: the store (its drawer paid a cash refund) and the
    # staff login (a clerk, or the hotline agent who spoke with the caller).
    store_code: Mapped[str | None] = mapped_column(String(32))
    staff_login: Mapped[str | None] = mapped_column(String(40))
    # The former owner took the number back during quarantine (`numbers` reclaim): for the
    # recycled-number check the number did not change hands, as after a reversal.
    reclaimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


def latest_cancellation(session: Session, line_id: int) -> Cancellation | None:
    """The line's most recent cancellation (a reversed one included), if any."""
    return session.scalars(
        select(Cancellation)
        .where(Cancellation.line_id == line_id)
        .order_by(Cancellation.cancelled_at.desc())
        .limit(1)
    ).one_or_none()


class Refusal(Base):
    """Every refused cancellation, with its blocker codes: the subscriber's complaint evidence."""

    __tablename__ = "cancellation_refusals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), index=True)
    province_code: Mapped[str] = mapped_column(String(2))
    channel: Mapped[str] = mapped_column(String(16))
    codes: Mapped[list[str]] = mapped_column(JsonDoc)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # The notice's reference (拒绝销户告知书), and what was shown: each blocker's messages and
    # remedy as the subscriber saw them (older refusals have only the codes).
    reference: Mapped[str | None] = mapped_column(String(40), unique=True)
    store_code: Mapped[str | None] = mapped_column(String(32))
    staff_login: Mapped[str | None] = mapped_column(String(40))
    blockers: Mapped[list[dict[str, object]] | None] = mapped_column(JsonDoc)
