"""Shapes of retention (停机保号) and reactivation (复机) (API.md Part 2, "Lifecycle")."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field


class MinimumOut(BaseModel):
    contract_id: str
    kind: str
    amount_fen: int


class RetentionCheckOut(BaseModel):
    eligible: bool
    blockers: list[dict[str, Any]] = Field(
        description=(
            "Every blocker, as the cancellation check's: `code` (ARREARS, ABNORMAL_STATE, "
            "RETENTION_PREMIUM_TERM, RETENTION_FIRST_MONTH), `message`, `message_en`, "
            "`remedy` where there is one"
        )
    )
    fee_per_month_fen: int = Field(
        description="the retention fee plus the monthly minimum of every contract still charged"
    )
    minimums: list[MinimumOut] = []
    starts_on: dt.date = Field(description="first day of next month: the plan fee stops then")
    months_covered: int | None = Field(
        description=(
            "whole months the balance left after this month's charges pays at the monthly fee, "
            "capped by the policy's maximum; null: no fee and no maximum"
        )
    )


class RetainedOut(BaseModel):
    status: Literal["retained"] = "retained"
    starts_on: dt.date
    fee_per_month_fen: int
    months_covered: int | None


class RetentionView(BaseModel):
    """A retained line's retention, in the line's overview."""

    starts_on: dt.date
    fee_per_month_fen: int
    months_covered: int | None
    retained_on: dt.date | None = None


class ReactivatedOut(BaseModel):
    status: Literal["active"] = "active"
    paid_fen: int = Field(0, description="taken at the counter with the reactivation")
    payment_id: str | None = None
