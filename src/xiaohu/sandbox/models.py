"""Sandbox-only state: the test clock."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from xiaohu.kit.db import Base, UTCDateTime


class TestClockSetting(Base):
    __tablename__ = "sandbox_clock"
    __test__ = False  # not a pytest class

    name: Mapped[str] = mapped_column(String(16), primary_key=True, default="default")
    now: Mapped[dt.datetime] = mapped_column(UTCDateTime)
