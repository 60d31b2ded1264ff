"""Staff accounts: a role, a province, and for a clerk the store they work at. Passwords are
argon2id hashes; failed sign-ins are counted on the row and lock it out for a while (the
subscriber sign-in's policy values)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from xiaohu.kit.db import Base, BigId, UTCDateTime


class Role(StrEnum):
    CLERK = "clerk"  # at a store's counter: its own province's lines (this version)
    HOTLINE_AGENT = "hotline_agent"  # the call centre: acts for a caller who read back a code
    BACKOFFICE = "backoffice"  # the province's back office: work orders
    ADMIN = "admin"  # the operator's administrators: the admin routes


class StaffMember(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    login: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    province_code: Mapped[str] = mapped_column(String(2))
    store_code: Mapped[str | None] = mapped_column(ForeignKey("stores.code"))
    password_hash: Mapped[str] = mapped_column(String(200))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
