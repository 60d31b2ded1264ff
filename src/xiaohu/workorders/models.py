"""The work order: a store's cancellation request waiting for the home province's decision.

The request itself is a `cancellations` row with status `pending_review` (the same id the
cancellation keeps once approved, `rejected` once refused); the order holds what the decision
needs: why a person must decide, where the request was made, what the clerk saw, the route the
refund is to take, and the deadline.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from xiaohu.kit.db import Base, JsonDoc, UTCDateTime


class OrderStatus(StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"


class WorkOrder(Base):
    __tablename__ = "work_orders"
    __table_args__ = (
        Index("ix_work_orders_home_status", "home_province", "status", "due_at"),
        Index("ix_work_orders_line_status", "line_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))  # the first trigger: fraud_stop | ...
    reasons: Mapped[list[str]] = mapped_column(JsonDoc)  # every trigger that applied
    cancellation_id: Mapped[str] = mapped_column(String(32), unique=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    msisdn: Mapped[str] = mapped_column(String(11))
    home_province: Mapped[str] = mapped_column(String(2))
    handling_province: Mapped[str] = mapped_column(String(2))
    store_code: Mapped[str] = mapped_column(String(32))
    staff_login: Mapped[str] = mapped_column(String(40))  # the clerk who opened it
    # What approval needs again: quote_id, refund_route (a card number masked),
    # acknowledged_warnings, in_person, and the documents seen (masked).
    request: Mapped[dict[str, object]] = mapped_column(JsonDoc)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(40))
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    overdue_notified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
