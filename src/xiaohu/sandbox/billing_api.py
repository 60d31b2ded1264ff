"""Sandbox runs and feeds for billing: close a cycle, add (late) usage to a line."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from xiaohu.billing.service import add_usage
from xiaohu.cancellation.cycle import run_close_cycle
from xiaohu.http import UnitOfWork, runtime_of
from xiaohu.kit.bounds import MAX_YEAR, MIN_YEAR, PERIOD_PATTERN, Instant, PositiveFen
from xiaohu.kit.errors import error_responses

router = APIRouter(prefix="/api/v1/sandbox", tags=["sandbox"])


class PeriodIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Checked by the run itself (PERIOD_INVALID, as the command answers); the pattern is
    # shown so clients see the range.
    period: str = Field(
        max_length=7,
        description=f"YYYY-MM, years {MIN_YEAR} to {MAX_YEAR}",
        examples=["2026-11"],
        json_schema_extra={"pattern": PERIOD_PATTERN},
    )


class UsageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    msisdn: str = Field(pattern=r"^1[0-9]{10}$")
    amount_fen: PositiveFen
    source: Literal["late", "network"] = "late"
    occurred_at: Instant | None = None


class UsageOut(BaseModel):
    id: int
    msisdn: str
    amount_fen: int
    source: str
    period: str | None
    occurred_at: dt.datetime


@router.post(
    "/runs/close-cycle",
    summary="Close a billing cycle now (same as `xiaohu run close-cycle`)",
    responses=error_responses("PERIOD_INVALID", "PERIOD_NOT_ENDED", "VALIDATION_FAILED"),
)
def close_cycle(body: PeriodIn, request: Request) -> dict[str, Any]:
    # No unit of work here: the run owns its transactions (one per batch).
    return run_close_cycle(runtime_of(request), body.period, show_progress=False)


@router.post(
    "/usage",
    status_code=201,
    response_model=UsageOut,
    summary="Feed rated usage to a line, e.g. roaming that arrives after the cancellation",
    responses=error_responses("LINE_NOT_FOUND", "VALIDATION_FAILED"),
)
def feed_usage(body: UsageIn, ctx: UnitOfWork) -> UsageOut:
    r = add_usage(
        ctx, body.msisdn, body.amount_fen, source=body.source, occurred_at=body.occurred_at
    )
    return UsageOut(
        id=r.id,
        msisdn=body.msisdn,
        amount_fen=r.amount_fen,
        source=r.source,
        period=r.period,
        occurred_at=r.occurred_at,
    )
