"""The number pool: a cancelled number rests in quarantine before it can be issued again."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from xiaohu.kit.db import Base, BigId, UTCDateTime


class NumberRecord(Base):
    __tablename__ = "numbers"
    __table_args__ = (Index("ix_numbers_status_quarantined_until", "status", "quarantined_until"),)

    msisdn: Mapped[str] = mapped_column(String(11), primary_key=True)
    province_code: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(16))  # quarantine | available
    former_line_id: Mapped[int | None] = mapped_column(BigId)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    quarantined_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
