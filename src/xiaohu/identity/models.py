"""Sign-in state per line: the current one-time code, failures and the lock-out, and the
real-name mismatches at the cancellation."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from xiaohu.kit.db import Base, UTCDateTime


class SignInState(Base):
    __tablename__ = "sign_in_states"

    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), primary_key=True)
    province_code: Mapped[str] = mapped_column(String(2))
    otp_hash: Mapped[str | None] = mapped_column(String(64))
    otp_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    otp_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Wrong owner's name or ID number at the cancellation, counted in a window from the first.
    real_name_failures: Mapped[int] = mapped_column(default=0, server_default="0")
    real_name_window_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
