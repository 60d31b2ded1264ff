"""Stores (营业厅): where a person can go, and what each kind of store may do (policy
`store_kinds_allowed`). A store's cash drawer is a ledger account, `store_drawer:<code>`
(`ledger.rules.store_drawer`)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from xiaohu.kit.db import Base, UTCDateTime


class StoreKind(StrEnum):
    OWN_FLAGSHIP = "own_flagship"
    OWN_STANDARD = "own_standard"
    PARTNER = "partner"  # an agent's hall: sells, but by default may not cancel


class Store(Base):
    __tablename__ = "stores"
    __table_args__ = (Index("ix_stores_province_city", "province_code", "city"),)

    code: Mapped[str] = mapped_column(String(32), primary_key=True)  # e.g. 44-GZ-0001
    name: Mapped[str] = mapped_column(String(100))
    province_code: Mapped[str] = mapped_column(String(2))
    city: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
