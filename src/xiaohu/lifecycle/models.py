"""The warnings sent before an automatic cancellation: one row per offset, so never twice."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from xiaohu.kit.db import Base, UTCDateTime


class CancellationWarning(Base):
    """An SMS warning sent `days_before` the automatic cancellation of a line whose arrears
    clock started on `arrears_since` (a new arrears episode warns afresh)."""

    __tablename__ = "lifecycle_warnings"

    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), primary_key=True)
    arrears_since: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    days_before: Mapped[int] = mapped_column(primary_key=True)
    province_code: Mapped[str] = mapped_column(String(2))
    cancel_on: Mapped[dt.date] = mapped_column(Date)
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
