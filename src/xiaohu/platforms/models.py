"""Internet platforms that may ask the recycled-number check, each with its API key."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from xiaohu.kit.db import Base, UTCDateTime


class Platform(Base):
    """The key itself is shown once and never stored: only its keyed hash (`key_index`, found
    by equality) and its first characters (`key_hint`, for an operator telling keys apart)."""

    __tablename__ = "platforms"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_index: Mapped[str] = mapped_column(String(64), unique=True)
    key_hint: Mapped[str] = mapped_column(String(16))
    # Requests a minute; empty: the policy's `platform_requests_per_minute`.
    requests_per_minute: Mapped[int | None]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
