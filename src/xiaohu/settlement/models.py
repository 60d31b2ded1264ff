"""A month's settlement between provinces: one row per period, written once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from xiaohu.kit.db import Base, Fen, UTCDateTime


class Settlement(Base):
    """The period's answer as it was given (`result`, the API's object, keys in order): a run
    of a settled period answers it again and posts nothing. The primary key makes two runs at
    once write one row; the loser answers the winner's."""

    __tablename__ = "settlements"

    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    settled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    gross_fen: Mapped[int] = mapped_column(Fen)
    method: Mapped[str] = mapped_column(String(8))  # exact | greedy
    optimal: Mapped[bool] = mapped_column(Boolean)
    transfer_count: Mapped[int]
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
