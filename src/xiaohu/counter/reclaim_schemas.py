"""Shapes of the reclaim at a counter (API.md Part 2, "Lifecycle"). Apart from `schemas.py`
so the store channel's other additions of this release do not meet it there."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from xiaohu.counter.schemas import Documents


class ReclaimIn(BaseModel):
    """The former owner's documents (a proxy as for a cancellation) and how the reclaim fee is
    paid at the counter (policy `reclaim_fee_fen`; nothing is taken when it is 0)."""

    model_config = ConfigDict(extra="forbid")

    documents: Documents
    payment_method: Literal["cash", "card"] = "cash"


class ReclaimOut(BaseModel):
    msisdn: str
    status: str = Field(examples=["active"])
    status_reason: str = Field(examples=["reclaimed"])
    opened_on: dt.date
    home_province: str
    cancellation_id: str = Field(description="the cancellation the reclaim ends")
    reclaim_fee_fen: int
    payment_id: str | None = Field(None, description="the counter payment of the fee")
    payment_method: str | None = None
    store_code: str
    handling_province: str
    cross_region: bool
