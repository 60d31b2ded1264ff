"""The receiving side's memory of the messages it has applied: a message applied twice (a
redelivery, a broker's at-least-once) finds its id here and changes nothing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from xiaohu.kit.db import Base, UTCDateTime


class AppliedMessage(Base):
    __tablename__ = "interprovince_applied"

    message_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(60))
    from_province: Mapped[str | None] = mapped_column(String(2))
    to_province: Mapped[str] = mapped_column(String(2), index=True)
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    applied_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
