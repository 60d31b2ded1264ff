"""The settlement run in the sandbox (`xiaohu run settle` over HTTP)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from xiaohu.http import UnitOfWork
from xiaohu.kit.bounds import MAX_YEAR, MIN_YEAR, PERIOD_PATTERN
from xiaohu.kit.errors import error_responses
from xiaohu.settlement import service

router = APIRouter(prefix="/api/v1/sandbox", tags=["sandbox"])


class SettleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Checked by the run itself (PERIOD_INVALID, as the command answers).
    period: str = Field(
        max_length=7,
        description=f"YYYY-MM, years {MIN_YEAR} to {MAX_YEAR}",
        examples=["2026-10"],
        json_schema_extra={"pattern": PERIOD_PATTERN},
    )


@router.post(
    "/runs/settle",
    summary="Settle a month between provinces now (same as `xiaohu run settle`)",
    description=(
        "Nets the period's dues into the fewest transfers and posts the clearing to each "
        "province's books. A settled period answers the same object again and posts nothing."
    ),
    responses=error_responses(
        "PERIOD_INVALID", "PERIOD_NOT_ENDED", "VALIDATION_FAILED", "NODE_UNAVAILABLE"
    ),
)
def settle(body: SettleIn, ctx: UnitOfWork) -> dict[str, Any]:
    return service.settle(ctx, body.period)
