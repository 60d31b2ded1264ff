"""Owners, lines and what hangs off a line: bundles, family groups, pending orders, refund routes.

Every line-related row carries `province_code`, the home province: the natural shard key.
Cash and gift balances live on the line for fast reads; the ledger's subscriber sub-accounts
are the record of truth and a test keeps the two equal.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Boolean, Date, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xiaohu.kit.db import Base, BigId, Fen, UTCDateTime


class LineStatus(StrEnum):
    ACTIVE = "active"
    ARREARS_SUSPENDED = "arrears_suspended"
    RETAINED = "retained"
    LOST = "lost"
    FRAUD_STOP = "fraud_stop"
    JUDICIAL_FREEZE = "judicial_freeze"
    CANCELLED = "cancelled"  # last: every status before it may be imported


class IdType(StrEnum):
    RESIDENT_ID = "resident_id"
    PASSPORT = "passport"
    HK_MACAO_PERMIT = "hk_macao_permit"
    TAIWAN_PERMIT = "taiwan_permit"
    FOREIGN_PERMANENT_RESIDENT = "foreign_permanent_resident"


class BundleRole(StrEnum):
    ANCHOR = "anchor"  # the line the broadband hangs on
    MEMBER = "member"


class FamilyRole(StrEnum):
    PRIMARY = "primary"
    MEMBER = "member"


# The columns stay strings (the database and the JSON are unchanged); these are their values.
LINE_STATUSES = tuple(LineStatus)
IMPORTABLE_STATUSES = LINE_STATUSES[:-1]
ABNORMAL_STATUSES = (LineStatus.LOST, LineStatus.FRAUD_STOP, LineStatus.JUDICIAL_FREEZE)
ID_TYPES = tuple(IdType)


class Owner(Base):
    """A natural person under real-name registration. The ID number is stored encrypted and
    found through a keyed blind index; only its mask is ever shown."""

    __tablename__ = "owners"
    __table_args__ = (UniqueConstraint("id_type", "id_index"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    id_type: Mapped[str] = mapped_column(String(32))
    id_index: Mapped[str] = mapped_column(String(64))
    id_cipher: Mapped[bytes] = mapped_column(LargeBinary)
    id_masked: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Line(Base):
    __tablename__ = "lines"
    __table_args__ = (
        Index("ix_lines_owner_id", "owner_id"),
        Index("ix_lines_status_arrears_since", "status", "arrears_since"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    msisdn: Mapped[str] = mapped_column(String(11), unique=True)
    province_code: Mapped[str] = mapped_column(String(2))
    city: Mapped[str | None] = mapped_column(String(50))
    owner_id: Mapped[int] = mapped_column(ForeignKey("owners.id"))
    status: Mapped[str] = mapped_column(String(24))
    status_reason: Mapped[str | None] = mapped_column(String(64))
    status_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    opened_on: Mapped[dt.date | None] = mapped_column(Date)
    real_name_verified: Mapped[bool] = mapped_column(Boolean, default=True)
    plan_code: Mapped[str] = mapped_column(String(40))
    plan_name: Mapped[str] = mapped_column(String(100))
    plan_monthly_fee_fen: Mapped[int] = mapped_column(Fen)
    cash_fen: Mapped[int] = mapped_column(Fen, default=0)
    gift_fen: Mapped[int] = mapped_column(Fen, default=0)
    service_password_hash: Mapped[str | None] = mapped_column(String(200))
    bank_collection_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    # The lifecycle (DOMAIN.md "Retention and automatic cancellation"). `arrears_since`: the
    # day the arrears clock started (the suspension day of an arrears-suspended line; the day
    # an unpaid fee of a retained line went overdue); empty while nothing overdue is owed.
    # The automatic cancellation counts its calendar months from it.
    arrears_since: Mapped[dt.date | None] = mapped_column(Date)
    # Retention (停机保号): the day it was applied for, and the first day of the first cycle
    # billed the retention fee instead of the plan fee (the next cycle's first day).
    retained_on: Mapped[dt.date | None] = mapped_column(Date)
    retention_starts_on: Mapped[dt.date | None] = mapped_column(Date)
    # Optimistic check on top of the row lock: every change bumps it.
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Bundle(Base):
    """A converged (融合) broadband account anchored on one mobile line."""

    __tablename__ = "bundles"
    __table_args__ = (Index("ix_bundles_anchor_line_id", "anchor_line_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    province_code: Mapped[str] = mapped_column(String(2))
    broadband_account: Mapped[str | None] = mapped_column(String(40))
    anchor_line_id: Mapped[int | None] = mapped_column(ForeignKey("lines.id"))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | cancelled
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class BundleMember(Base):
    __tablename__ = "bundle_members"

    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), primary_key=True)
    bundle_id: Mapped[str] = mapped_column(ForeignKey("bundles.id"), index=True)
    province_code: Mapped[str] = mapped_column(String(2))
    role: Mapped[str] = mapped_column(String(10))  # BundleRole


class FamilyGroup(Base):
    __tablename__ = "family_groups"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    province_code: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(16), default="active")


class FamilyMember(Base):
    __tablename__ = "family_members"

    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), primary_key=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("family_groups.id"), index=True)
    province_code: Mapped[str] = mapped_column(String(2))
    role: Mapped[str] = mapped_column(String(10))  # FamilyRole


class PendingOrder(Base):
    __tablename__ = "pending_orders"
    __table_args__ = (UniqueConstraint("line_id", "order_ref"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    province_code: Mapped[str] = mapped_column(String(2))
    order_ref: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | cancelled | done


class PaymentRoute(Base):
    """Where the line's cash came from: the default ('original') refund route."""

    __tablename__ = "payment_routes"

    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), primary_key=True)
    province_code: Mapped[str] = mapped_column(String(2))
    kind: Mapped[str] = mapped_column(String(24))  # alipay | wechat | bank_card | cash | unionpay
    account: Mapped[str | None] = mapped_column(String(100))
