"""Shapes of the work orders (API.md Part 2, "Cross-region work")."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from xiaohu.cancellation.schemas import CancellationOut


class WorkOrderRef(BaseModel):
    """What the store's 202 answer names: the order and its deadline."""

    id: str
    due_at: dt.datetime


class WorkOrderOut(BaseModel):
    id: str
    kind: Literal["fraud_stop", "lifetime_term", "cross_region"]
    reasons: list[str] = Field(description="every trigger that applied; `kind` is the first")
    msisdn: str
    home_province: str
    handling_province: str
    store_code: str
    cancellation_id: str
    opened_at: dt.datetime
    due_at: dt.datetime = Field(
        description="24:00 Asia/Shanghai of the second working day after the opening day"
    )
    status: Literal["open", "approved", "rejected"]
    overdue: bool
    decided_at: dt.datetime | None = None
    decided_by: str | None = None
    decision_reason: str | None = None


class WorkOrderListOut(BaseModel):
    work_orders: list[WorkOrderOut]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    reason: str = Field(min_length=1, max_length=500)


class DecisionOut(BaseModel):
    work_order: WorkOrderOut
    cancellation: CancellationOut
