"""Contracts that hold a line: handset subsidy, premium-number minimum spend, converged."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xiaohu.kit.db import Base, BigId, Fen, UTCDateTime


class ContractKind(StrEnum):
    HANDSET = "handset"  # a subsidised handset: a penalty to end it early
    PREMIUM_NUMBER = "premium_number"  # a minimum spend for a chosen number
    CONVERGED = "converged"  # mobile with broadband


CONTRACT_KINDS = tuple(ContractKind)


class Contract(Base):
    __tablename__ = "contracts"
    __table_args__ = (UniqueConstraint("line_id", "contract_ref"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), index=True)
    province_code: Mapped[str] = mapped_column(String(2))
    contract_ref: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    starts_on: Mapped[dt.date | None] = mapped_column(Date)
    ends_on: Mapped[dt.date | None] = mapped_column(Date)  # None = lifetime (premium numbers)
    handset_list_price_fen: Mapped[int] = mapped_column(Fen, default=0)
    handset_promo_price_fen: Mapped[int] = mapped_column(Fen, default=0)
    gift_prestore_remaining_fen: Mapped[int] = mapped_column(Fen, default=0)
    monthly_minimum_fen: Mapped[int] = mapped_column(Fen, default=0)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | terminated
    penalty_fen: Mapped[int | None] = mapped_column(Fen)
    terminated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
