"""The outbox (side effects written in the business transaction) and the sandbox SMS store."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from xiaohu.kit.db import Base, BigId, JsonDoc, UTCDateTime
from xiaohu.notifications.rules import OutboxStatus


class OutboxTopic(StrEnum):
    SMS = "sms"
    PROVISIONING = "network.provisioning"
    REFUND_PAYOUT = "payment.refund"


class OutboxMessage(Base):
    __tablename__ = "outbox"
    # Delivery reads the due messages: pending, and next_attempt_at empty (new) or past.
    __table_args__ = (Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    topic: Mapped[str] = mapped_column(String(40))  # OutboxTopic
    province_code: Mapped[str | None] = mapped_column(String(2))
    payload: Mapped[dict[str, object]] = mapped_column(JsonDoc)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default=OutboxStatus.PENDING.value)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SandboxSms(Base):
    """What the sandbox SMS gateway 'sent'. Keyed by outbox id so redelivery is harmless."""

    __tablename__ = "sandbox_sms"
    __table_args__ = (Index("ix_sandbox_sms_to_id", "to", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(BigId, unique=True)
    to: Mapped[str] = mapped_column(String(11))
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(40))
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class SandboxProvisioning(Base):
    """What the sandbox network-provisioning system was told (deprovision / restore)."""

    __tablename__ = "sandbox_provisioning"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(BigId, unique=True)
    msisdn: Mapped[str] = mapped_column(String(11), index=True)
    action: Mapped[str] = mapped_column(String(20))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
